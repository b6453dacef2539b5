#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "service/common/result.h"
#include "service/redis/connection.h"

namespace herald::journey {

// Held for one sweep interval by the process whose turn it is (value: its consumer name).
constexpr std::string_view kSweepKey = "retention:sweep";

// Whether this process sweeps now: true for one caller per `interval` across all processes
// sharing Redis (and across a restart of this one), so N processes do not sweep N times, and
// a process started during a storm does not sweep again what was swept minutes before.
Result<bool> take_sweep_turn(redis::Connection& conn, const std::string& owner,
                             std::chrono::milliseconds interval);

// Trims every journey bucket (tjb:{…}), journey stream of an earlier release (tj:{…}) and
// search copy stream (te:{…}), in one pass over the key space, and the inbox to the entries
// written at or after `cutoff_ms`, deleting streams left empty. Report counters stay.
// Returns the number of entries removed.
Result<int64_t> trim_touchpoints(redis::Connection& conn, int64_t cutoff_ms);

}  // namespace herald::journey
