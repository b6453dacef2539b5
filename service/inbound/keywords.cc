#include "service/inbound/keywords.h"

#include <fmt/format.h>

#include <array>

namespace herald::inbound {
namespace {

std::string normalise(std::string_view body) {
  std::string out;
  bool space = false;
  for (const char ch : body) {
    if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 'a' + 'A') : ch);
  }
  while (!out.empty() && (out.back() == '.' || out.back() == '!')) out.pop_back();
  return out;
}

struct Word {
  std::string_view text;
  Keyword keyword;
  v1::EventKind kind = v1::EVENT_KIND_UNSPECIFIED;
};

constexpr std::array<Word, 19> kWords = {{
    {"STOP", Keyword::kStop},
    {"STOPALL", Keyword::kStop},
    {"UNSUBSCRIBE", Keyword::kStop},
    {"CANCEL", Keyword::kStop},
    {"END", Keyword::kStop},
    {"QUIT", Keyword::kStop},
    {"START", Keyword::kStart},
    {"UNSTOP", Keyword::kStart},
    {"YES", Keyword::kStart},
    {"HELP", Keyword::kHelp},
    {"INFO", Keyword::kHelp},
    {"STATUS", Keyword::kStatus},
    {"OUT", Keyword::kOut},
    {"CALL", Keyword::kCall},
    {"CANCEL CALL", Keyword::kCancelCall},
    {"CANCEL CALLBACK", Keyword::kCancelCall},
    {"STOP OUTAGE", Keyword::kStopKind, v1::OUTAGE},
    {"STOP MAINTENANCE", Keyword::kStopKind, v1::PLANNED_MAINTENANCE},
    {"STOP WATER", Keyword::kStopKind, v1::BOIL_WATER_ADVISORY},
}};

}  // namespace

std::string stop_kind_key(v1::EventKind kind) {
  return fmt::format("stop:sms:{}", v1::EventKind_Name(kind));
}

Parsed parse_keyword(std::string_view body) {
  Parsed p;
  const std::string text = normalise(body);
  if (text.size() == 1 && text[0] >= '1' && text[0] <= '5') {
    p.keyword = Keyword::kSurvey;
    p.score = text[0] - '0';
  }
  for (const auto& w : kWords) {
    if (text == w.text) {
      p.keyword = w.keyword;
      p.kind = w.kind;
    }
  }
  if (p.keyword != Keyword::kText) p.word = text;
  return p;
}

}  // namespace herald::inbound
