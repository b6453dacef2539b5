#pragma once

#include <cstdint>
#include <string>

#include "service/common/net.h"
#include "service/common/result.h"
#include "service/redis/pool.h"

namespace herald::journey {

// A PREFERENCE_CHANGE touchpoint: `detail` is what the customer now chose (the preferences as
// JSON), `by` who changed them ("customer", "admin"); num: the customer's number (0: skipped).
awaitable<Status> record_preference_change(redis::Pool& pool, uint64_t num, std::string detail,
                                           std::string by, int64_t now_ms);

}  // namespace herald::journey
