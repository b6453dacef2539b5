#include "service/fanout/compose.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include "service/dispatch/content.h"

namespace herald::fanout {
namespace {

using google::protobuf::util::TimeUtil;
using Clock = std::chrono::system_clock;

const char* kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

v1::Customer customer(const std::string& language) {
  v1::Customer c;
  c.set_id("C-7");
  c.set_name("Grace Brewster Hopper");
  c.set_phone("+12014316859");
  c.set_email("grace@example.net");
  c.set_language(language);
  c.set_time_zone("America/New_York");
  c.add_premises()->set_address("7 Harbor Rd");
  c.add_premises()->set_address("9 Dock St");
  c.add_premises()->set_address("1 Pier Ave");
  c.mutable_preferences()->set_callback_offers(true);
  return c;
}

v1::Event outage() {
  v1::Event e;
  e.set_id("OUT-9");
  e.set_kind(v1::OUTAGE);
  e.set_stage(v1::DETECTED);
  e.set_revision(2);
  e.set_cause("storm damage");
  // 2026-11-23 23:00 UTC is 6:00 PM in New York.
  *e.mutable_estimated_restoration() = TimeUtil::SecondsToTimestamp(1795474800);
  return e;
}

const Clock::time_point kNoon = Clock::time_point(std::chrono::seconds(1795453200));  // 12:00 NY

class Compose : public ::testing::Test {
 protected:
  core::Sealer sealer_ = *core::Sealer::from_key(kKey);
  core::TokenSigner signer_ = *core::TokenSigner::from_key(kKey);
  templates::Catalog catalog_ = templates::Catalog::load(HERALD_SOURCE_DIR "/templates");
};

TEST_F(Compose, VarsNameTheAffectedPremisesAndLocalTimes) {
  auto v = message_vars(customer("en"), outage(), {0, 2}, signer_, {}, kNoon);
  EXPECT_EQ(v.first_name, "Grace");
  EXPECT_EQ(v.premises, "7 Harbor Rd and 1 Pier Ave");
  EXPECT_EQ(v.etr_local, "6:00 PM");
  EXPECT_EQ(v.callback_line, "Reply CALL for a callback.");
  EXPECT_NE(v.manage_link.find("/C-7?token=hct1."), std::string::npos);
  auto es = message_vars(customer("es"), outage(), {0, 1}, signer_, {}, kNoon);
  EXPECT_EQ(es.premises, "7 Harbor Rd y 9 Dock St");
  EXPECT_EQ(es.etr_local, "18:00");
}

TEST_F(Compose, AnEtrOnAnotherDayCarriesItsDate) {
  auto e = outage();
  *e.mutable_estimated_restoration() = TimeUtil::SecondsToTimestamp(1795474800 + 86400);
  auto v = message_vars(customer("en"), e, {0}, signer_, {}, kNoon);
  EXPECT_NE(v.etr_local.find("Nov 24"), std::string::npos) << v.etr_local;
}

TEST_F(Compose, SmsIsSealedUnderItsIdAndKnowsItsSegments) {
  const auto c = customer("en");
  const auto e = outage();
  auto v = message_vars(c, e, {0}, signer_, {}, kNoon);
  auto msg = compose(c, 42, e, v1::SMS, v1::PRIORITY_NORMAL, v, catalog_, sealer_, kNoon);
  ASSERT_TRUE(msg.ok()) << msg.error().message;
  EXPECT_EQ(msg->id(), "OUT-9:2:SMS:42");
  EXPECT_EQ(msg->etr_shown(), "6:00 PM");
  EXPECT_EQ(msg->sealed_content().find("7 Harbor Rd"), std::string::npos);
  auto opened = sealer_.open(msg->sealed_content(), msg->id());
  ASSERT_TRUE(opened.ok());
  v1::MessageContent content;
  ASSERT_TRUE(content.ParseFromString(*opened));
  EXPECT_EQ(content.to(), "+12014316859");
  EXPECT_NE(content.sms().find("7 Harbor Rd"), std::string::npos) << content.sms();
  EXPECT_GE(content.sms_segments(), 1u);
  EXPECT_LE(content.sms_segments(), 2u);
  EXPECT_TRUE(content.sms_gsm7());
  EXPECT_FALSE(sealer_.open(msg->sealed_content(), "OUT-9:2:SMS:43").ok());
}

TEST_F(Compose, MaintenanceNoticesExpireWhenTheyNoLongerHelp) {
  const auto c = customer("en");
  v1::Event e;
  e.set_id("MNT-4");
  e.set_kind(v1::PLANNED_MAINTENANCE);
  e.set_stage(v1::REMINDER);
  e.set_revision(2);
  *e.mutable_window_start() = TimeUtil::SecondsToTimestamp(1795460400);
  *e.mutable_window_end() = TimeUtil::SecondsToTimestamp(1795467600);
  auto v = message_vars(c, e, {0}, signer_, {}, kNoon);
  auto reminder = compose(c, 42, e, v1::SMS, v1::PRIORITY_NORMAL, v, catalog_, sealer_, kNoon);
  ASSERT_TRUE(reminder.ok()) << reminder.error().message;
  EXPECT_EQ(reminder->valid_until().seconds(), 1795460400) << "a reminder after the start is moot";
  e.set_stage(v1::STARTED);
  auto started = compose(c, 42, e, v1::SMS, v1::PRIORITY_NORMAL, v, catalog_, sealer_, kNoon);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_EQ(started->valid_until().seconds(), 1795467600);
  auto v_out = message_vars(c, outage(), {0}, signer_, {}, kNoon);
  auto out = compose(c, 42, outage(), v1::SMS, v1::PRIORITY_NORMAL, v_out, catalog_, sealer_, kNoon);
  EXPECT_FALSE(out->has_valid_until()) << "an outage message is overtaken, not expired";
}

TEST_F(Compose, EmailHasAllThreePartsToTheEmailAddress) {
  const auto c = customer("es");
  auto v = message_vars(c, outage(), {0}, signer_, {}, kNoon);
  auto msg = compose(c, 1, outage(), v1::EMAIL, v1::PRIORITY_NORMAL, v, catalog_, sealer_, kNoon);
  ASSERT_TRUE(msg.ok());
  // An email is compressed before it is sealed, so its entry holds about half the bytes.
  EXPECT_TRUE(msg->sealed_content().empty());
  auto opened = dispatch::open_content(sealer_, *msg);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  const v1::MessageContent& content = *opened;
  EXPECT_LT(msg->sealed_lz4_content().size(), content.ByteSizeLong() * 2 / 3);
  EXPECT_EQ(content.to(), "grace@example.net");
  EXPECT_FALSE(content.subject().empty());
  EXPECT_NE(content.html().find("<"), std::string::npos);
  EXPECT_NE(content.text().find("7 Harbor Rd"), std::string::npos);
}

}  // namespace
}  // namespace herald::fanout
