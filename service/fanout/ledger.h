#pragma once

#include <google/protobuf/arena.h>

#include <optional>
#include <string>
#include <string_view>

#include "herald/v1/customer.pb.h"
#include "herald/v1/event.pb.h"
#include "service/common/result.h"
#include "service/core/crypto.h"
#include "service/fanout/decide.h"
#include "service/redis/connection.h"
#include "service/redis/reply.h"
#include "service/store/touchpoints.h"

// What the planner records in Redis besides the messages: each customer's history per event
// and channel, decision touchpoints, and the keys they live under.
namespace herald::fanout {

// A customer's marks for an event live in the hash of its number's bucket, hist:{id}:<n/32>,
// field "<n>:<channel>". At most 96 fields (32 customers, three channels): Redis keeps such a
// hash as a compact listpack, where one hash for the whole event grew into a hash table of a
// million fields in a storm. An earlier release wrote that one hash, hist:{id}
// (legacy_history_key, same fields); it is still read, never written.
inline constexpr uint64_t kHistoryBucket = 32;
// The channels a history read asks for, in this order for every customer.
inline constexpr v1::Channel kHistoryChannels[] = {v1::SMS, v1::EMAIL, v1::VOICE};
std::string history_key(std::string_view event_id, uint64_t num);
std::string legacy_history_key(std::string_view event_id);
std::string history_field(uint64_t num, v1::Channel ch);
// The daily-cap counters of a local day (YYYY-MM-DD): caps:<day>, a string holding one unsigned
// byte per customer number (byte n), counted with one saturating BITFIELD INCRBY per chunk and
// read with one BITFIELD_RO GET per batch, where a hash field cost a command per customer.
std::string cap_key(std::string_view day);
// Customer `num`'s counter in a BITFIELD of cap_key: "u8" at "#<num>" (`num` as text).
inline constexpr std::string_view kCapType = "u8";
std::string cap_offset(std::string_view num);
// Earlier releases kept the counts in hashes, field "<n>": cap:<day>:<n/64> (bucket_cap_key)
// and before that cap:<day> (legacy_cap_key). Both are read and added to a day's counts
// while that day may hold counts they wrote (legacy_caps_until), never written.
inline constexpr uint64_t kCapBucket = 64;
std::string bucket_cap_key(std::string_view day, uint64_t num);
std::string legacy_cap_key(std::string_view day);
// How long a day's counters are kept: past the end of the customer's day in any time zone.
inline constexpr std::string_view kCapTtlSeconds = "172800";
// Since when caps:<day> counts: the UTC day the first planner that writes them started, or
// "none" when no counter hash existed then (a new installation).
inline constexpr std::string_view kCapsSinceKey = "caps:since";
// The last local day whose counts may be in the hashes of earlier releases ("" for none):
// the day after kCapsSinceKey's, as a customer's day runs up to 14 hours ahead of UTC. Sets
// kCapsSinceKey first if it is missing, looking for counter hashes with a SCAN (once per
// installation, a bounded walk of the keyspace).
Result<std::string> legacy_caps_until(redis::Connection& conn, Time now);

// Appends customer `num`'s field of each of kHistoryChannels to an HMGET.
void add_history_fields(redis::Command& hmget, uint64_t num);
// HMGET of `key` for customer `num`'s marks (kHistoryChannels' order).
redis::Command history_read(std::string key, uint64_t num);
// The mark at `index` of an HMGET reply (none when it has none there).
History history_in(const redis::Reply& hmget, size_t index);
// The later of a customer's marks in its bucket and in the legacy hash.
History later_mark(History bucket, History legacy);

// History as "revision|stage|severity|etr|window start|window end" (seconds; 0 for none).
std::string encode_history_text(const History& h);
History decode_history_text(std::string_view text);

// A Redis error reply as an Error.
Result<redis::Reply> check_reply(Result<redis::Reply> r);

// The customer of a record reply, contact details opened; nullopt for an erased customer.
std::optional<v1::Customer> customer_from(const redis::Reply& r, const core::Sealer& sealer);
// The same on `arena` (nullptr for an erased customer): a batch's customers are freed at once.
v1::Customer* customer_from(const redis::Reply& r, const core::Sealer& sealer,
                            google::protobuf::Arena& arena);

// Adds one decision touchpoint to a batch of the transaction's touchpoints (its counters go
// to `tx` now; the caller flushes the batch into `tx`).
void add_touchpoint(redis::Batch& tx, store::TouchpointBatch& tps, uint64_t num,
                    const v1::Customer& c, const v1::Event& e, v1::Channel ch, const char* status,
                    const Decision& d, std::string detail, Time now);

}  // namespace herald::fanout
