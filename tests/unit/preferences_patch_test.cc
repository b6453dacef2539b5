#include <gtest/gtest.h>

#include "service/api/preferences_patch.h"

namespace herald::api {
namespace {

v1::Preferences current() {
  v1::Preferences p;
  p.mutable_channels()->add_outage(v1::SMS);
  p.mutable_channels()->add_outage(v1::EMAIL);
  p.mutable_channels()->add_planned_maintenance(v1::EMAIL);
  p.set_cadence(v1::MILESTONES);
  p.mutable_quiet_hours()->set_start("21:00");
  p.mutable_quiet_hours()->set_end("07:00");
  p.set_max_per_day(6);
  return p;
}

v1::Preferences patched(const char* body) {
  auto patch = PreferencesPatch::parse_json(body);
  EXPECT_TRUE(patch.ok()) << body;
  auto p = current();
  if (patch.ok()) patch->apply(p);
  return p;
}

TEST(PreferencesPatch, ReplacesOnlyTheKindNamed) {
  auto p = patched(R"({"channels":{"OUTAGE":["VOICE"]}})");
  ASSERT_EQ(p.channels().outage_size(), 1);
  EXPECT_EQ(p.channels().outage(0), v1::VOICE);
  ASSERT_EQ(p.channels().planned_maintenance_size(), 1);
  EXPECT_EQ(p.cadence(), v1::MILESTONES);
  EXPECT_EQ(p.quiet_hours().start(), "21:00");
  EXPECT_EQ(p.max_per_day(), 6u);
}

TEST(PreferencesPatch, EmptyOrNullListOptsOutOfThatKind) {
  EXPECT_EQ(patched(R"({"channels":{"OUTAGE":[]}})").channels().outage_size(), 0);
  EXPECT_EQ(patched(R"({"channels":{"OUTAGE":null}})").channels().outage_size(), 0);
}

TEST(PreferencesPatch, NullClearsScalarsAndQuietHours) {
  auto p = patched(R"({"quietHours":null,"maxPerDay":null})");
  EXPECT_FALSE(p.has_quiet_hours());
  EXPECT_FALSE(p.has_max_per_day());
  EXPECT_EQ(p.channels().outage_size(), 2);
}

TEST(PreferencesPatch, SetsCadenceAndCallbackOffers) {
  auto p = patched(R"({"cadence":"RESTORATION_ONLY","callbackOffers":true})");
  EXPECT_EQ(p.cadence(), v1::RESTORATION_ONLY);
  EXPECT_TRUE(p.callback_offers());
}

TEST(PreferencesPatch, NullChannelsClearsEveryKindAndLeavesTheRest) {
  auto p = patched(R"({"channels":null})");
  EXPECT_EQ(p.channels().outage_size(), 0);
  EXPECT_EQ(p.channels().planned_maintenance_size(), 0);
  EXPECT_EQ(p.cadence(), v1::MILESTONES);
  EXPECT_EQ(p.quiet_hours().end(), "07:00");
}

TEST(PreferencesPatch, ABodyThatIsNotAnObjectIsRejected) {
  EXPECT_FALSE(PreferencesPatch::parse_json(R"(["cadence"])").ok());
  EXPECT_FALSE(PreferencesPatch::parse_json(R"({"cadence":"MILESTONES")").ok());
}

TEST(PreferencesPatch, UnknownMembersAreRejectedWithTheirName) {
  auto patch = PreferencesPatch::parse_json(R"({"channels":{"FLOOD":["SMS"]}})");
  ASSERT_FALSE(patch.ok());
  EXPECT_EQ(patch.error().field, "channels.FLOOD");
}

}  // namespace
}  // namespace herald::api
