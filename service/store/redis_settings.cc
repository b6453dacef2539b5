#include "service/store/redis_settings.h"

#include <array>

namespace herald::store {

std::span<const RedisSetting> redis_settings() {
  static constexpr std::array<RedisSetting, 5> kSettings{{
      // A record bucket holds 64 customers and a premise hash a few dozen: both stay listpacks.
      {"hash-max-listpack-entries", "256"},
      {"hash-max-listpack-value", "1024"},
      // An index slice of numbers stays an intset however large a ZIP or feeder grows.
      {"set-max-intset-entries", "1000000"},
      // A GEO cell of up to 512 premises stays a listpack.
      {"zset-max-listpack-entries", "512"},
      // Redis 7.0 allocates a new stream node at this size: with the default 4096 a journey
      // holding one decision took 4.7 KB; at 1024 it takes 1.7 KB and fits a typical journey
      // (decision, send, delivery) in one node. Busy streams (dispatch queues) get more nodes.
      {"stream-node-max-bytes", "1024"},
  }};
  return kSettings;
}

redis::Command config_set_command() {
  redis::Command c{"CONFIG", "SET"};
  for (const RedisSetting& s : redis_settings()) {
    c.emplace_back(s.name);
    c.emplace_back(s.value);
  }
  return c;
}

std::vector<std::string> server_arguments() {
  std::vector<std::string> args;
  for (const RedisSetting& s : redis_settings()) {
    args.push_back("--" + std::string(s.name));
    args.emplace_back(s.value);
  }
  return args;
}

}  // namespace herald::store
