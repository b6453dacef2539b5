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
#include "service/redis/reply.h"
#include "service/store/touchpoints.h"

// What the planner records in Redis besides the messages: each customer's history per event
// and channel, decision touchpoints, and the keys they live under.
namespace herald::fanout {

std::string history_key(std::string_view event_id);  // hist:{id}, field "<n>:<channel>"
std::string history_field(uint64_t num, v1::Channel ch);

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
