#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "herald/v1/common.pb.h"
#include "herald/v1/message.pb.h"
#include "service/common/result.h"
#include "service/redis/connection.h"
#include "service/redis/reply.h"

namespace herald::dispatch {

// Every channel a dispatch stream exists for, and the priorities in the order they are served.
inline constexpr v1::Channel kChannels[] = {v1::SMS, v1::EMAIL, v1::VOICE, v1::WEBHOOK};
inline constexpr v1::Priority kPriorities[] = {v1::PRIORITY_EMERGENCY, v1::PRIORITY_MEDICAL,
                                               v1::PRIORITY_NORMAL};
inline constexpr std::string_view kGroup = "dispatch";  // one consumer group per stream
inline constexpr std::string_view kField = "m";         // the entry field holding the message

// "dq:<channel>:<priority number>"; an unspecified priority is served as NORMAL.
std::string stream_key(v1::Channel channel, v1::Priority priority);

// "fn:{<event id>}": the event's funnel counters, fields "<channel>:<outcome>".
std::string funnel_key(std::string_view event_id);

// XADD of one message to its stream, for a planner to put inside its own MULTI/EXEC.
redis::Command enqueue_command(const v1::OutboundMessage& msg);

// One stream entry taken by a consumer; it stays pending in the group until acked.
struct Entry {
  std::string stream;  // the stream key
  std::string id;      // the stream entry id
  v1::OutboundMessage message;
  bool valid = false;  // false when the entry held no parsable message
};

// XACK and XDEL of one entry.
redis::Batch ack_commands(const Entry& entry);

// Acks and deletes the entry and, only if it was still pending, counts "<channel>:<outcome>"
// in the event's funnel: one script, so the count and the ack never disagree.
redis::Command settle_command(const Entry& entry, std::string_view outcome);

// The dispatch streams over one blocking connection: for dispatcher threads, tools and tests,
// never for I/O threads. A Redis error reply or a lost connection is an Error.
class DispatchQueue {
 public:
  explicit DispatchQueue(redis::Connection conn) : conn_(std::move(conn)) {}

  Status enqueue(const v1::OutboundMessage& msg);

  // Creates the groups of every stream (of one channel, or all) reading from the start, so
  // entries queued before the first dispatcher ran are delivered too. Existing groups stay.
  Status ensure_groups();
  Status ensure_groups(v1::Channel channel);

  // Up to `max` new entries, EMERGENCY first: a lower priority is read only once every higher
  // one has no new entries. When all are empty, blocks up to `block` (0: never blocks) for any.
  // `block` must stay below the connection's timeout.
  Result<std::vector<Entry>> read(const std::string& consumer, v1::Channel channel, size_t max,
                                  std::chrono::milliseconds block);

  // Takes over up to `max` entries pending longer than `min_idle` with any consumer of the
  // channel's group (a dead one's, or entries left pending for a retry), EMERGENCY first.
  Result<std::vector<Entry>> claim_idle(const std::string& consumer, v1::Channel channel,
                                        std::chrono::milliseconds min_idle, size_t max);

  // Acks and deletes the entry, so a stream only ever holds undelivered work.
  Status ack(const Entry& entry);

  // Entries of the channel taken by a consumer but not acked, over all priorities.
  Result<long long> pending(v1::Channel channel);

  redis::Connection& connection() { return conn_; }

 private:
  Result<redis::Reply> run(const redis::Command& cmd);
  redis::Connection conn_;
};

// Parses the stream part of an XREADGROUP / XAUTOCLAIM reply: [[id, [field, value, ...]], ...].
void append_entries(const std::string& stream, const redis::Reply& list, std::vector<Entry>& out);

}  // namespace herald::dispatch
