#include <gtest/gtest.h>

#include "service/journey/keywords.h"
#include "service/journey/report.h"
#include "service/store/touchpoints.h"

namespace herald::journey {
namespace {

TEST(JourneyReport, PercentilesOfTimeToNotifyAreNearestRank) {
  Histogram h;
  for (int s = 1; s <= 100; ++s) h[s] = 1;
  auto p = percentiles(h);
  EXPECT_EQ(p.customers(), 100);
  EXPECT_EQ(p.p50_s(), 50);
  EXPECT_EQ(p.p90_s(), 90);
  EXPECT_EQ(p.p99_s(), 99);
  EXPECT_EQ(percentiles({}).customers(), 0);
}

TEST(JourneyReport, TimeToNotifyIsRelativeToTheEventsAcceptance) {
  EventData d;
  d.state.emplace();
  d.state->mutable_created_at()->set_seconds(1000);
  d.first_delivery = {{1005, 3}, {1065, 1}, {990, 1}};
  auto h = time_to_notify(d);
  EXPECT_EQ(h[5], 3);
  EXPECT_EQ(h[65], 1);
  EXPECT_EQ(h[0], 1) << "a clock a little behind never makes a negative time";
}

TEST(JourneyReport, ChannelsCombineTheFunnelAndTheDeliveryCounters) {
  EventData d;
  d.funnel = {{"audience", 10},          {"sms:queued", 8}, {"sms:sent", 8},
              {"sms:suppressed:cadence", 2}, {"email:queued", 3}, {"email:sent", 2},
              {"email:failed", 1}};
  d.counters = {{"sms:delivery:delivered", 6}, {"sms:delivery:undelivered", 2},
                {"sms:reply:STOP", 1},         {"sms:optouts", 1},
                {"optouts", 1}};
  auto r = event_report(d);
  EXPECT_EQ(r.audience(), 10);
  ASSERT_EQ(r.channels_size(), 2);
  const auto& sms = r.channels(0);
  EXPECT_EQ(sms.channel(), v1::SMS);
  EXPECT_EQ(sms.delivered(), 6);
  EXPECT_EQ(sms.undelivered(), 2);
  EXPECT_DOUBLE_EQ(sms.delivery_rate(), 0.75);
  EXPECT_EQ(sms.suppressed_by_reason().at("cadence"), 2);
  EXPECT_EQ(sms.replies().at("STOP"), 1);
  EXPECT_EQ(r.opt_outs(), 1);
  EXPECT_EQ(r.channels(1).failed(), 1);
  EXPECT_EQ(r.callbacks().requested(), 0u) << "no callback was tied to the event";
}

TEST(JourneyReport, CallbacksTiedToTheEventAreReportedAsCounted) {
  EventData d;
  d.callbacks.set_requested(4);
  d.callbacks.set_completed(2);
  d.callbacks.set_no_answer(1);
  d.out_reports = 3;
  auto r = event_report(d);
  EXPECT_EQ(r.callbacks().requested(), 4u);
  EXPECT_EQ(r.callbacks().completed(), 2u);
  EXPECT_EQ(r.callbacks().no_answer(), 1u);
  EXPECT_EQ(r.out_reports_after_restoration(), 3);
}

TEST(JourneyReport, SurveySatisfactionIsTheShareOfFoursAndFives) {
  auto s = survey_report({{"5", 3}, {"4", 1}, {"1", 4}});
  EXPECT_EQ(s.responses(), 8);
  EXPECT_DOUBLE_EQ(s.mean(), (15 + 4 + 4) / 8.0);
  EXPECT_DOUBLE_EQ(s.satisfied_share(), 0.5);
}

TEST(JourneyReport, MergedChannelsKeepTheDeliveryRateARatioOfSums) {
  google::protobuf::RepeatedPtrField<v1::ChannelReport> into;
  v1::ChannelReport a, b;
  a.set_channel(v1::SMS);
  a.set_sent(10);
  a.set_delivered(10);
  b.set_channel(v1::SMS);
  b.set_sent(30);
  b.set_delivered(15);
  merge_channels(into, {a});
  merge_channels(into, {b});
  ASSERT_EQ(into.size(), 1);
  EXPECT_DOUBLE_EQ(into[0].delivery_rate(), 25.0 / 40.0);
}

TEST(ComplaintKeywords, MatchWholeWordsWithoutCaseOrAccents) {
  KeywordMatcher m({"complaint", "reclamación", "fed up", "pésimo"});
  EXPECT_EQ(m.match("I want to file a COMPLAINT now"), "complaint");
  EXPECT_EQ(m.match("Quiero hacer una RECLAMACION"), "reclamación");
  EXPECT_EQ(m.match("servicio PÉSIMO!"), "pésimo");
  EXPECT_EQ(m.match("servicio pesimo"), "pésimo");
  EXPECT_EQ(m.match("I am Fed Up with this"), "fed up");
  EXPECT_FALSE(m.match("no complaints here")) << "whole words only";
  EXPECT_FALSE(m.match("thanks, power is back"));
}

TEST(ComplaintKeywords, DefaultsCoverBothLanguages) {
  std::vector<std::string> all = kDefaultKeywordsEn;
  all.insert(all.end(), kDefaultKeywordsEs.begin(), kDefaultKeywordsEs.end());
  KeywordMatcher m(all);
  EXPECT_TRUE(m.match("This is unacceptable"));
  EXPECT_TRUE(m.match("Tengo una queja sobre el corte"));
  EXPECT_TRUE(m.match("¡Qué vergüenza de servicio!"));
}

TEST(TouchpointLayout, OptOutKeywordsAreTheStopFamily) {
  EXPECT_TRUE(store::is_opt_out("STOP"));
  EXPECT_TRUE(store::is_opt_out("stop outage"));
  EXPECT_TRUE(store::is_opt_out("UNSUBSCRIBE"));
  EXPECT_FALSE(store::is_opt_out("START"));
  EXPECT_FALSE(store::is_opt_out("STOPPED"));
  EXPECT_FALSE(store::is_opt_out("CANCEL CALL"));
}

}  // namespace
}  // namespace herald::journey
