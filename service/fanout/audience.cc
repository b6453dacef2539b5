#include "service/fanout/audience.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <ranges>
#include <unordered_map>
#include <unordered_set>

#include "service/store/keys.h"

namespace herald::fanout {
namespace {

constexpr size_t kPremisesPerPage = 500;
constexpr const char* kScanCount = "500";
// An intset is answered by SSCAN in one reply whatever COUNT says; past this size it is read
// in MATCH partitions on the last digits, each about this large or smaller.
constexpr long long kWholeSetLimit = 20000;
constexpr int kMaxDigits = 6;
constexpr double kTopTileDeg = 0.02;  // about 2 km: a city block grid, refined where dense
constexpr size_t kLeafMax = 4000;     // more members than this and a tile is split in four
constexpr size_t kMaxDepth = 16;

// The area a premise found inside `box` may be stored under: Redis keeps positions to within a
// metre of what was stored, so the box is widened by about 10 m.
struct CellRange {
  store::GeoCell lo, hi;
  bool holds(store::GeoCell c) const {
    return c.x >= lo.x && c.x <= hi.x && c.y >= lo.y && c.y <= hi.y;
  }
};
CellRange cells_of(const Box& box) {
  constexpr double kMarginDeg = 0.0001;
  return {store::geo_cell(box.min_lat - kMarginDeg, box.min_lon - kMarginDeg),
          store::geo_cell(box.max_lat + kMarginDeg, box.max_lon + kMarginDeg)};
}

Error redis_error(const redis::Reply& r) {
  return make_error(ErrorCode::kUnavailable, "redis: " + r.str);
}

template <class Num>
bool parse_num(std::string_view s, Num& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

std::vector<GeoPoint> to_points(const google::protobuf::RepeatedPtrField<v1::LatLon>& ring) {
  std::vector<GeoPoint> out;
  out.reserve(ring.size());
  for (const auto& p : ring) out.push_back(GeoPoint{p.lat(), p.lon()});
  return out;
}

bool has_circle(const v1::Area& area) { return area.has_circle() && area.circle().radius_m() > 0; }

GeoPoint circle_center(const v1::Area& area) {
  return GeoPoint{area.circle().center().lat(), area.circle().center().lon()};
}

bool listed(const google::protobuf::RepeatedPtrField<std::string>& list, const std::string& v) {
  return !v.empty() && std::find(list.begin(), list.end(), v) != list.end();
}

int partitions(int digits) {
  int tens = 1;
  for (int i = 0; i < digits; ++i) tens *= 10;
  return digits == 0 ? 1 : tens + digits - 1;  // "*dd" for each suffix, "?"… for shorter numbers
}

std::string partition_pattern(int digits, int part) {
  int tens = 1;
  for (int i = 0; i < digits; ++i) tens *= 10;
  if (part < tens) return fmt::format("*{:0{}}", part, digits);
  return std::string(static_cast<size_t>(part - tens + 1), '?');
}

// The next quadtree leaf in depth-first order; "" with `tile_done` when the tile is finished.
std::string next_path(std::string path, bool& tile_done) {
  while (!path.empty() && path.back() == '3') path.pop_back();
  tile_done = path.empty();
  if (!tile_done) ++path.back();
  return path;
}

}  // namespace

std::vector<int> premises_in_area(const v1::Customer& customer, const v1::Area& area) {
  const std::vector<GeoPoint> ring = to_points(area.polygon());
  std::vector<int> out;
  for (int k = 0; k < customer.premises_size(); ++k) {
    const v1::Premise& p = customer.premises(k);
    const GeoPoint at{p.location().lat(), p.location().lon()};
    const bool geo =
        p.has_location() &&
        (in_polygon(at, ring) ||
         (has_circle(area) && in_circle(at, circle_center(area), area.circle().radius_m())));
    if (geo || listed(area.premises(), p.id()) || listed(area.feeders(), p.feeder()) ||
        listed(area.transformers(), p.transformer()) || listed(area.zips(), p.zip())) {
      out.push_back(k);
    }
  }
  return out;
}

size_t geo_tiles(const v1::Area& area) {
  size_t tiles = 0;
  const std::vector<GeoPoint> ring = to_points(area.polygon());
  if (ring.size() >= 3) {
    tiles += static_cast<size_t>(make_grid(bounding_box(ring), kTopTileDeg).size());
  }
  if (has_circle(area)) {
    const Box box = circle_box(circle_center(area), area.circle().radius_m());
    tiles += static_cast<size_t>(make_grid(box, kTopTileDeg).size());
  }
  return tiles;
}

AudienceReader::AudienceReader(redis::Connection& redis, v1::Area area, AudienceCursor start,
                               AudiencePart part)
    : redis_(redis),
      area_(std::move(area)),
      cursor_(std::move(start)),
      part_(part),
      polygon_(to_points(area_.polygon())) {}

Result<std::vector<Recipient>> AudienceReader::next(size_t max) {
  max = std::max<size_t>(max, 1);
  const std::string start = cursor_.encode();
  std::vector<Recipient> out;
  std::unordered_map<uint64_t, size_t> at;
  // Up to `max` candidates, page after page; a customer met twice (two feeders, two of its
  // premises) is one recipient.
  while (out.size() < max && !cursor_.done) {
    if (!loaded_) {
      if (auto s = load_page(); !s) return rewind(start, s.error());
      continue;
    }
    if (cursor_.offset >= page_.size()) {
      finish_page();
      continue;
    }
    Candidate& c = page_[cursor_.offset++];
    auto [it, added] = at.emplace(c.num, out.size());
    if (added) {
      out.push_back(Recipient{c.num, std::move(c.premises)});
      continue;
    }
    auto& ps = out[it->second].premises;
    ps.insert(ps.end(), c.premises.begin(), c.premises.end());
    std::sort(ps.begin(), ps.end());
    ps.erase(std::unique(ps.begin(), ps.end()), ps.end());
  }
  if (loaded_ && cursor_.offset >= page_.size()) finish_page();
  return out;
}

Error AudienceReader::rewind(const std::string& batch_start, Error error) {
  cursor_ = *AudienceCursor::decode(batch_start);
  loaded_ = false;
  page_.clear();
  return error;
}

void AudienceReader::finish_page() {
  cursor_ = page_next_;
  loaded_ = false;
  page_.clear();
}

void AudienceReader::next_source() {
  const int source = cursor_.source + 1;
  cursor_ = AudienceCursor{};
  cursor_.source = source;
  cursor_.done = source >= static_cast<int>(AudienceSource::kEnd);
}

Status AudienceReader::load_page() {
  while (!cursor_.done) {
    const auto source = static_cast<AudienceSource>(cursor_.source);
    const google::protobuf::RepeatedPtrField<std::string>* list = nullptr;
    std::string (*key_of)(std::string_view) = nullptr;                  // one set a value
    std::string (*slice_key_of)(std::string_view, uint32_t) = nullptr;  // kIndexSlices a value
    switch (source) {
      case AudienceSource::kPremises:
        if (cursor_.item < area_.premises_size()) return load_premises();
        break;
      case AudienceSource::kFeeders:
        list = &area_.feeders();
        slice_key_of = store::feeder_key;
        break;
      case AudienceSource::kTransformers:
        list = &area_.transformers();
        key_of = store::transformer_key;
        break;
      case AudienceSource::kZips:
        list = &area_.zips();
        slice_key_of = store::zip_key;
        break;
      case AudienceSource::kPolygon:
      case AudienceSource::kCircle:
        if (has_geo() && cursor_.item < make_grid(geo_area(), kTopTileDeg).size()) {
          return load_geo();
        }
        break;
      case AudienceSource::kEnd:
        break;
    }
    if (key_of && cursor_.item < list->size()) return load_set(key_of(list->Get(cursor_.item)));
    if (slice_key_of && cursor_.item < list->size() * static_cast<int>(store::kIndexSlices)) {
      if (auto s = load_slices(*list, slice_key_of); !s || loaded_) return s;
      continue;  // the rest of the list's slices were empty
    }
    next_source();
  }
  return ok_status();
}

Status AudienceReader::load_premises() {
  const int end = std::min<int>(area_.premises_size(), cursor_.item + kPremisesPerPage);
  // Each premise's fields "<premise>,<n>" in its bucket hash: one HSCAN a premise (a bucket of
  // a few dozen fields is answered whole), again from its cursor for a bucket Redis keeps as a
  // hash table and answers in parts.
  struct Scan {
    int item;
    std::string cursor;
  };
  std::vector<Scan> scans;
  for (int i = cursor_.item; i < end; ++i) scans.push_back({i, "0"});
  std::unordered_set<uint64_t> seen;
  page_.clear();
  while (!scans.empty()) {
    std::vector<redis::Command> cmds;
    for (const Scan& scan : scans) {
      const std::string& id = area_.premises(scan.item);
      cmds.push_back(redis::cmd("HSCAN", store::premise_key(id), scan.cursor, "MATCH",
                                store::premise_match(id), "COUNT", "1000"));
    }
    auto replies = redis_.pipeline(cmds);
    if (!replies) return replies.error();
    std::vector<Scan> more;
    for (size_t k = 0; k < scans.size(); ++k) {
      const redis::Reply& r = (*replies)[k];
      if (r.is_error()) return redis_error(r);
      if (r.elements.size() != 2) return make_error(ErrorCode::kInternal, "redis: odd HSCAN reply");
      const auto& fields = r.elements[1].elements;
      for (size_t f = 0; f < fields.size(); f += 2) {  // field, value
        std::string_view field = fields[f].str;
        uint64_t n = 0;
        if (parse_num(field.substr(field.rfind(',') + 1), n) && part_.keeps(n) &&
            seen.insert(n).second) {
          page_.push_back({n, {}});
        }
      }
      if (r.elements[0].str != "0") more.push_back({scans[k].item, r.elements[0].str});
    }
    scans = std::move(more);
  }
  // Sorted, so a page re-read after a restart lists its members in the same order.
  std::sort(page_.begin(), page_.end(), [](auto& a, auto& b) { return a.num < b.num; });
  page_next_ = cursor_;
  page_next_.item = end;
  page_next_.offset = 0;
  loaded_ = true;
  return ok_status();
}

Status AudienceReader::load_slices(const google::protobuf::RepeatedPtrField<std::string>& list,
                                   std::string (*slice_key_of)(std::string_view, uint32_t)) {
  constexpr auto kSlices = static_cast<int>(store::kIndexSlices);
  const int end = list.size() * kSlices;
  while (cursor_.item < end) {
    const int value = cursor_.item / kSlices;
    const auto slice = static_cast<uint32_t>(cursor_.item % kSlices);
    const std::string key = slice_key_of(list.Get(value), slice);
    if (cursor_.digits >= 0) return load_set(key);  // inside this slice already
    if (shapes_of_ != std::pair{cursor_.source, value}) {
      redis::Batch asks;
      for (uint32_t k = 0; k < store::kIndexSlices; ++k) {
        const std::string each = slice_key_of(list.Get(value), k);
        asks.push_back(redis::cmd("SCARD", each));
        asks.push_back(redis::cmd("OBJECT", "ENCODING", each));
      }
      auto r = redis_.pipeline(asks);
      if (!r) return r.error();
      shapes_.assign(store::kIndexSlices, SetShape{});
      for (uint32_t k = 0; k < store::kIndexSlices; ++k) {
        const redis::Reply& size = (*r)[2 * k];
        if (size.is_error()) return redis_error(size);
        shapes_[k] = SetShape{size.integer, (*r)[2 * k + 1].str == "intset"};
      }
      shapes_of_ = {cursor_.source, value};
    }
    if (shapes_[slice].size > 0) return load_set(key, shapes_[slice]);
    ++cursor_.item;  // an empty slice: nothing to read, and no position inside it to keep
  }
  return ok_status();
}

Status AudienceReader::load_set(const std::string& key, std::optional<SetShape> shape) {
  if (cursor_.digits < 0) {
    if (!shape) {
      auto r = redis_.pipeline(
          redis::batch(redis::cmd("SCARD", key), redis::cmd("OBJECT", "ENCODING", key)));
      if (!r) return r.error();
      if ((*r)[0].is_error()) return redis_error((*r)[0]);
      shape = SetShape{(*r)[0].integer, (*r)[1].str == "intset"};
    }
    long long size = shape->size;
    cursor_.digits = 0;
    if (shape->intset) {
      while (size > kWholeSetLimit && cursor_.digits < kMaxDigits) {
        size /= 10;
        ++cursor_.digits;
      }
    }
    cursor_.part = 0;
    // Not `= "0"`: GCC 12 warns of an overlapping copy there (a false -Wrestrict).
    cursor_.scan_cursor.clear();
    cursor_.scan_cursor.push_back('0');
  }
  redis::Command scan = redis::cmd("SSCAN", key, cursor_.scan_cursor, "COUNT", kScanCount);
  if (cursor_.digits > 0) {
    scan.push_back("MATCH");
    scan.push_back(partition_pattern(cursor_.digits, cursor_.part));
  }
  auto r = redis_.command(scan);
  if (!r) return r.error();
  if (r->is_error()) return redis_error(*r);
  if (r->elements.size() != 2) return make_error(ErrorCode::kInternal, "redis: odd SSCAN reply");
  page_.clear();
  for (const redis::Reply& m : r->elements[1].elements) {
    uint64_t n = 0;
    if (parse_num(std::string_view(m.str), n) && part_.keeps(n)) page_.push_back({n, {}});
  }
  // Sorted, so a page re-read after a restart lists its members in the same order.
  std::sort(page_.begin(), page_.end(), [](auto& a, auto& b) { return a.num < b.num; });
  page_next_ = cursor_;
  page_next_.offset = 0;
  page_next_.scan_cursor = r->elements[0].str;
  if (page_next_.scan_cursor == "0" && ++page_next_.part >= partitions(cursor_.digits)) {
    page_next_.item++;
    page_next_.digits = -1;
    page_next_.part = 0;
  }
  loaded_ = true;
  return ok_status();
}

bool AudienceReader::has_geo() const {
  return cursor_.source == static_cast<int>(AudienceSource::kPolygon) ? polygon_.size() >= 3
                                                                      : has_circle(area_);
}

Box AudienceReader::geo_area() const {
  if (cursor_.source == static_cast<int>(AudienceSource::kPolygon)) return bounding_box(polygon_);
  return circle_box(circle_center(area_), area_.circle().radius_m());
}

Status AudienceReader::load_geo() {
  const bool polygon = cursor_.source == static_cast<int>(AudienceSource::kPolygon);
  const Grid grid = make_grid(geo_area(), kTopTileDeg);
  const Box tile = grid_tile(grid, cursor_.item);
  while (true) {
    const Box leaf = descend(tile, cursor_.path);
    const bool deepest = cursor_.path.size() >= kMaxDepth;
    const BoxQuery q = covering_query(leaf);
    // The cells in use under the leaf (from the sets of the blocks it touches), then one search
    // per cell: two round trips.
    const CellRange range = cells_of(leaf);
    const store::GeoBlock lo = store::geo_block(range.lo), hi = store::geo_block(range.hi);
    std::vector<redis::Command> lists;
    std::vector<store::GeoBlock> blocks;
    for (int64_t by = lo.by; by <= hi.by; ++by) {
      for (int64_t bx = lo.bx; bx <= hi.bx; ++bx) {
        blocks.push_back({bx, by});
        lists.push_back(redis::cmd("SMEMBERS", store::geo_block_key(blocks.back())));
      }
    }
    auto used = redis_.pipeline(lists);
    if (!used) return used.error();
    std::vector<redis::Command> searches;
    for (size_t b = 0; b < blocks.size(); ++b) {
      const redis::Reply& members = (*used)[b];
      if (members.is_error()) return redis_error(members);
      for (const redis::Reply& m : members.elements) {
        int64_t member = 0;
        if (!parse_num(std::string_view(m.str), member)) continue;
        const store::GeoCell cell = store::geo_block_cell(blocks[b], member);
        if (!range.holds(cell)) continue;
        redis::Command search = redis::cmd(
            "GEOSEARCH", store::geo_cell_key(cell), "FROMLONLAT", fmt::format("{:.9f}", q.center.lon),
            fmt::format("{:.9f}", q.center.lat), "BYBOX", fmt::format("{:.3f}", q.width_m),
            fmt::format("{:.3f}", q.height_m), "m");
        if (!deepest) {
          search.push_back("COUNT");
          search.push_back(std::to_string(kLeafMax + 1));
        }
        search.push_back("WITHCOORD");
        searches.push_back(std::move(search));
      }
    }
    auto replies = redis_.pipeline(searches);
    if (!replies) return replies.error();
    size_t total = 0;
    for (const redis::Reply& r : *replies) {
      if (r.is_error()) return redis_error(r);
      total += r.elements.size();
    }
    if (!deepest && total > kLeafMax) {
      cursor_.path.push_back('0');
      cursor_.offset = 0;
      continue;
    }
    std::map<uint64_t, std::vector<int>> found;  // ordered: a re-read page has the same order
    for (const redis::Reply& e : *replies | std::views::transform(&redis::Reply::elements) |
                                     std::views::join) {
      if (e.elements.size() != 2 || e.elements[1].elements.size() != 2) continue;
      GeoPoint p;
      if (!parse_num(std::string_view(e.elements[1].elements[0].str), p.lon) ||
          !parse_num(std::string_view(e.elements[1].elements[1].str), p.lat) ||
          !owns(leaf, grid.area, p)) {
        continue;
      }
      if (polygon ? !in_polygon(p, polygon_)
                  : !in_circle(p, circle_center(area_), area_.circle().radius_m())) {
        continue;
      }
      std::string_view member = e.elements[0].str;
      const size_t dot = member.find('.');
      uint64_t n = 0;
      int k = 0;
      if (dot == std::string_view::npos || !parse_num(member.substr(0, dot), n) ||
          !parse_num(member.substr(dot + 1), k) || !part_.keeps(n)) {
        continue;
      }
      found[n].push_back(k);
    }
    page_.clear();
    for (auto& [n, ks] : found) {
      std::sort(ks.begin(), ks.end());
      page_.push_back({n, std::move(ks)});
    }
    bool tile_done = false;
    page_next_ = cursor_;
    page_next_.offset = 0;
    page_next_.path = next_path(cursor_.path, tile_done);
    if (tile_done) page_next_.item++;
    loaded_ = true;
    return ok_status();
  }
}

std::string AudienceCursor::encode() const {
  return fmt::format("a1:{}:{}:{}:{}:{}:{}:{}:{}", source, item, digits, part, scan_cursor, path,
                     offset, done ? 1 : 0);
}

std::optional<AudienceCursor> AudienceCursor::decode(std::string_view text) {
  std::vector<std::string_view> f;
  while (true) {
    const size_t colon = text.find(':');
    f.push_back(text.substr(0, colon));
    if (colon == std::string_view::npos) break;
    text.remove_prefix(colon + 1);
  }
  AudienceCursor c;
  uint64_t scan = 0;
  int done = 0;
  if (f.size() != 9 || f[0] != "a1" || !parse_num(f[1], c.source) || !parse_num(f[2], c.item) ||
      !parse_num(f[3], c.digits) || !parse_num(f[4], c.part) || !parse_num(f[5], scan) ||
      !parse_num(f[7], c.offset) || !parse_num(f[8], done)) {
    return std::nullopt;
  }
  const bool path_ok =
      f[6].size() <= kMaxDepth &&
      std::all_of(f[6].begin(), f[6].end(), [](char q) { return q >= '0' && q <= '3'; });
  if (c.source < 0 || c.source > static_cast<int>(AudienceSource::kEnd) || c.item < 0 ||
      c.digits < -1 || c.digits > kMaxDigits || c.part < 0 || done < 0 || done > 1 || !path_ok) {
    return std::nullopt;
  }
  c.scan_cursor = std::string(f[5]);
  c.path = std::string(f[6]);
  c.done = done == 1;
  return c;
}

}  // namespace herald::fanout
