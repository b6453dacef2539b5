#include "service/store/keys.h"

#include <fmt/format.h>

namespace herald::store {
namespace {
constexpr uint32_t kBuckets = 65536;
constexpr uint64_t kRecordsPerBucket = 64;
}  // namespace

uint32_t fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string customer_id_key(std::string_view customer_id) {
  return fmt::format("cid:{{{:x}}}", fnv1a(customer_id) % kBuckets);
}

std::string premise_key(std::string_view premise_id) {
  return fmt::format("pm:{{{:x}}}", fnv1a(premise_id) % kBuckets);
}

std::string record_key(uint64_t num) { return fmt::format("c:{{{:x}}}", num / kRecordsPerBucket); }

std::string record_field(uint64_t num) { return fmt::format("{}", num % kRecordsPerBucket); }

std::string feeder_key(std::string_view feeder) { return fmt::format("ix:f:{}", feeder); }
std::string transformer_key(std::string_view transformer) {
  return fmt::format("ix:t:{}", transformer);
}
std::string zip_key(std::string_view zip) { return fmt::format("ix:z:{}", zip); }

}  // namespace herald::store
