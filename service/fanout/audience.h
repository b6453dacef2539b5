#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "herald/v1/customer.pb.h"
#include "herald/v1/event.pb.h"
#include "service/common/result.h"
#include "service/fanout/geometry.h"
#include "service/redis/connection.h"

namespace herald::fanout {

// One affected customer. `premises` are indexes into the customer's premises, filled for GEO
// sources (members "n.k"); empty for premises/feeder/transformer/ZIP sources, where the
// planner calls premises_in_area() on the record it loads anyway. A customer whose premises
// fall in two different GEO tiles names only the first tile's premises: call
// premises_in_area() when the notice must name every affected premise.
struct Recipient {
  uint64_t num = 0;
  std::vector<int> premises;
};

// Indexes of the customer's premises that `area` covers, by any of its criteria.
std::vector<int> premises_in_area(const v1::Customer& customer, const v1::Area& area);

// How many top-level GEO tiles (0.02°, about 2 km a side) the area's polygon and circle
// bounding boxes span: a cheap measure of how large a GEO audience may be.
size_t geo_tiles(const v1::Area& area);

enum class AudienceSource { kPremises, kFeeders, kTransformers, kZips, kPolygon, kCircle, kEnd };

// Where a reader stands: a page (one HGET pipeline, one SSCAN reply, one GEO leaf tile) is named
// by its start, and `offset` counts the candidates of that page already handed out.
struct AudienceCursor {
  int source = 0;                 // AudienceSource
  int item = 0;                   // index into the source's list (feeders and ZIPs: times
                                  // store::kIndexSlices, plus the slice), or top-level GEO tile
  int digits = -1;                // sets: MATCH partitions on the last digits; -1 = not chosen
  int part = 0;                   // sets: partition being scanned
  std::string scan_cursor = "0";  // sets: SSCAN cursor of the current page
  std::string path;               // GEO: quadtree path ('0'..'3') inside tile `item`
  uint64_t offset = 0;            // candidates of the current page already consumed
  bool done = false;

  std::string encode() const;  // printable, no '|' (it is stored inside a Redis value)
  static std::optional<AudienceCursor> decode(std::string_view text);
};

// Streams the audience of an Area from the customer indexes in batches, with memory bounded by
// one page (at most ~20,000 numbers) whatever the audience size. Blocking: runs on a worker
// thread with its own Connection.
//
// A batch holds a customer once, but a customer the indexes list more than once (premises on
// two feeders, in two ZIPs, or a feeder and a polygon of the same area) may come again in a
// later batch: the caller keeps its decisions to one per customer (the planner's done bits,
// set in the transaction that commits a customer and read with every batch). A reader resumed
// from a saved cursor (the caller crashed before handling the batch) gives the batch again.
//
// A part of a split revision (AudiencePart, `of` > 1) reads the same pages and keeps only the
// customers whose number n has n / block % of == index, so parts never share a customer. A
// revision split since the parts took whole blocks has block 64 (a record bucket: a batch then
// reads, and its chunks write, about half as many record, history, journey and cap buckets as
// with every other number); one split by an earlier release keeps block 1.
struct AudiencePart {
  uint32_t index = 0;
  uint32_t of = 1;     // 1: the whole audience
  uint32_t block = 1;  // consecutive customer numbers that go to one part
  bool keeps(uint64_t num) const { return of <= 1 || num / block % of == index; }
};

class AudienceReader {
 public:
  AudienceReader(redis::Connection& redis, v1::Area area, AudienceCursor start = {},
                 AudiencePart part = {});

  // Up to `max` (at least 1) recipients, each once; empty only when the audience is
  // exhausted. On error the cursor goes back to the batch start, so a retry (or a reader
  // resumed from the saved cursor) replays the batch.
  Result<std::vector<Recipient>> next(size_t max);
  // Save it after the caller has durably handled the batch.
  const AudienceCursor& cursor() const { return cursor_; }

 private:
  struct Candidate {
    uint64_t num = 0;
    std::vector<int> premises;
  };

  // What a set's read depends on: its size and whether Redis keeps it as an intset.
  struct SetShape {
    long long size = 0;
    bool intset = false;
  };

  Status load_page();
  Status load_premises();
  // The slices of the current feeder or ZIP: the first that holds anyone from the cursor on.
  Status load_slices(const google::protobuf::RepeatedPtrField<std::string>& list,
                     std::string (*slice_key_of)(std::string_view, uint32_t));
  // `shape` known or not (then asked of Redis); ignored when the cursor is inside the set.
  Status load_set(const std::string& key, std::optional<SetShape> shape = std::nullopt);
  Status load_geo();
  bool has_geo() const;  // the current source is a usable polygon or circle
  Box geo_area() const;
  void finish_page();
  void next_source();
  Error rewind(const std::string& batch_start, Error error);

  redis::Connection& redis_;
  v1::Area area_;
  AudienceCursor cursor_;
  AudiencePart part_;
  std::vector<GeoPoint> polygon_;
  bool loaded_ = false;
  std::vector<Candidate> page_;
  AudienceCursor page_next_;  // where the page after the loaded one starts
  // The shapes of one feeder's or ZIP's slices, read in one round trip, so empty slices (most
  // of a small feeder's) cost none; `shapes_of_` = {source, index in its list}, or {-1, -1}.
  std::pair<int, int> shapes_of_{-1, -1};
  std::vector<SetShape> shapes_;
};

}  // namespace herald::fanout
