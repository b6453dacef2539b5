#include "service/fanout/audience.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "service/common/net.h"
#include "service/core/crypto.h"
#include "service/core/validate.h"
#include "service/redis/pool.h"
#include "service/store/customer_store.h"
#include "service/store/keys.h"
#include "service/store/redis_settings.h"
#include "tests/support/redis_server.h"

namespace herald::fanout {
namespace {

using std::chrono::milliseconds;

constexpr const char* kKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

struct PremiseSpec {
  std::string id;
  std::string feeder;
  std::string transformer;
  std::string zip;
  std::optional<GeoPoint> at;
};

v1::Customer customer(const std::string& id, const std::vector<PremiseSpec>& premises) {
  v1::Customer c;
  c.set_id(id);
  c.set_name("Test Customer");
  c.set_language("en");
  c.set_time_zone("America/New_York");
  for (const PremiseSpec& s : premises) {
    v1::Premise* p = c.add_premises();
    p->set_id(s.id);
    p->set_address("1 Main St");
    p->set_feeder(s.feeder);
    p->set_transformer(s.transformer);
    p->set_zip(s.zip);
    if (s.at) {
      p->mutable_location()->set_lat(s.at->lat);
      p->mutable_location()->set_lon(s.at->lon);
    }
  }
  return c;
}

class Audience : public ::testing::Test {
 protected:
  Audience()
      : server_(testing::RedisServerOptions{false, store::server_arguments()}),
        pool_(server_.endpoint(), redis::PoolOptions{}, nullptr),
        sealer_(*core::Sealer::from_key(kKey)),
        store_(pool_, sealer_),
        conn_(redis::Connection::connect(server_.endpoint(), milliseconds(5000)).value()) {}

  // Stores customers in batches through the real store (script, indexes, GEO).
  void put(std::vector<v1::Customer> customers) {
    for (size_t i = 0; i < customers.size(); i += 500) {
      std::vector<v1::Customer> chunk(customers.begin() + i,
                                      customers.begin() + std::min(customers.size(), i + 500));
      net::io_context io;
      std::optional<bool> ok;
      net::co_spawn(
          io,
          [this, &ok, chunk]() -> awaitable<void> {
            auto r = co_await store_.put_batch(chunk, 1700000000000);
            ok = r.ok();
          },
          net::detached);
      io.run();
      ASSERT_TRUE(ok.value_or(false));
    }
  }

  uint64_t num(const std::string& id) {
    auto r = conn_.command(redis::cmd("HGET", store::customer_id_key(id), id));
    EXPECT_TRUE(r.ok() && !r->is_nil()) << id;
    return r.ok() ? std::stoull(r->str) : 0;
  }
  std::set<uint64_t> nums(const std::vector<std::string>& ids) {
    std::set<uint64_t> out;
    for (const auto& id : ids) out.insert(num(id));
    return out;
  }

  // Reads to the end; fails the test on a repeat within a batch or a batch over `max`. A
  // customer a later batch brings again (listed by two sources) is counted in `repeats` and
  // left out, as the planner's done bits leave it out.
  std::vector<Recipient> read_all(AudienceReader& reader, size_t max, size_t* batches = nullptr,
                                  size_t* repeats = nullptr) {
    std::vector<Recipient> all;
    std::set<uint64_t> seen;
    for (int guard = 0; guard < 100000; ++guard) {
      auto batch = reader.next(max);
      EXPECT_TRUE(batch.ok()) << (batch.ok() ? "" : batch.error().message);
      if (!batch.ok() || batch->empty()) break;
      EXPECT_LE(batch->size(), max);
      if (batches) ++*batches;
      std::set<uint64_t> in_batch;
      for (Recipient& r : *batch) {
        EXPECT_TRUE(in_batch.insert(r.num).second) << "customer " << r.num << " twice in a batch";
        if (!seen.insert(r.num).second) {
          if (repeats) ++*repeats;
          continue;
        }
        all.push_back(std::move(r));
      }
    }
    EXPECT_TRUE(reader.cursor().done);
    return all;
  }
  std::set<uint64_t> audience(const v1::Area& area) {
    AudienceReader reader(conn_, area);
    std::set<uint64_t> out;
    for (const Recipient& r : read_all(reader, 500)) out.insert(r.num);
    return out;
  }

  testing::RedisServer server_;
  redis::Pool pool_;
  core::Sealer sealer_;
  store::CustomerStore store_;
  redis::Connection conn_;
};

// Customer C-i: premise P-i on feeder F-(i%3), transformer T-(i%5), ZIP 1000(i%2).
std::vector<v1::Customer> small_town() {
  std::vector<v1::Customer> out;
  for (int i = 0; i < 30; ++i) {
    out.push_back(customer("C-" + std::to_string(i), {{"P-" + std::to_string(i),
                                                       "F-" + std::to_string(i % 3),
                                                       "T-" + std::to_string(i % 5),
                                                       "1000" + std::to_string(i % 2),
                                                       {}}}));
  }
  return out;
}

std::vector<std::string> ids_where(const std::function<bool(int)>& pred) {
  std::vector<std::string> out;
  for (int i = 0; i < 30; ++i) {
    if (pred(i)) out.push_back("C-" + std::to_string(i));
  }
  return out;
}

TEST_F(Audience, FeederTransformerZipAndPremisesSelectExactlyTheirCustomers) {
  put(small_town());
  v1::Area feeder;
  feeder.add_feeders("F-1");
  EXPECT_EQ(audience(feeder), nums(ids_where([](int i) { return i % 3 == 1; })));
  v1::Area transformer;
  transformer.add_transformers("T-4");
  EXPECT_EQ(audience(transformer), nums(ids_where([](int i) { return i % 5 == 4; })));
  v1::Area zip;
  zip.add_zips("10000");
  EXPECT_EQ(audience(zip), nums(ids_where([](int i) { return i % 2 == 0; })));
  v1::Area premises;
  for (const char* p : {"P-3", "P-17", "P-nowhere"}) premises.add_premises(p);
  EXPECT_EQ(audience(premises), nums({"C-3", "C-17"}));
  v1::Area unknown;
  unknown.add_feeders("F-none");
  EXPECT_TRUE(audience(unknown).empty());
}

TEST_F(Audience, CustomerInSeveralSourcesComesOnce) {
  put({customer("A", {{"PA1", "F-1", "", "", {}}, {"PA2", "F-2", "", "20001", {}}}),
       customer("B", {{"PB1", "F-2", "", "", {}}}),
       customer("C", {{"PC1", "F-3", "", "20001", {}}})});
  v1::Area area;
  area.add_feeders("F-1");
  area.add_feeders("F-2");
  area.add_zips("20001");
  area.add_premises("PA1");
  EXPECT_EQ(audience(area), nums({"A", "B", "C"}));
  // A premise shared by two customers names both.
  put({customer("D", {{"SHARED", "", "", "", {}}}), customer("E", {{"SHARED", "", "", "", {}}})});
  v1::Area shared;
  shared.add_premises("SHARED");
  EXPECT_EQ(audience(shared), nums({"D", "E"}));
}

TEST_F(Audience, PolygonAndCircleSelectThePointsInsideWithTheirPremises) {
  // A 10 x 10 lattice, 0.001 degrees apart (about 100 m), one premise each; X has two premises,
  // one inside the polygon and one far outside.
  std::vector<v1::Customer> cs;
  for (int r = 0; r < 10; ++r) {
    for (int c = 0; c < 10; ++c) {
      cs.push_back(customer("G-" + std::to_string(r) + "-" + std::to_string(c),
                            {{"GP-" + std::to_string(r * 10 + c), "", "", "",
                              GeoPoint{40.700 + r * 0.001, -74.000 + c * 0.001}}}));
    }
  }
  cs.push_back(customer("X", {{"XP0", "", "", "", GeoPoint{41.5, -74.5}},
                              {"XP1", "", "", "", GeoPoint{40.7035, -73.9965}}}));
  put(cs);

  // Rows 2..5, columns 3..6; the polygon's edges run through rows 2 and 5 and columns 3 and 6.
  v1::Area poly;
  for (GeoPoint p : {GeoPoint{40.702, -73.997}, GeoPoint{40.702, -73.994},
                     GeoPoint{40.705, -73.994}, GeoPoint{40.705, -73.997}}) {
    auto* v = poly.add_polygon();
    v->set_lat(p.lat);
    v->set_lon(p.lon);
  }
  std::vector<std::string> inside = {"X"};
  for (int r = 2; r <= 5; ++r) {
    for (int c = 3; c <= 6; ++c)
      inside.push_back("G-" + std::to_string(r) + "-" + std::to_string(c));
  }
  AudienceReader reader(conn_, poly);
  std::set<uint64_t> got;
  for (const Recipient& r : read_all(reader, 7)) {
    got.insert(r.num);
    if (r.num == num("X")) {
      EXPECT_EQ(r.premises, std::vector<int>{1});
    } else {
      EXPECT_EQ(r.premises, std::vector<int>{0});
    }
  }
  EXPECT_EQ(got, nums(inside));
  EXPECT_EQ(premises_in_area(cs.back(), poly), std::vector<int>{1});

  // 120 m around lattice point (5, 5): its neighbours north and south (111 m) and east and west
  // (84 m), not the diagonal ones (139 m).
  v1::Area circle;
  circle.mutable_circle()->mutable_center()->set_lat(40.705);
  circle.mutable_circle()->mutable_center()->set_lon(-73.995);
  circle.mutable_circle()->set_radius_m(120);
  EXPECT_EQ(audience(circle), nums({"G-5-5", "G-4-5", "G-6-5", "G-5-4", "G-5-6"}));
}

// The bulk create path writes premise locations with ZADD and the score it computes
// (store::geo_score); the scripts use GEOADD. A score off by one bit puts a premise elsewhere on
// the map, so both must agree with Redis's own on every point, the range's ends included.
TEST_F(Audience, TheCreatePathsGeoScoresAreTheOnesGeoaddGives) {
  std::mt19937_64 rng(20261204);
  std::uniform_real_distribution<double> lat(-core::kMaxLatitude, core::kMaxLatitude);
  std::uniform_real_distribution<double> lon(-180.0, 180.0);
  std::vector<std::pair<double, double>> points = {
      {-180.0, -core::kMaxLatitude}, {180.0, core::kMaxLatitude}, {0.0000001, -0.0000001},
      {-73.9857, 40.7484},           {179.9999999, 85.0511286},   {-0.0000049, 0.0000051}};
  for (int i = 0; i < 5000; ++i) points.emplace_back(lon(rng), lat(rng));
  redis::Command add = {"GEOADD", "t:geo"};
  for (size_t i = 0; i < points.size(); ++i) {
    add.push_back(store::geo_text(points[i].first));
    add.push_back(store::geo_text(points[i].second));
    add.push_back(std::to_string(i));
  }
  auto added = conn_.command(add);
  ASSERT_TRUE(added.ok());
  ASSERT_FALSE(added->is_error()) << added->str;
  auto scores = conn_.command(redis::cmd("ZRANGE", "t:geo", "0", "-1", "WITHSCORES"));
  ASSERT_TRUE(scores.ok());
  ASSERT_EQ(scores->elements.size(), 2 * points.size());
  auto as_sent = [](double degrees) { return std::stod(store::geo_text(degrees)); };
  for (size_t k = 0; k < scores->elements.size(); k += 2) {
    const size_t i = std::stoull(scores->elements[k].str);
    const uint64_t expected = store::geo_score(as_sent(points[i].first), as_sent(points[i].second));
    // As doubles, as Redis keeps scores: at longitude 180 the hash has 53 bits, and the text of
    // the integer and Redis's own computation round to the same double.
    EXPECT_EQ(std::stod(scores->elements[k + 1].str), static_cast<double>(expected))
        << store::geo_text(points[i].first) << " " << store::geo_text(points[i].second);
  }

  // The same location through the create path (a batch) and the script (a single put).
  const GeoPoint at{40.7484405, -73.9856644};
  put({customer("GS-1", {{"GSP-1", "", "", "", at}}),
       customer("GS-2", {{"GSP-2", "", "", "", at}})});
  put({customer("GS-3", {{"GSP-3", "", "", "", at}})});
  const std::string cell = store::geo_cell_key(at.lat, at.lon);
  std::set<std::string> seen;
  for (const char* id : {"GS-1", "GS-2", "GS-3"}) {
    auto score = conn_.command(redis::cmd("ZSCORE", cell, std::to_string(num(id)) + ".0"));
    ASSERT_TRUE(score.ok() && !score->is_nil()) << id;
    seen.insert(score->str);
  }
  EXPECT_EQ(seen.size(), 1u) << "the batch and the script placed one location differently";
  auto pos = conn_.command(redis::cmd("GEOPOS", cell, std::to_string(num("GS-1")) + ".0"));
  ASSERT_TRUE(pos.ok() && pos->elements.size() == 1 && pos->elements[0].elements.size() == 2);
  EXPECT_NEAR(std::stod(pos->elements[0].elements[0].str), at.lon, 1e-5);
  EXPECT_NEAR(std::stod(pos->elements[0].elements[1].str), at.lat, 1e-5);
}

TEST_F(Audience, TwentyThousandOnAFeederComeInFortyDistinctBatches) {
  std::vector<v1::Customer> cs;
  std::vector<std::string> ids;
  for (int i = 0; i < 20000; ++i) {
    ids.push_back("B-" + std::to_string(i));
    cs.push_back(customer(ids.back(), {{"BP-" + std::to_string(i), "F-BIG", "", "", {}}}));
  }
  put(cs);
  v1::Area area;
  area.add_feeders("F-BIG");
  AudienceReader reader(conn_, area);
  size_t batches = 0;
  auto all = read_all(reader, 500, &batches);
  EXPECT_EQ(batches, 40u);
  std::set<uint64_t> got;
  for (const Recipient& r : all) got.insert(r.num);
  EXPECT_EQ(got, nums(ids));
}

// Index sets written directly: the reader only reads indexes, and 100,000 customers through the
// store would dominate the test's time.
// Each number in its slice of the feeder's set.
void add_feeder(redis::Connection& conn, const std::string& feeder,
                const std::vector<uint64_t>& nums) {
  std::map<uint32_t, redis::Command> sadds;
  auto flush = [&](redis::Command& sadd) {
    if (sadd.size() > 2) {
      auto r = conn.command(sadd);
      ASSERT_TRUE(r.ok() && !r->is_error());
    }
    sadd.resize(2);
  };
  for (uint64_t n : nums) {
    const uint32_t slice = store::index_slice(n);
    auto [it, added] = sadds.try_emplace(slice);
    if (added) it->second = redis::cmd("SADD", store::feeder_key(feeder, slice));
    it->second.push_back(std::to_string(n));
    if (it->second.size() >= 1002) flush(it->second);
  }
  for (auto& [slice, sadd] : sadds) flush(sadd);
}

// Customers from..to-1.
void add_feeder(redis::Connection& conn, const std::string& feeder, uint64_t from, uint64_t to) {
  std::vector<uint64_t> nums;
  for (uint64_t n = from; n < to; ++n) nums.push_back(n);
  add_feeder(conn, feeder, nums);
}
// The premise index keeps "<premise>,<n>" fields in hashes shared by many premises: a premise
// whose id another premise's id starts with, in the same hash, must not pick up its customers.
TEST_F(Audience, APremiseGetsOnlyItsOwnCustomersFromAHashItShares) {
  std::string longer;
  for (int i = 0; longer.empty(); ++i) {
    const std::string id = "P-col" + std::to_string(i);
    if (store::premise_key(id) == store::premise_key("P-col")) longer = id;
  }
  put({customer("C-col-a", {{"P-col", "", "", "", {}}}),
       customer("C-col-b", {{longer, "", "", "", {}}})});
  v1::Area area;
  area.add_premises("P-col");
  AudienceReader reader(conn_, area);
  auto all = read_all(reader, 500);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].num, num("C-col-a"));
}

// A tower of 2,000 flats at one premise: its hash is past listpack size, and Redis answers
// HSCAN over such a hash in parts.
TEST_F(Audience, ATowerOfTwoThousandFlatsAtOnePremiseIsReadWhole) {
  std::vector<v1::Customer> cs;
  std::vector<std::string> ids;
  for (int i = 0; i < 2000; ++i) {
    ids.push_back("C-flat-" + std::to_string(i));
    cs.push_back(customer(ids.back(), {{"P-TOWER", "", "", "", {}}}));
  }
  put(cs);
  auto enc = conn_.command(redis::cmd("OBJECT", "ENCODING", store::premise_key("P-TOWER")));
  ASSERT_EQ(enc->str, "hashtable");
  v1::Area area;
  area.add_premises("P-TOWER");
  AudienceReader reader(conn_, area);
  std::set<uint64_t> got;
  for (const Recipient& r : read_all(reader, 500)) got.insert(r.num);
  EXPECT_EQ(got, nums(ids));
}

// An urgent outage on a small feeder must not pay a round trip per empty slice: its
// customers, numbered together, fill one slice of the sixteen.
TEST_F(Audience, ASmallFeederCostsOneSizeReadAndOneScanWhateverItsEmptySlices) {
  add_feeder(conn_, "F-SMALL", 2 * store::kIndexSliceRun + 1, 2 * store::kIndexSliceRun + 301);
  v1::Area area;
  area.add_feeders("F-SMALL");
  ASSERT_TRUE(conn_.command(redis::cmd("CONFIG", "RESETSTAT")).ok());
  AudienceReader reader(conn_, area);
  EXPECT_EQ(read_all(reader, 500).size(), 300u);
  auto stats = conn_.command(redis::cmd("INFO", "commandstats"));
  ASSERT_TRUE(stats.ok());
  auto calls = [&](const std::string& command) {
    const std::string tag = "cmdstat_" + command + ":calls=";
    const size_t at = stats->str.find(tag);
    return at == std::string::npos ? 0 : std::stoi(stats->str.substr(at + tag.size()));
  };
  EXPECT_EQ(calls("sscan"), 1) << "one slice holds them all";
  EXPECT_EQ(calls("scard"), static_cast<int>(store::kIndexSlices)) << "asked once, together";
}

TEST_F(Audience, ResumesFromASavedCursorWithoutRepeatsOrGaps) {
  add_feeder(conn_, "F-A", 1, 3001);
  add_feeder(conn_, "F-B", 2001, 5001);  // overlaps F-A by 1,000
  v1::Area area;
  area.add_feeders("F-A");
  area.add_feeders("F-B");
  std::set<uint64_t> got;
  std::string saved;
  {
    AudienceReader reader(conn_, area);
    for (int i = 0; i < 3; ++i) {
      auto batch = reader.next(500);
      ASSERT_TRUE(batch.ok());
      ASSERT_EQ(batch->size(), 500u);
      for (const Recipient& r : *batch) EXPECT_TRUE(got.insert(r.num).second);
      saved = reader.cursor().encode();
    }
    // Read but never handled: the crash comes before the cursor is saved.
    ASSERT_TRUE(reader.next(500).ok());
  }
  auto cursor = AudienceCursor::decode(saved);
  ASSERT_TRUE(cursor.has_value()) << saved;
  AudienceReader resumed(conn_, area, *cursor);
  for (const Recipient& r : read_all(resumed, 500)) {
    EXPECT_TRUE(got.insert(r.num).second) << "customer " << r.num << " twice";
  }
  EXPECT_EQ(got.size(), 5000u);
  EXPECT_EQ(*got.begin(), 1u);
  EXPECT_EQ(*got.rbegin(), 5000u);
}

// A customer on two overlapping feeders is one recipient of a batch; it comes again only from a
// later batch (the planner's done bits then skip it), whatever the batch size.
TEST_F(Audience, ACustomerOnTwoOverlappingFeedersIsOneRecipientOfABatch) {
  add_feeder(conn_, "F-A", 1, 1001);
  add_feeder(conn_, "F-B", 501, 1501);  // 501..1000 are on both
  v1::Area area;
  area.add_feeders("F-A");
  area.add_feeders("F-B");
  for (size_t max : {400u, 1200u, 5000u}) {
    AudienceReader reader(conn_, area);
    std::set<uint64_t> got;
    size_t handed = 0;
    for (int guard = 0; guard < 100; ++guard) {
      auto batch = reader.next(max);
      ASSERT_TRUE(batch.ok()) << batch.error().message;
      if (batch->empty()) break;
      EXPECT_LE(batch->size(), max);
      std::set<uint64_t> in_batch;
      for (const Recipient& r : *batch) {
        EXPECT_TRUE(in_batch.insert(r.num).second) << "customer " << r.num << " twice in a batch";
        got.insert(r.num);
      }
      handed += batch->size();
    }
    EXPECT_EQ(got.size(), 1500u) << "batches of " << max;
    EXPECT_EQ(*got.rbegin(), 1500u);
    // The overlap comes again only from a later batch: in one batch of 5,000 never.
    EXPECT_LE(handed, 2000u);
    if (max == 5000) {
      EXPECT_EQ(handed, 1500u);
    }
  }
}

TEST_F(Audience, HundredThousandAudienceStreamsInBoundedBatches) {
  add_feeder(conn_, "F-HUGE", 1, 100001);
  v1::Area area;
  area.add_feeders("F-HUGE");
  AudienceReader reader(conn_, area);
  size_t batches = 0;
  auto all = read_all(reader, 500, &batches);
  EXPECT_EQ(all.size(), 100000u);
  EXPECT_EQ(batches, 200u);
  std::set<uint64_t> got;
  for (const Recipient& r : all) got.insert(r.num);
  EXPECT_EQ(got.size(), 100000u) << "a customer twice";
}

TEST_F(Audience, ASliceTooLargeToReadWholeIsReadInPartitionsAndStillComplete) {
  // 25,000 customers, all in slice 0: one intset past the size read whole.
  std::vector<uint64_t> dense;
  for (uint64_t n = 1; dense.size() < 25000; ++n) {
    if (store::index_slice(n) == 0) dense.push_back(n);
  }
  add_feeder(conn_, "F-DENSE", dense);
  auto enc = conn_.command(redis::cmd("OBJECT", "ENCODING", store::feeder_key("F-DENSE", 0)));
  ASSERT_EQ(enc->str, "intset");  // the case SSCAN answers in one reply, read in partitions
  v1::Area area;
  area.add_feeders("F-DENSE");
  AudienceReader reader(conn_, area);
  std::set<uint64_t> got;
  for (const Recipient& r : read_all(reader, 500)) {
    EXPECT_TRUE(got.insert(r.num).second) << "customer " << r.num << " twice";
  }
  EXPECT_EQ(got, std::set<uint64_t>(dense.begin(), dense.end()));
}

TEST_F(Audience, APartOfASplitRevisionGetsExactlyItsOwnCustomers) {
  add_feeder(conn_, "F-PARTS", 1, 5001);  // five slices
  v1::Area area;
  area.add_feeders("F-PARTS");
  for (uint32_t block : {1u, 64u}) {  // every other number (an earlier release), whole buckets
    for (uint32_t of : {2u, 3u}) {
      std::set<uint64_t> all;
      for (uint32_t index = 0; index < of; ++index) {
        AudienceReader reader(conn_, area, {}, AudiencePart{index, of, block});
        for (const Recipient& r : read_all(reader, 500)) {
          EXPECT_EQ(r.num / block % of, index) << "part " << index << " of " << of;
          EXPECT_TRUE(all.insert(r.num).second) << "customer " << r.num << " twice";
        }
      }
      EXPECT_EQ(all.size(), 5000u) << "parts of " << of << ", blocks of " << block;
    }
  }
}

TEST_F(Audience, DenseGeoAreaIsSplitAndStillComplete) {
  // 12,000 premises within about 100 m: more than one GEOSEARCH page holds.
  // Each in the GEO cell the store would put it in, listed in its block (here a few cells, far
  // past listpack size).
  std::vector<redis::Command> adds;
  for (int i = 0; i < 12000; ++i) {
    const double lon = -73.9900 + (i % 120) * 0.00001;
    const double lat = 40.7300 + (i / 120) * 0.00001;
    const store::GeoCell cell = store::geo_cell(lat, lon);
    adds.push_back(redis::cmd("GEOADD", store::geo_cell_key(cell), std::to_string(lon),
                              std::to_string(lat), std::to_string(i + 1) + ".0"));
    adds.push_back(redis::cmd("SADD", store::geo_block_key(store::geo_block(cell)),
                              std::to_string(store::geo_block_member(cell))));
  }
  ASSERT_TRUE(conn_.pipeline(adds).ok());
  v1::Area area;
  for (GeoPoint p : {GeoPoint{40.7295, -73.9905}, GeoPoint{40.7295, -73.9880},
                     GeoPoint{40.7315, -73.9880}, GeoPoint{40.7315, -73.9905}}) {
    auto* v = area.add_polygon();
    v->set_lat(p.lat);
    v->set_lon(p.lon);
  }
  AudienceReader reader(conn_, area);
  auto all = read_all(reader, 500);
  EXPECT_EQ(all.size(), 12000u);
  EXPECT_TRUE(reader.cursor().done);
}

TEST_F(Audience, PartsOfASplitRevisionShareTheAudienceWithoutOverlap) {
  add_feeder(conn_, "F-A", 1, 3001);
  add_feeder(conn_, "F-B", 2001, 5001);  // overlaps F-A by 1,000
  // 600 GEO premises (customers 6001..6600) in a small square, one premise each.
  std::vector<redis::Command> adds;
  for (int i = 0; i < 600; ++i) {
    const double lon = -73.9900 + (i % 30) * 0.00002, lat = 40.7300 + (i / 30) * 0.00002;
    const store::GeoCell cell = store::geo_cell(lat, lon);
    adds.push_back(redis::cmd("GEOADD", store::geo_cell_key(cell), std::to_string(lon),
                              std::to_string(lat), std::to_string(6001 + i) + ".0"));
    adds.push_back(redis::cmd("SADD", store::geo_block_key(store::geo_block(cell)),
                              std::to_string(store::geo_block_member(cell))));
  }
  ASSERT_TRUE(conn_.pipeline(adds).ok());
  v1::Area area;
  area.add_feeders("F-A");
  area.add_feeders("F-B");
  for (GeoPoint p : {GeoPoint{40.7295, -73.9905}, GeoPoint{40.7295, -73.9890},
                     GeoPoint{40.7310, -73.9890}, GeoPoint{40.7310, -73.9905}}) {
    auto* v = area.add_polygon();
    v->set_lat(p.lat);
    v->set_lon(p.lon);
  }
  // Three parts read in turn, as three lanes would. A customer of F-A and F-B comes again in
  // a later batch of its own part (the planner's done bits keep it to one decision), never in
  // another part.
  std::vector<std::unique_ptr<AudienceReader>> parts;
  for (uint32_t i = 0; i < 3; ++i) {
    parts.push_back(
        std::make_unique<AudienceReader>(conn_, area, AudienceCursor{}, AudiencePart{i, 3}));
  }
  std::vector<std::set<uint64_t>> got(3);
  for (bool more = true; more;) {
    more = false;
    for (uint32_t i = 0; i < 3; ++i) {
      auto batch = parts[i]->next(200);
      ASSERT_TRUE(batch.ok()) << batch.error().message;
      more = more || !batch->empty();
      std::set<uint64_t> in_batch;
      for (const Recipient& r : *batch) {
        EXPECT_EQ(r.num % 3, i) << "customer " << r.num << " in part " << i;
        EXPECT_TRUE(in_batch.insert(r.num).second) << "customer " << r.num << " twice in a batch";
        got[i].insert(r.num);
      }
    }
  }
  std::set<uint64_t> all;
  for (const auto& g : got) all.insert(g.begin(), g.end());
  EXPECT_EQ(all.size(), got[0].size() + got[1].size() + got[2].size()) << "parts overlap";
  EXPECT_EQ(all.size(), 5600u);
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), 6600u);
  EXPECT_EQ(all.count(5001), 0u);
}

TEST_F(Audience, APartReplaysItsOwnBatchWhileAnotherPartMovesOn) {
  add_feeder(conn_, "F-R", 1, 4001);
  v1::Area area;
  area.add_feeders("F-R");
  std::set<uint64_t> odd;
  std::string saved;
  {
    AudienceReader part1(conn_, area, AudienceCursor{}, AudiencePart{1, 2});
    for (int i = 0; i < 2; ++i) {
      auto batch = part1.next(500);
      ASSERT_TRUE(batch.ok());
      ASSERT_EQ(batch->size(), 500u);
      for (const Recipient& r : *batch) EXPECT_TRUE(odd.insert(r.num).second);
      saved = part1.cursor().encode();
    }
    ASSERT_EQ(part1.next(500)->size(), 500u);  // read, then the lane dies
  }
  // Part 0 reads all of its customers meanwhile.
  AudienceReader part0(conn_, area, AudienceCursor{}, AudiencePart{0, 2});
  auto even = read_all(part0, 500);
  EXPECT_EQ(even.size(), 2000u);
  AudienceReader resumed(conn_, area, *AudienceCursor::decode(saved), AudiencePart{1, 2});
  for (const Recipient& r : read_all(resumed, 500)) {
    EXPECT_EQ(r.num % 2, 1u);
    EXPECT_TRUE(odd.insert(r.num).second) << "customer " << r.num << " twice";
  }
  EXPECT_EQ(odd.size(), 2000u) << "the unhandled batch came back to its part";
}

TEST(AudienceCursor, EncodesAndDecodes) {
  AudienceCursor c;
  c.source = 4;
  c.item = 17;
  c.digits = 2;
  c.part = 31;
  c.scan_cursor = "12345";
  c.path = "0312";
  c.offset = 250;
  auto d = AudienceCursor::decode(c.encode());
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->encode(), c.encode());
  EXPECT_FALSE(AudienceCursor::decode("a1:9:0:0:0:0::0:0").has_value());
  EXPECT_FALSE(AudienceCursor::decode("garbage").has_value());
  EXPECT_FALSE(AudienceCursor::decode("a1:0:0:0:0:0:4:0:0").has_value());
}

}  // namespace
}  // namespace herald::fanout
