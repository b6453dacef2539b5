#pragma once

#include <cstdint>
#include <string>

#include "service/redis/reply.h"

namespace herald::journey {

// The writes of a PREFERENCE_CHANGE touchpoint: `detail` is what the customer now chose (the
// preferences as JSON), `by` who changed them ("customer", "admin"); num: the customer's
// number. The caller runs them with the change itself (CustomerStore::update's `then`).
void append_preference_change(redis::Batch& out, uint64_t num, std::string detail,
                              std::string by, int64_t now_ms);

}  // namespace herald::journey
