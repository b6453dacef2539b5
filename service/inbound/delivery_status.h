#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "herald/v1/common.pb.h"
#include "service/common/net.h"
#include "service/common/result.h"
#include "service/redis/pool.h"

// Provider delivery statuses merged per message, monotonically: a status is kept only when it
// ranks above the one held, and a final status is never replaced, so duplicates and any
// arrival order end in the same place.
//
//   ms:{<event>}        hash "<customer n>:<channel>:<revision>" -> "<rank>|<status>"
//   ms:{<notice id>}    hash "<channel>" -> "<rank>|<status>", expires after 30 days
//
// When a status advances to a final one, the event's funnel fn:{<event>} (fn:{} for notices)
// counts "<channel>:delivered" or "<channel>:undelivered" once, and every advance appends a
// DELIVERY touchpoint.
namespace herald::inbound {

// Rank of a Twilio MessageStatus / CallStatus or SendGrid event; 0 for statuses that do not
// take part (open, click, receiving...). Final statuses rank kFinalRank.
inline constexpr int kFinalRank = 5;
int status_rank(std::string_view status);
// "delivered" / "undelivered" for final statuses, empty otherwise.
std::string_view final_outcome(std::string_view status);

// What a message id names: an event message "<event>:<revision>:<CHANNEL>:<n>" or a notice
// "notice:<name>:<n>:<unique>" (its channel then comes from the callback).
struct MessageRef {
  std::string event_id;  // empty for a notice
  uint32_t revision = 0;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  uint64_t num = 0;
  std::string notice_id;  // set for a notice
};
std::optional<MessageRef> parse_message_id(std::string_view id);

struct StatusUpdate {
  MessageRef message;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;  // the callback's
  std::string status;                             // as the provider spells it, lower case
  std::string provider_id;                        // MessageSid, CallSid, sg_message_id
  std::string error_code;                         // provider's, may be empty
  int64_t at_ms = 0;
};

// One script run; true when the status advanced (and was counted and recorded).
awaitable<Result<bool>> merge_status(redis::Pool& pool, StatusUpdate update);

}  // namespace herald::inbound
