#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "service/redis/reply.h"

namespace herald::store {

// The Redis settings Herald's data layout is sized for (docs/architecture.md, "Customers in
// Redis" and "Journeys and reports"): compact encodings for the bucketed hashes, index sets and GEO cells, and stream
// nodes small enough that a customer's journey (one stream each) does not cost a 4 KB node.
struct RedisSetting {
  std::string_view name;
  std::string_view value;
};
std::span<const RedisSetting> redis_settings();

// One CONFIG SET naming them all (heraldd sends it at start-up).
redis::Command config_set_command();
// The same settings as redis-server arguments ("--name", "value", ...).
std::vector<std::string> server_arguments();

}  // namespace herald::store
