#include <gtest/gtest.h>
#include <google/protobuf/util/time_util.h>

#include "service/callbacks/keys.h"
#include "service/callbacks/slots.h"
#include "service/callbacks/tell.h"

namespace herald::callbacks {
namespace {

using google::protobuf::util::TimeUtil;

int64_t at(const char* rfc3339) {
  google::protobuf::Timestamp t;
  EXPECT_TRUE(TimeUtil::FromString(rfc3339, &t)) << rfc3339;
  return t.seconds();
}

v1::Customer customer(const char* zone, const char* quiet_start, const char* quiet_end) {
  v1::Customer c;
  c.set_time_zone(zone);
  c.mutable_preferences()->mutable_quiet_hours()->set_start(quiet_start);
  c.mutable_preferences()->mutable_quiet_hours()->set_end(quiet_end);
  return c;
}

Slot slot(const char* start, uint32_t minutes = 15, uint32_t agents = 2, uint32_t booked = 0) {
  return Slot{at(start), minutes, agents, booked};
}

TEST(CallbackSlots, QuietHoursAreTheCustomersOwnLocalHours) {
  const auto ny = hours_of(customer("America/New_York", "22:00", "07:00"));
  const auto madrid = hours_of(customer("Europe/Madrid", "22:00", "07:00"));
  // 11:00Z on 24 Nov is 06:00 in New York (quiet) and 12:00 in Madrid.
  EXPECT_FALSE(acceptable(slot("2026-11-24T11:00:00Z"), ny, 0));
  EXPECT_TRUE(acceptable(slot("2026-11-24T11:00:00Z"), madrid, 0));
  EXPECT_TRUE(acceptable(slot("2026-11-24T12:00:00Z"), ny, 0));  // 07:00 local
}

TEST(CallbackSlots, TheWholeSlotMustBeOutsideQuietHours) {
  const auto ny = hours_of(customer("America/New_York", "22:00", "07:00"));
  // 21:30-22:00 local fits; 21:45-22:15 runs into quiet hours.
  EXPECT_TRUE(acceptable(slot("2026-11-25T02:30:00Z", 30), ny, 0));
  EXPECT_FALSE(acceptable(slot("2026-11-25T02:45:00Z", 30), ny, 0));
}

TEST(CallbackSlots, SpringForwardMovesTheQuietWindowInUtc) {
  const auto ny = hours_of(customer("America/New_York", "22:00", "07:00"));
  // 11:00Z is 06:00 EST on 13 March 2027 (quiet) but 07:00 EDT on 14 March (DST began).
  EXPECT_FALSE(acceptable(slot("2027-03-13T11:00:00Z"), ny, 0));
  EXPECT_TRUE(acceptable(slot("2027-03-14T11:00:00Z"), ny, 0));
  EXPECT_FALSE(acceptable(slot("2027-03-14T10:45:00Z"), ny, 0));  // 06:45 EDT
}

TEST(CallbackSlots, FallBackMovesItTheOtherWay) {
  const auto ny = hours_of(customer("America/New_York", "22:00", "07:00"));
  // 11:30Z is 07:30 EDT on 6 November 2027 and 06:30 EST on 7 November.
  EXPECT_TRUE(acceptable(slot("2027-11-06T11:30:00Z"), ny, 0));
  EXPECT_FALSE(acceptable(slot("2027-11-07T11:30:00Z"), ny, 0));
}

TEST(CallbackSlots, NeverInThePastNorInAFullSlot) {
  const auto any = hours_of(customer("UTC", "", ""));
  EXPECT_FALSE(acceptable(slot("2026-11-24T10:00:00Z"), any, at("2026-11-24T10:00:01Z")));
  EXPECT_TRUE(acceptable(slot("2026-11-24T10:00:00Z"), any, at("2026-11-24T10:00:00Z")));
  EXPECT_FALSE(acceptable(slot("2026-11-24T10:00:00Z", 15, 2, 2), any, 0));
  EXPECT_FALSE(acceptable(slot("2026-11-24T10:00:00Z", 15, 0, 0), any, 0));
}

TEST(CallbackSlots, AProfileWithoutZoneOrQuietHoursTakesAnyFutureSlot) {
  v1::Customer bare;
  const auto hours = hours_of(bare);
  EXPECT_TRUE(acceptable(slot("2026-11-24T03:00:00Z"), hours, 0));
}

TEST(CallbackSlots, PickSlotsKeepsOrderAndSkipsWhatDoesNotFit) {
  const auto ny = hours_of(customer("America/New_York", "22:00", "07:00"));
  std::vector<Slot> slots = {slot("2026-11-24T10:00:00Z"),          // 05:00 quiet
                             slot("2026-11-24T12:00:00Z", 15, 1, 1),  // full
                             slot("2026-11-24T12:15:00Z"), slot("2026-11-24T12:30:00Z"),
                             slot("2026-11-24T12:45:00Z")};
  auto picks = pick_slots(slots, ny, 0, 2);
  ASSERT_EQ(picks.size(), 2u);
  EXPECT_EQ(picks[0].start_s, at("2026-11-24T12:15:00Z"));
  EXPECT_EQ(picks[1].start_s, at("2026-11-24T12:30:00Z"));
}

TEST(CallbackSlots, CapacityBodiesAreCheckedFieldByField) {
  v1::CallbackCapacity body;
  EXPECT_EQ(validate_capacity(body).error().field, "slots");
  auto* s = body.add_slots();
  EXPECT_EQ(validate_capacity(body).error().field, "slots[0].start");
  s->mutable_start()->set_seconds(at("2026-11-24T12:00:30Z"));
  s->set_minutes(15);
  EXPECT_EQ(validate_capacity(body).error().field, "slots[0].start");
  s->mutable_start()->set_seconds(at("2026-11-24T12:00:00Z"));
  s->set_minutes(2);
  EXPECT_EQ(validate_capacity(body).error().field, "slots[0].minutes");
  s->set_minutes(15);
  s->set_agents(kMaxAgents + 1);
  EXPECT_EQ(validate_capacity(body).error().field, "slots[0].agents");
  s->set_agents(3);
  auto* earlier = body.add_slots();
  earlier->mutable_start()->set_seconds(at("2026-11-24T11:00:00Z"));
  earlier->set_minutes(30);
  earlier->set_agents(1);
  auto sorted = validate_capacity(body);
  ASSERT_TRUE(sorted.ok()) << sorted.error().message;
  EXPECT_EQ((*sorted)[0].start_s, at("2026-11-24T11:00:00Z"));
  const Range r = covered_range(*sorted);
  EXPECT_EQ(r.from_s, at("2026-11-24T11:00:00Z"));
  EXPECT_EQ(r.to_s, at("2026-11-24T12:15:00Z"));
  *body.add_slots() = body.slots(0);
  auto dup = validate_capacity(body);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().field, "slots[2].start");
}

TEST(CallbackSlots, CapacityTextRoundTrips) {
  uint32_t minutes = 0;
  uint32_t agents = 0;
  ASSERT_TRUE(decode_capacity(encode_capacity(15, 4), minutes, agents));
  EXPECT_EQ(minutes, 15u);
  EXPECT_EQ(agents, 4u);
  EXPECT_FALSE(decode_capacity("15", minutes, agents));
  EXPECT_FALSE(decode_capacity("15:4x", minutes, agents));
}

TEST(CallbackNotices, BookingsMovesAndCancellationsAreTold) {
  EXPECT_EQ(notice_name("booked"), "callback_booked");
  EXPECT_EQ(notice_name("moved"), "callback_booked");
  EXPECT_EQ(notice_name("canceled"), "callback_canceled");
  EXPECT_EQ(notice_name("waiting"), "callback_waiting");
  EXPECT_EQ(notice_name("unplaced"), "callback_waiting");
  EXPECT_EQ(notice_name("completed"), "");
  EXPECT_EQ(notice_name("requested"), "");
}

TEST(CallbackNotices, TheCustomersOwnChannelIsUsed) {
  v1::Customer c;
  c.set_phone("+12014316859");
  c.set_email("a@example.net");
  EXPECT_EQ(notice_channel(c), v1::SMS);
  c.mutable_preferences()->mutable_channels()->add_outage(v1::EMAIL);
  EXPECT_EQ(notice_channel(c), v1::EMAIL);
  c.mutable_preferences()->mutable_channels()->clear_outage();
  c.mutable_preferences()->mutable_channels()->add_outage(v1::VOICE);
  EXPECT_EQ(notice_channel(c), v1::SMS);  // a voice call to confirm a call is not a notice
  c.clear_phone();
  EXPECT_EQ(notice_channel(c), v1::EMAIL);
}

}  // namespace
}  // namespace herald::callbacks
