#pragma once

#include <cstdint>
#include <string>

#include "herald/v1/touchpoint.pb.h"
#include "service/redis/reply.h"

// Every touchpoint of a customer's journey is written through here, whoever records it
// (planner decisions, dispatcher attempts, delivery receipts, replies, callbacks), so the
// journey's storage layout lives in one place.
namespace herald::store {

// tp:{n/64}: a stream shared by 64 customers; entries c=<customer number>, t=Touchpoint bytes.
std::string touchpoint_key(uint64_t num);

// Appends the commands recording one touchpoint of customer `num` (and any index the journey
// and report reads keep beside it) to a caller's pipeline or MULTI/EXEC.
void append_touchpoint(redis::Batch& out, uint64_t num, const v1::Touchpoint& tp);

}  // namespace herald::store
