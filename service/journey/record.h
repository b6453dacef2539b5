#pragma once

#include <cstdint>
#include <string>

#include "service/common/net.h"
#include "service/common/result.h"
#include "service/redis/pool.h"

namespace herald::journey {

// A PREFERENCE_CHANGE touchpoint: `detail` is what the customer now chose (the preferences as
// JSON), `by` who changed them ("customer", "admin"). Unknown customers are skipped.
awaitable<Status> record_preference_change(redis::Pool& pool, std::string customer_id,
                                           std::string detail, std::string by, int64_t now_ms);

}  // namespace herald::journey
