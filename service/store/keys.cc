#include "service/store/keys.h"

#include <fmt/format.h>

#include <cmath>

namespace herald::store {
namespace {
constexpr uint32_t kBuckets = 65536;
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

std::string premise_field(std::string_view premise_id, std::string_view num) {
  std::string field;
  field.reserve(premise_id.size() + 1 + num.size());
  field.append(premise_id).append(1, ',').append(num);
  return field;
}

std::string premise_match(std::string_view premise_id) {
  std::string pattern;
  pattern.reserve(premise_id.size() + 2);
  for (char c : premise_id) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pattern.push_back('\\');
    pattern.push_back(c);
  }
  return pattern + ",*";
}

std::string record_key(uint64_t num) { return fmt::format("c:{{{:x}}}", num / kRecordsPerBucket); }

std::string record_field(uint64_t num) { return fmt::format("{}", num % kRecordsPerBucket); }

std::string feeder_key(std::string_view feeder, uint32_t slice) {
  return fmt::format("ix:f:{}:{}", feeder, slice);
}
std::string transformer_key(std::string_view transformer) {
  return fmt::format("ix:t:{}", transformer);
}
std::string zip_key(std::string_view zip, uint32_t slice) {
  return fmt::format("ix:z:{}:{}", zip, slice);
}

GeoCell geo_cell(double lat, double lon) {
  return {static_cast<int64_t>(std::floor((lon + 180.0) / kGeoCellDeg)),
          static_cast<int64_t>(std::floor((lat + 90.0) / kGeoCellDeg))};
}

namespace {

// Spreads the low 32 bits of v over the even bits of the result (Redis's interleave64).
uint64_t spread(uint32_t v) {
  uint64_t x = v;
  x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
  x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
  x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
  x = (x | (x << 2)) & 0x3333333333333333ULL;
  x = (x | (x << 1)) & 0x5555555555555555ULL;
  return x;
}

}  // namespace

uint64_t geo_score(double lon, double lat) {
  constexpr double kSteps = static_cast<double>(1ULL << 26);
  // The same arithmetic as Redis's geohashEncode, truncating to integers as it does.
  constexpr double kLat = 85.05112878;  // Redis's GEO_LAT_MAX
  const double lat_offset = (lat + kLat) / (2 * kLat) * kSteps;
  const double lon_offset = (lon + 180.0) / 360.0 * kSteps;
  return spread(static_cast<uint32_t>(lat_offset)) |
         (spread(static_cast<uint32_t>(lon_offset)) << 1);
}

std::string geo_text(double degrees) { return fmt::format("{:.7f}", degrees); }

std::string geo_cell_key(GeoCell cell) { return fmt::format("gc1:{}:{}", cell.x, cell.y); }

std::string geo_cell_key(double lat, double lon) { return geo_cell_key(geo_cell(lat, lon)); }

GeoBlock geo_block(GeoCell cell) { return {cell.x / kGeoBlockCells, cell.y / kGeoBlockCells}; }

std::string geo_block_key(GeoBlock block) { return fmt::format("gb1:{}:{}", block.bx, block.by); }

int64_t geo_block_member(GeoCell cell) {
  return (cell.x % kGeoBlockCells) * kGeoBlockCells + cell.y % kGeoBlockCells;
}

GeoCell geo_block_cell(GeoBlock block, int64_t member) {
  return {block.bx * kGeoBlockCells + member / kGeoBlockCells,
          block.by * kGeoBlockCells + member % kGeoBlockCells};
}

}  // namespace herald::store
