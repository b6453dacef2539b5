#pragma once

#include <chrono>
#include <map>
#include <span>
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
inline constexpr std::string_view kField = "m";         // an entry field holding one message
// Messages the planner and the retry mover put in one stream entry, each in a field `m`.
inline constexpr size_t kMessagesPerEntry = 16;

// "dq:<channel>:<priority number>"; an unspecified priority is served as NORMAL.
std::string stream_key(v1::Channel channel, v1::Priority priority);

// "fn:{<event id>}": the event's funnel counters, fields "<channel>:<outcome>".
std::string funnel_key(std::string_view event_id);

// XADD of one message to its stream, an entry of its own, for a caller's own MULTI/EXEC.
redis::Command enqueue_command(const v1::OutboundMessage& msg);

// Many messages' XADDs, up to kMessagesPerEntry messages to an entry of their stream: one
// command's cost in Redis for up to sixteen messages (docs/architecture.md).
class EntryBatch {
 public:
  void add(const v1::OutboundMessage& msg);
  // Appends the XADDs and empties the batch.
  void flush(redis::Batch& out);
  bool empty() const { return by_stream_.empty(); }

 private:
  std::map<std::string, std::vector<std::string>> by_stream_;  // stream -> message bytes
};

// One message of a stream entry taken by a consumer. The entry stays pending in the group
// until acked; every message of an entry is an Entry with the same stream and id.
struct Entry {
  std::string stream;  // the stream key
  std::string id;      // the stream entry id
  v1::OutboundMessage message;
  bool valid = false;  // false when this part of the entry is no parsable message
  size_t parts = 1;    // messages (fields `m`) in the stream entry, this one included
};

// XACK and XDEL of one entry: with every part of it.
redis::Batch ack_commands(const Entry& entry);

// A message put back for later: ZADD <key> <score> <member> (a retry set, see retry.h).
struct Reschedule {
  std::string key;
  int64_t due_ms = 0;
  std::string member;
};

// One entry's settlement: see settle_command.
struct Settlement {
  const Entry* entry = nullptr;
  std::string_view outcome;           // funnel field "<channel>:<outcome>"; empty: none
  const Reschedule* later = nullptr;  // scheduled again, if set
};

// Acks and deletes each entry and, only if it was still pending, counts "<channel>:<outcome>"
// in the event's funnel and schedules `later`: one script for a whole round (its call costs
// Redis more than the commands inside), so the count, the retry and the ack never disagree
// when two consumers settle one entry. An entry's parts are acked once, together: a round
// settles all parts of the entries it took, in one call. Replies with one 1 (settled here) or
// 0 per settlement.
redis::Command settle_command(std::span<const Settlement> settlements);

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

  // Up to `max` new messages (whole entries, so up to kMessagesPerEntry - 1 more when `max` is
  // small), EMERGENCY first: a lower priority is read only once every higher one has no new
  // entries. When all are empty, blocks up to `block` (0: never blocks) for any. `block` must
  // stay below the connection's timeout.
  Result<std::vector<Entry>> read(const std::string& consumer, v1::Channel channel, size_t max,
                                  std::chrono::milliseconds block);

  // Takes over up to `max` messages of entries pending longer than `min_idle` with any consumer
  // of the channel's group (a dead one's, or entries left pending for a retry), EMERGENCY first.
  Result<std::vector<Entry>> claim_idle(const std::string& consumer, v1::Channel channel,
                                        std::chrono::milliseconds min_idle, size_t max);

  // Up to `max` messages, priority by priority (EMERGENCY first); within one, entries idle
  // longer than `min_idle` (when claiming) before new ones. Never blocks.
  Result<std::vector<Entry>> take(const std::string& consumer, v1::Channel channel, size_t max,
                                  bool claim, std::chrono::milliseconds min_idle);

  // Waits up to `block` for an entry added to any of the channel's streams, taking nothing.
  Status wait_for_new(v1::Channel channel, std::chrono::milliseconds block);

  // Deletes the group's consumers of the channel that hold no pending entry and have not read
  // for `idle`: checked and deleted in one script, so no pending entry goes with a consumer.
  Result<long long> prune_consumers(v1::Channel channel, std::chrono::milliseconds idle);

  // Acks and deletes the entry, so a stream only ever holds undelivered work.
  Status ack(const Entry& entry);

  // Stream entries of the channel taken by a consumer but not acked, over all priorities.
  Result<long long> pending(v1::Channel channel);

  redis::Connection& connection() { return conn_; }

 private:
  Result<redis::Reply> run(const redis::Command& cmd);
  Status claim_into(const std::string& key, const std::string& consumer,
                    std::chrono::milliseconds min_idle, size_t max, std::vector<Entry>& out);
  Status read_into(const std::string& key, const std::string& consumer, size_t max,
                   std::vector<Entry>& out);
  // Redis counts entries, a round messages. A stream's entry size is the largest entry its last
  // read returned (kMessagesPerEntry before any): a read asks for as many entries as hold the
  // messages still wanted at that size, and is made only while at least one such entry is
  // wanted, or nothing was taken yet.
  size_t entry_size(const std::string& key);
  size_t entries_for(const std::string& key, size_t wanted);
  bool wants_more(const std::string& key, size_t max, size_t have);
  void learn(const std::string& key, size_t largest);

  redis::Connection conn_;
  std::map<std::string, size_t> entry_size_;  // stream -> messages in its last read's largest entry
};

// Parses the stream part of an XREADGROUP / XAUTOCLAIM reply: [[id, [field, value, ...]], ...],
// one Entry per message. Returns how many stream entries it read.
size_t append_entries(const std::string& stream, const redis::Reply& list, std::vector<Entry>& out);

}  // namespace herald::dispatch
