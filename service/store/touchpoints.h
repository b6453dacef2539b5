#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "herald/v1/touchpoint.pb.h"
#include "service/common/net.h"
#include "service/common/result.h"
#include "service/redis/pool.h"
#include "service/redis/reply.h"

// Every touchpoint of a customer's journey is written through here, whoever records it
// (planner decisions, dispatcher attempts, delivery receipts, replies, callbacks), so the
// journey's storage layout lives in one place (docs/architecture.md, "Journeys and reports").
namespace herald::store {

// Journeys are kept 16 customers to a stream: an entry holds the touchpoints of one or more of
// its customers, each customer's group `n` (the customer number) then `t` once per touchpoint;
// an entry of several groups starts with `g` (their count), which releases that took an entry
// for its first `n`'s skip. A stream a customer would have had alone cost Redis a key and a
// 1 KB node for every customer a fan-out reached.
inline constexpr uint64_t kJourneyBucket = 16;
std::string journey_key(uint64_t num);         // tjb:{n/16}: the journeys of customer n's bucket
std::string legacy_journey_key(uint64_t num);  // tj:{n}: a journey written by earlier releases
std::string event_touchpoints_key(std::string_view event_id);  // te:{e}; te:{-} without event
std::string report_key(std::string_view event_id);      // rp:{e}: report counters
std::string delivered_bits_key(std::string_view event_id);  // rpd:{e}: customers delivered to
std::string time_to_notify_key(std::string_view event_id);  // ttn:{e}: first-delivery seconds
std::string last_event_key(uint64_t num);               // tl:{n/64}: latest messaged event
inline constexpr std::string_view kTouchedEventsKey = "tpev";
inline constexpr std::string_view kNoEvent = "-";
inline constexpr std::string_view kComplaintsKey = "cmp";  // complaint id -> Complaint

// "sms", "email", ... as the funnel names channels.
std::string channel_name(int channel);

// True for the STOP family ("STOP", "STOP OUTAGE", "stopall", "UNSUBSCRIBE", ...).
bool is_opt_out(std::string_view keyword);

// Appends the commands recording one touchpoint of customer `num` (its journey entry, its
// copy for search, the event's touched mark and the report counters it moves) to a caller's
// pipeline or MULTI/EXEC: a TouchpointBatch of one.
void append_touchpoint(redis::Batch& out, uint64_t num, const v1::Touchpoint& tp);

// For writers of many touchpoints at once (the planner's batch, the dispatcher's round): the
// counters go to the caller's commands at add(), and flush() writes one entry per journey
// bucket holding all its customers' touchpoints and each event's search copies as entries of
// up to kPerEntry touchpoints, then marks each event touched and writes the customers'
// latest-event marks, one HSET per bucket: a few commands per batch instead of three per sent
// message. Readers number the touchpoints of an entry (journey/stream_id.h).
class TouchpointBatch {
 public:
  static constexpr size_t kPerEntry = 100;
  void add(redis::Batch& out, uint64_t num, const v1::Touchpoint& tp);
  void flush(redis::Batch& out);

 private:
  struct Copies {
    int64_t at_ms = 0;
    std::vector<std::pair<uint64_t, std::string>> items;  // customer number, touchpoint bytes
  };
  void flush_last_events(redis::Batch& out);

  std::map<uint64_t, std::vector<std::string>> journeys_;
  std::map<std::string, Copies> events_;
  std::map<std::string, redis::Command> last_events_;  // tl:{n/64} key -> its HSET
};

// Customer `num`'s touchpoint bytes in an XRANGE/XREVRANGE reply of its journey stream, in
// the reply's order: its own entries of a bucket, every entry of a legacy stream (`legacy`).
std::vector<std::string> touchpoints_in(const redis::Reply& range, uint64_t num, bool legacy);

// Erasure: the customer's journey entries (and a legacy stream) and its latest-event field go, the
// text of the customer's complaints is removed; the search copies (which never held the id or free
// text) stay, anonymous.
awaitable<Status> erase_touchpoints(redis::Pool& pool, uint64_t num);

}  // namespace herald::store
