#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace herald::store {

// FNV-1a, 32 bits: stable across processes and releases (bucket keys depend on it).
uint32_t fnv1a(std::string_view s);

std::string customer_id_key(std::string_view customer_id);  // cid:{h}
std::string premise_key(std::string_view premise_id);       // pm:{h}
// Customer n at a premise is the field "<premise>,<n>" (value "") of the premise's hash, so
// adding and removing one is a plain HSET or HDEL; a premise's customers are the fields that
// premise_match() matches (HSCAN ... MATCH).
std::string premise_field(std::string_view premise_id, std::string_view num);
std::string premise_match(std::string_view premise_id);  // "<premise>,*", glob characters escaped
// A record bucket holds this many consecutive customer numbers.
inline constexpr uint64_t kRecordsPerBucket = 64;
std::string record_key(uint64_t num);                       // c:{n/64}
std::string record_field(uint64_t num);                     // n mod 64
// A feeder's or a ZIP's set of customer numbers is split in kIndexSlices sets: Redis reads an
// intset whole whatever SSCAN's COUNT says, and a read blocks every other client meanwhile, so
// no single read may cost a large ZIP's whole set. Numbers go to slices in runs of
// kIndexSliceRun: customers numbered one after another (an import numbers a file's lines in
// order, and a utility's file usually lists neighbours together) share a slice, so a batch
// adds to as few sets as before, and records read for one slice sit in few buckets. A
// transformer serves a few dozen customers and keeps one set. The scripts in
// store/scripts.cc compute the same slice.
inline constexpr uint32_t kIndexSlices = 16;
inline constexpr uint64_t kIndexSliceRun = 1024;
inline uint32_t index_slice(uint64_t num) {
  return static_cast<uint32_t>(num / kIndexSliceRun % kIndexSlices);
}
std::string feeder_key(std::string_view feeder, uint32_t slice);  // ix:f:<feeder>:<slice>
std::string transformer_key(std::string_view transformer);        // ix:t:<transformer>
std::string zip_key(std::string_view zip, uint32_t slice);        // ix:z:<zip>:<slice>
// Premise locations live in small GEO sets, one per cell of a fixed grid of kGeoCellDeg degrees
// (about 55 m north-south): a few dozen members each, so Redis keeps them listpack-encoded
// (about 25 bytes a member instead of over 100 in one big sorted set). Cells are grouped in
// blocks of kGeoBlockCells x kGeoBlockCells (0.02 degrees); each block has an intset of the
// cells ever used in it, so a search visits only those. A cell never changes meaning: another
// size would mean moving every entry (hence the "1" in the prefixes).
inline constexpr double kGeoCellDeg = 0.0005;
inline constexpr int64_t kGeoBlockCells = 40;
struct GeoCell {
  int64_t x = 0;  // floor((lon + 180) / kGeoCellDeg)
  int64_t y = 0;  // floor((lat + 90) / kGeoCellDeg)
};
GeoCell geo_cell(double lat, double lon);
std::string geo_cell_key(GeoCell cell);                // gc1:<x>:<y>
std::string geo_cell_key(double lat, double lon);
struct GeoBlock {
  int64_t bx = 0;  // cell x / kGeoBlockCells
  int64_t by = 0;
};
GeoBlock geo_block(GeoCell cell);
std::string geo_block_key(GeoBlock block);             // gb1:<bx>:<by>
// The cell's member in its block's set: (x mod 40) * 40 + (y mod 40).
int64_t geo_block_member(GeoCell cell);
GeoCell geo_block_cell(GeoBlock block, int64_t member);  // the reverse
// The score GEOADD gives a member at lon, lat: Redis's 52-bit geohash (26 steps, latitude bits
// even, longitude bits odd), so that a ZADD with it is a GEOADD that Redis need not compute.
// lon, lat as Redis would read them from the text the scripts send (geo_text); latitudes within
// Redis's range (core::kMaxLatitude).
uint64_t geo_score(double lon, double lat);
// A location as the scripts send it to GEOADD: seven decimals.
std::string geo_text(double degrees);
inline constexpr std::string_view kCustomerSeqKey = "seq:customer";

}  // namespace herald::store
