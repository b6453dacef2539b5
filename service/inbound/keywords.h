#pragma once

#include <string>
#include <string_view>

#include "herald/v1/common.pb.h"

// What an inbound SMS asks for. Case, surrounding whitespace, runs of inner whitespace and
// trailing '.' or '!' do not matter; anything else makes the message free text.
namespace herald::inbound {

enum class Keyword {
  kStop,      // STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT: all SMS off
  kStart,     // START, UNSTOP, YES: all SMS back on, scoped stops included
  kHelp,      // HELP, INFO
  kStopKind,  // STOP OUTAGE / STOP MAINTENANCE / STOP WATER: SMS off for one kind of event
  kStatus,    // STATUS
  kOut,       // OUT: my power is out (or still out after a restoration)
  kCall,      // CALL: please call me back
  kCancelCall,  // CANCEL CALL, CANCEL CALLBACK: drop my open callback (CANCEL alone is a STOP)
  kSurvey,    // 1..5: the post-restoration survey answer
  kText,      // anything else
};

struct Parsed {
  Keyword keyword = Keyword::kText;
  std::string word;  // the normalised keyword ("STOP OUTAGE", "3"); empty for free text
  v1::EventKind kind = v1::EVENT_KIND_UNSPECIFIED;  // kStopKind only
  int score = 0;                                    // kSurvey only
};

Parsed parse_keyword(std::string_view body);

// The set the planner reads for a scoped STOP: "stop:sms:OUTAGE" and the like.
std::string stop_kind_key(v1::EventKind kind);
inline constexpr std::string_view kStopAllKey = "stop:sms";

}  // namespace herald::inbound
