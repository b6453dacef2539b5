#pragma once

#include <cstdint>

#include "service/common/result.h"
#include "service/redis/connection.h"

namespace herald::journey {

// Trims every journey (tj:*) and search copy stream (te:*) and the inbox to the entries
// written at or after `cutoff_ms`, deleting streams left empty. Report counters stay.
// Returns the number of entries removed.
Result<int64_t> trim_touchpoints(redis::Connection& conn, int64_t cutoff_ms);

}  // namespace herald::journey
