#include <gtest/gtest.h>

#include "herald/v1/store.pb.h"
#include "service/store/codec.h"
#include "service/store/keys.h"

namespace herald::store {
namespace {

const char* kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

v1::Customer sample() {
  v1::Customer c;
  c.set_id("C-1001");
  c.set_name("Ada Lovelace");
  c.set_phone("+12125550101");
  c.set_email("ada@example.com");
  c.set_time_zone("America/New_York");
  auto* p = c.add_premises();
  p->set_id("P-77");
  p->set_address("12 Elm St");
  p->set_feeder("F-12");
  p->set_transformer("T-9");
  p->set_zip("10001");
  p->mutable_location()->set_lat(40.7506);
  p->mutable_location()->set_lon(-73.9935);
  auto* q = c.add_premises();
  q->set_id("P-78");
  q->set_address("9 Oak Ave");
  q->set_feeder("F-13");
  return c;
}

TEST(Codec, RecordCarriesNoContactDetailInClear) {
  auto sealer = core::Sealer::from_key(kKey);
  ASSERT_TRUE(sealer.ok());
  auto e = encode_customer(sample(), *sealer, 1700000000123);
  for (const char* secret : {"Ada Lovelace", "2125550101", "ada@example.com", "12 Elm St",
                             "9 Oak Ave"}) {
    EXPECT_EQ(e.record.find(secret), std::string::npos) << secret;
  }
}

TEST(Codec, RoundTripRestoresEveryField) {
  auto sealer = core::Sealer::from_key(kKey);
  auto e = encode_customer(sample(), *sealer, 1700000000123);
  auto back = decode_customer("C-1001", e.record, *sealer);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->name(), "Ada Lovelace");
  EXPECT_EQ(back->phone(), "+12125550101");
  EXPECT_EQ(back->premises(1).address(), "9 Oak Ave");
  EXPECT_EQ(back->premises(0).feeder(), "F-12");
  EXPECT_EQ(back->created_at().seconds(), 1700000000);
}

// The import path moves each new customer into its record instead of copying it.
TEST(Codec, AMovedCustomerEncodesAsACopiedOneDoes) {
  auto sealer = core::Sealer::from_key(kKey);
  v1::Customer moved = sample();
  moved.clear_email();  // an absent contact detail stays absent
  const v1::Customer expected = moved;
  auto back =
      decode_customer("C-1001", encode_record(std::move(moved), *sealer, 1700000000123), *sealer);
  ASSERT_TRUE(back.ok());
  auto copied = decode_customer("C-1001", encode_record(expected, *sealer, 1700000000123), *sealer);
  ASSERT_TRUE(copied.ok());
  EXPECT_EQ(back->SerializeAsString(), copied->SerializeAsString());
  EXPECT_EQ(back->name(), "Ada Lovelace");
  EXPECT_EQ(back->email(), "");
  EXPECT_EQ(back->premises(1).address(), "9 Oak Ave");
}

TEST(Codec, CompactPartsComeBackAsTheyWereGiven) {
  auto sealer = core::Sealer::from_key(kKey);
  v1::Customer c = sample();
  c.mutable_premises(0)->mutable_location()->set_lat(-33.8688123);
  c.mutable_premises(0)->mutable_location()->set_lon(151.2093);
  c.mutable_preferences()->mutable_quiet_hours()->set_start("21:30");
  c.mutable_preferences()->mutable_quiet_hours()->set_end("00:00");
  c.mutable_updated_at()->set_seconds(1700000100);
  c.mutable_updated_at()->set_nanos(250000000);
  const std::string record = encode_record(c, *sealer, 1700000000123);
  // Kept as numbers, not text or doubles.
  EXPECT_EQ(record.find("America/New_York"), std::string::npos);
  EXPECT_EQ(record.find("21:30"), std::string::npos);
  v1::CustomerRecord stored;
  ASSERT_TRUE(stored.ParseFromString(record));
  EXPECT_FALSE(stored.customer().premises(0).has_location());
  EXPECT_EQ(stored.premise_e7_size(), 4);

  auto back = decode_customer("C-1001", record, *sealer);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->time_zone(), "America/New_York");
  EXPECT_EQ(back->premises(0).location().lat(), -33.8688123);  // 7 decimals: exact
  EXPECT_EQ(back->premises(0).location().lon(), 151.2093);
  EXPECT_FALSE(back->premises(1).has_location());
  EXPECT_EQ(back->preferences().quiet_hours().start(), "21:30");
  EXPECT_EQ(back->preferences().quiet_hours().end(), "00:00");
  EXPECT_EQ(back->updated_at().seconds(), 1700000100);
  EXPECT_EQ(back->updated_at().nanos(), 250000000);
}

TEST(Codec, ZonesOutsideTheListAreKeptByName) {
  auto sealer = core::Sealer::from_key(kKey);
  v1::Customer c = sample();
  c.set_time_zone("America/Nome");
  auto back = decode_customer("C-1001", encode_record(c, *sealer, 1), *sealer);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->time_zone(), "America/Nome");
}

TEST(Codec, ARecordWithoutCompactPartsStillDecodes) {
  // As records were written before fields 5 to 9: everything inside `customer`.
  auto sealer = core::Sealer::from_key(kKey);
  v1::CustomerRecord old;
  ASSERT_TRUE(old.ParseFromString(encode_record(sample(), *sealer, 1700000000123)));
  v1::Customer* profile = old.mutable_customer();
  profile->set_time_zone("America/Chicago");
  profile->mutable_premises(0)->mutable_location()->set_lat(41.88);
  profile->mutable_premises(0)->mutable_location()->set_lon(-87.63);
  profile->mutable_preferences()->mutable_quiet_hours()->set_start("22:00");
  profile->mutable_preferences()->mutable_quiet_hours()->set_end("06:00");
  old.clear_premise_e7();
  old.clear_time_zone_code();
  auto back = decode_customer("C-1001", old.SerializeAsString(), *sealer);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->time_zone(), "America/Chicago");
  EXPECT_EQ(back->premises(0).location().lat(), 41.88);
  EXPECT_EQ(back->preferences().quiet_hours().start(), "22:00");
  EXPECT_EQ(back->name(), "Ada Lovelace");
}

TEST(Codec, DecodeRecordTakesTheIdFromTheRecord) {
  auto sealer = core::Sealer::from_key(kKey);
  auto back = decode_record(encode_record(sample(), *sealer, 1), *sealer);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->id(), "C-1001");
  EXPECT_EQ(back->email(), "ada@example.com");
}

// The planner opens a batch's records on one arena: the customer must be the same one.
TEST(Codec, ARecordOpenedOnAnArenaEqualsOneOpenedOnTheHeap) {
  auto sealer = core::Sealer::from_key(kKey);
  v1::Customer given = sample();
  given.mutable_preferences()->mutable_quiet_hours()->set_start("22:00");
  given.mutable_preferences()->mutable_quiet_hours()->set_end("07:00");
  const std::string record = encode_record(given, *sealer, 1700000000123);
  auto heap = decode_record(record, *sealer);
  ASSERT_TRUE(heap.ok());
  google::protobuf::Arena arena;
  auto on_arena = decode_record(record, *sealer, arena);
  ASSERT_TRUE(on_arena.ok());
  EXPECT_EQ((*on_arena)->GetArena(), &arena);
  EXPECT_EQ((*on_arena)->SerializeAsString(), heap->SerializeAsString());
  EXPECT_EQ((*on_arena)->premises(0).address(), "12 Elm St");
  EXPECT_EQ((*on_arena)->preferences().quiet_hours().end(), "07:00");
  // A record sealed for another customer does not open on the arena either.
  v1::CustomerRecord moved;
  ASSERT_TRUE(moved.ParseFromString(record));
  moved.mutable_customer()->set_id("C-1002");
  EXPECT_FALSE(decode_record(moved.SerializeAsString(), *sealer, arena).ok());
}

TEST(Codec, SealedDetailsDoNotOpenUnderAnotherCustomersId) {
  auto sealer = core::Sealer::from_key(kKey);
  auto e = encode_customer(sample(), *sealer, 1700000000123);
  EXPECT_FALSE(decode_customer("C-1002", e.record, *sealer).ok());
}

TEST(Codec, IndexListNamesEveryPremiseAndOnlyLocatedOnesInGeo) {
  auto sealer = core::Sealer::from_key(kKey);
  auto e = encode_customer(sample(), *sealer, 1700000000123);
  EXPECT_EQ(e.index, "P-77," + premise_key("P-77") + ",F-12,T-9,10001,gc1:212013:261501,gb1:5300:6537,541;P-78," +
                         premise_key("P-78") + ",F-13,,,,,");
  EXPECT_EQ(e.geo, "-73.9935000 40.7506000");
}

TEST(Keys, GeoCellsAreAFixedGridGroupedInBlocks) {
  // x = floor((lon + 180) / 0.0005), y = floor((lat + 90) / 0.0005)
  EXPECT_EQ(geo_cell_key(40.7506, -73.9935), "gc1:212013:261501");
  EXPECT_EQ(geo_cell_key(40.7509, -73.9931), "gc1:212013:261501");  // a few metres away
  EXPECT_EQ(geo_cell_key(40.7511, -73.9935), "gc1:212013:261502");  // next cell north
  EXPECT_EQ(geo_cell_key(-33.8688, 151.2093), "gc1:662418:112262");  // southern, eastern
  const GeoCell origin = geo_cell(0.0, 0.0);
  EXPECT_EQ(origin.x, 360000);
  EXPECT_EQ(origin.y, 180000);
  // Blocks of 40 x 40 cells; the member names the cell within its block.
  const GeoCell c{212013, 261501};
  const GeoBlock b = geo_block(c);
  EXPECT_EQ(geo_block_key(b), "gb1:5300:6537");
  EXPECT_EQ(geo_block_member(c), 13 * 40 + 21);
  const GeoCell back = geo_block_cell(b, geo_block_member(c));
  EXPECT_EQ(back.x, c.x);
  EXPECT_EQ(back.y, c.y);
}

TEST(Keys, APremisesFieldNamesItsCustomerAndItsPatternMatchesNoOtherPremise) {
  EXPECT_EQ(premise_field("P-77", "1234"), "P-77,1234");
  EXPECT_EQ(premise_match("P-77"), "P-77,*");
  // Ids are validated to letters, digits, '.', '_' and '-', but a pattern never lets one
  // through as a wildcard.
  EXPECT_EQ(premise_match("P*7?[a]\\"), "P\\*7\\?\\[a\\]\\\\,*");
}

TEST(Keys, CustomersNumberedTogetherShareAnIndexSlice) {
  EXPECT_EQ(index_slice(0), 0u);
  EXPECT_EQ(index_slice(kIndexSliceRun - 1), 0u);
  EXPECT_EQ(index_slice(kIndexSliceRun), 1u);
  EXPECT_EQ(index_slice(kIndexSliceRun * kIndexSlices + 5), 0u);  // the slices wrap
  EXPECT_EQ(feeder_key("F-1", 3), "ix:f:F-1:3");
  EXPECT_EQ(zip_key("10001", 15), "ix:z:10001:15");
}

TEST(Keys, BucketsAreStableAndTagged) {
  EXPECT_EQ(record_key(0), "c:{0}");
  EXPECT_EQ(record_key(64), "c:{1}");
  EXPECT_EQ(record_field(65), "1");
  EXPECT_EQ(fnv1a("a"), 0xe40c292cu);
  EXPECT_EQ(customer_id_key("C-1").rfind("cid:{", 0), 0u);
}

}  // namespace
}  // namespace herald::store
