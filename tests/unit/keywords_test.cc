#include <gtest/gtest.h>

#include "service/dispatch/queue.h"
#include "service/inbound/keywords.h"
#include "service/notify/notice.h"

namespace herald::inbound {
namespace {

TEST(Keywords, EveryOptOutWordStopsAllSms) {
  for (const char* text : {"STOP", "stop", "  Stop  ", "STOPALL", "unsubscribe", "Cancel", "END",
                           "quit", "stop."}) {
    EXPECT_EQ(parse_keyword(text).keyword, Keyword::kStop) << text;
  }
}

TEST(Keywords, StartHelpStatusOutCall) {
  for (const char* text : {"START", "unstop", " yes"}) {
    EXPECT_EQ(parse_keyword(text).keyword, Keyword::kStart) << text;
  }
  EXPECT_EQ(parse_keyword("help").keyword, Keyword::kHelp);
  EXPECT_EQ(parse_keyword("Info\n").keyword, Keyword::kHelp);
  EXPECT_EQ(parse_keyword("status").keyword, Keyword::kStatus);
  EXPECT_EQ(parse_keyword(" out ").keyword, Keyword::kOut);
  EXPECT_EQ(parse_keyword("Call").keyword, Keyword::kCall);
  EXPECT_EQ(parse_keyword("Call").word, "CALL");
}

TEST(Keywords, CancelCallDropsTheCallbackButCancelAloneIsAStop) {
  EXPECT_EQ(parse_keyword("cancel call").keyword, Keyword::kCancelCall);
  EXPECT_EQ(parse_keyword(" Cancel  Callback!").keyword, Keyword::kCancelCall);
  EXPECT_EQ(parse_keyword("CANCEL").keyword, Keyword::kStop);
}

TEST(Keywords, ScopedStopsNameTheSetThePlannerReads) {
  auto p = parse_keyword("stop   outage");
  EXPECT_EQ(p.keyword, Keyword::kStopKind);
  EXPECT_EQ(p.word, "STOP OUTAGE");
  EXPECT_EQ(stop_kind_key(p.kind), "stop:sms:OUTAGE");
  EXPECT_EQ(stop_kind_key(parse_keyword("Stop Maintenance").kind),
            "stop:sms:PLANNED_MAINTENANCE");
  EXPECT_EQ(stop_kind_key(parse_keyword("STOP WATER").kind), "stop:sms:BOIL_WATER_ADVISORY");
}

TEST(Keywords, SurveyDigitsOneToFive) {
  EXPECT_EQ(parse_keyword("1").score, 1);
  EXPECT_EQ(parse_keyword(" 5 ").keyword, Keyword::kSurvey);
  EXPECT_EQ(parse_keyword("5").score, 5);
  EXPECT_EQ(parse_keyword("0").keyword, Keyword::kText);
  EXPECT_EQ(parse_keyword("6").keyword, Keyword::kText);
  EXPECT_EQ(parse_keyword("12").keyword, Keyword::kText);
}

TEST(Keywords, AnythingElseIsFreeText) {
  for (const char* text : {"", "please stop", "STOP NOW", "when is power back?", "outage"}) {
    const auto p = parse_keyword(text);
    EXPECT_EQ(p.keyword, Keyword::kText) << text;
    EXPECT_TRUE(p.word.empty());
  }
}

}  // namespace
}  // namespace herald::inbound

namespace herald::notify {
namespace {

const char* kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1795453200));

v1::Customer customer(const std::string& language) {
  v1::Customer c;
  c.set_id("C-7");
  c.set_name("Grace Hopper");
  c.set_phone("+12014316859");
  c.set_email("grace@example.net");
  c.set_language(language);
  return c;
}

class Notices : public ::testing::Test {
 protected:
  v1::MessageContent open(const v1::OutboundMessage& m) {
    v1::MessageContent content;
    auto opened = sealer_.open(m.sealed_content(), m.id());
    EXPECT_TRUE(opened.ok());
    if (opened.ok()) content.ParseFromString(*opened);
    return content;
  }
  core::Sealer sealer_ = *core::Sealer::from_key(kKey);
  templates::Catalog catalog_ = templates::Catalog::load(HERALD_SOURCE_DIR "/templates");
};

TEST_F(Notices, HelpReplyInTheCustomersLanguageSealedAndQueued) {
  redis::Batch batch;
  Notice help;
  help.name = "help";
  auto id = append_notice(batch, customer("es"), 42, help, catalog_, sealer_, kNow);
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->rfind("notice:help:42:", 0), 0u);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0][0], "XADD");
  EXPECT_EQ(batch[0][1], dispatch::stream_key(v1::SMS, v1::PRIORITY_NORMAL));
  v1::OutboundMessage msg;
  ASSERT_TRUE(msg.ParseFromString(batch[0].back()));
  EXPECT_EQ(msg.id(), *id);
  EXPECT_TRUE(msg.event_id().empty());
  EXPECT_EQ(msg.customer_num(), 42u);
  const auto content = open(msg);
  EXPECT_EQ(content.to(), "+12014316859");
  EXPECT_NE(content.sms().find("Responda STATUS"), std::string::npos) << content.sms();
  EXPECT_GE(content.sms_segments(), 1u);
}

TEST_F(Notices, StatusReplyUsesTheCallersVariablesAndHasAValidity) {
  Notice status;
  status.name = "status";
  status.valid_for = std::chrono::hours(1);
  auto none = compose_notice(customer("en"), 7, status, catalog_, sealer_, kNow);
  ASSERT_TRUE(none.ok());
  EXPECT_NE(open(*none).sms().find("We know of no outage"), std::string::npos);
  EXPECT_EQ(none->valid_until().seconds(), none->queued_at().seconds() + 3600);
  status.vars["items"] = "Power outage OUT-1: restoration expected 6:00 PM.";
  auto some = compose_notice(customer("en"), 7, status, catalog_, sealer_, kNow);
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(open(*some).sms(), "Power outage OUT-1: restoration expected 6:00 PM.");
}

TEST_F(Notices, EmailHelpHasAllThreeParts) {
  Notice help;
  help.name = "help";
  help.channel = v1::EMAIL;
  auto m = compose_notice(customer("en"), 7, help, catalog_, sealer_, kNow);
  ASSERT_TRUE(m.ok());
  const auto c = open(*m);
  EXPECT_EQ(c.to(), "grace@example.net");
  EXPECT_NE(c.text().find("Hello Grace,"), std::string::npos);
  EXPECT_NE(c.html().find("<b>STATUS</b>"), std::string::npos);
  EXPECT_FALSE(c.subject().empty());
}

TEST_F(Notices, ErrorsNameWhatIsMissing) {
  Notice n;
  n.name = "help";
  n.channel = v1::VOICE;  // help has no voice script
  EXPECT_EQ(compose_notice(customer("en"), 7, n, catalog_, sealer_, kNow).error().code,
            ErrorCode::kNotFound);
  n.name = "../outage";
  EXPECT_EQ(compose_notice(customer("en"), 7, n, catalog_, sealer_, kNow).error().code,
            ErrorCode::kInvalidArgument);
  n.name = "help";
  n.channel = v1::SMS;
  auto no_phone = customer("en");
  no_phone.clear_phone();
  EXPECT_EQ(compose_notice(no_phone, 7, n, catalog_, sealer_, kNow).error().code,
            ErrorCode::kConflict);
}

TEST(NoticeIds, ParseBackAndNeverMistakeAnEventMessage) {
  auto ref = parse_notice_id(notice_id("help", 42, "AbC-_1"));
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->name, "help");
  EXPECT_EQ(ref->num, 42u);
  EXPECT_FALSE(parse_notice_id("OUT-1:3:SMS:42"));
  EXPECT_FALSE(parse_notice_id("notice:3:SMS:42"));  // an event called "notice"
  EXPECT_FALSE(parse_notice_id("notice:help:x:1"));
}

}  // namespace
}  // namespace herald::notify
