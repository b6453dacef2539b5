#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "service/core/crypto.h"
#include "service/store/touchpoints.h"
#include "tests/support/webhook_fixture.h"

namespace herald::testing {
namespace {

class InboundSms : public WebhookFixture {
 protected:
  HttpResponse text(const std::string& from, const std::string& body) {
    auto r = twilio_post("/v1/webhooks/twilio/inbound",
                         {{"MessageSid", "SM" + std::to_string(++sid_)}, {"From", from},
                          {"To", "+15005550006"}, {"Body", body}});
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("<Response/>"), std::string::npos);
    return r;
  }
  bool member(const std::string& set, uint64_t n) {
    auto r = redis().command(redis::cmd("SISMEMBER", set, std::to_string(n)));
    return r.ok() && r->integer == 1;
  }
  // Waits (bounded) until the planner has queued something for the event to customer n.
  void await_notified(const std::string& event, uint64_t n) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < until) {
      auto r = redis().command(redis::cmd("HGET", "tl:{0}", std::to_string(n)));
      if (r.ok() && r->str == event) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "customer " << n << " was never notified of " << event;
  }
  int sid_ = 0;
};

TEST_F(InboundSms, StopFamilyStartAndScopedStops) {
  const uint64_t n = put_customer("C-1", "+12014316859");
  for (const char* word : {"STOP", " stop ", "StopAll", "unsubscribe", "CANCEL", "end", "Quit"}) {
    text("+12014316859", word);
    EXPECT_TRUE(member("stop:sms", n)) << word;
    text("+12014316859", "start");
    EXPECT_FALSE(member("stop:sms", n)) << word;
  }
  text("+12014316859", "stop outage");
  text("+12014316859", "STOP  Maintenance");
  text("+12014316859", "Stop Water");
  EXPECT_TRUE(member("stop:sms:OUTAGE", n));
  EXPECT_TRUE(member("stop:sms:PLANNED_MAINTENANCE", n));
  EXPECT_TRUE(member("stop:sms:BOIL_WATER_ADVISORY", n));
  EXPECT_FALSE(member("stop:sms", n));
  text("+12014316859", "UNSTOP");
  EXPECT_FALSE(member("stop:sms:OUTAGE", n));
  text("+12014316859", "STOP");
  text("+12014316859", "yes");
  EXPECT_FALSE(member("stop:sms", n));
}

TEST_F(InboundSms, HelpIsAnsweredInTheCustomersLanguageThroughTheQueue) {
  put_customer("C-EN", "+12014316859", "en");
  put_customer("C-ES", "+12014316860", "es");
  text("+12014316859", "help");
  text("+12014316860", " Info ");
  auto en = sandbox_lines("sms", R"("customerId":"C-EN")");
  ASSERT_EQ(en.size(), 1u);
  EXPECT_NE(en[0].find(R"("id":"notice:help:)"), std::string::npos) << en[0];
  EXPECT_NE(en[0].find("Reply STATUS"), std::string::npos) << en[0];
  EXPECT_NE(en[0].find(R"("to":"+12014316859")"), std::string::npos);
  auto es = sandbox_lines("sms", R"("customerId":"C-ES")");
  ASSERT_EQ(es.size(), 1u);
  EXPECT_NE(es[0].find("Responda STATUS"), std::string::npos) << es[0];
}

TEST_F(InboundSms, StatusListsActiveEventsAtTheCustomersPremises) {
  const uint64_t n = put_customer("C-1", "+12014316859", "en", R"(["SMS"])");
  text("+12014316859", "status");
  auto none = sandbox_lines("sms", "notice:status:");
  ASSERT_EQ(none.size(), 1u);
  EXPECT_NE(none[0].find("We know of no outage"), std::string::npos) << none[0];
  raise_outage("OUT-7");
  await_notified("OUT-7", n);
  text("+12014316859", "STATUS");
  auto lines = sandbox_lines("sms", "notice:status:", 2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("Power outage OUT-7: restoration expected"), std::string::npos)
      << lines[1];
  // 2030-01-01 23:00 UTC in New York.
  EXPECT_NE(lines[1].find("6:00 PM"), std::string::npos) << lines[1];
}

TEST_F(InboundSms, OutIsRecordedOnTheEventAndMarkedAfterRestoration) {
  const uint64_t n = put_customer("C-1", "+12014316859", "en", R"(["SMS"])");
  raise_outage("OUT-8");
  await_notified("OUT-8", n);
  text("+12014316859", "out");
  raise_outage("OUT-8", "RESTORED");
  text("+12014316859", "OUT");
  auto view = http_->request("GET", "/v1/events/OUT-8", "", bearer(heraldd_->operator_key()));
  ASSERT_EQ(view.status, 200) << view.body;
  EXPECT_EQ(json_at(view.body, "funnel.reports:out"), "1") << view.body;
  EXPECT_EQ(json_at(view.body, "funnel.reports:out_after_restoration"), "1") << view.body;
}

TEST_F(InboundSms, CallSurveyAndFreeText) {
  const uint64_t n = put_customer("C-1", "+12014316859", "en", R"(["SMS"])");
  raise_outage("OUT-9");
  await_notified("OUT-9", n);
  text("+12014316859", " call ");
  auto cbq = redis().command(redis::cmd("XRANGE", "cbq", "-", "+"));
  ASSERT_TRUE(cbq.ok());
  ASSERT_EQ(cbq->elements.size(), 1u);
  const auto& f = cbq->elements[0].elements[1].elements;
  EXPECT_EQ(f[1].str, std::to_string(n));
  EXPECT_EQ(f[3].str, "OUT-9");
  EXPECT_EQ(f[5].str, "sms CALL");

  raise_outage("OUT-9", "RESTORED");
  text("+12014316859", "4");
  text("+12014316859", " 4");
  text("+12014316859", "5");
  auto sv = redis().command(redis::cmd("HGETALL", "sv:{OUT-9}"));
  ASSERT_TRUE(sv.ok());
  ASSERT_EQ(sv->elements.size(), 4u);
  auto view = http_->request("GET", "/v1/events/OUT-9", "", bearer(heraldd_->operator_key()));
  EXPECT_EQ(json_at(view.body, "funnel.survey:4"), "2") << view.body;
  EXPECT_EQ(json_at(view.body, "funnel.survey:5"), "1") << view.body;

  const std::string said = "My neighbour Mrs Jones at 9 Elm St has no power either";
  text("+12014316859", said);
  auto inbox = redis().command(redis::cmd("XRANGE", "inbox", "-", "+"));
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->elements.size(), 1u);
  const auto& e = inbox->elements[0].elements[1].elements;
  ASSERT_EQ(e.size(), 6u);
  EXPECT_EQ(e[1].str, std::to_string(n));
  EXPECT_EQ(e[4].str, "text");
  EXPECT_EQ(e[5].str.find("Jones"), std::string::npos);  // sealed, never in clear
  auto sealer = core::Sealer::from_key(heraldd_->pii_key());
  EXPECT_EQ(*sealer->open(e[5].str, std::to_string(n)), said);
  auto dump = redis().command(redis::cmd("XRANGE", store::journey_key(n), "-", "+"));
  ASSERT_TRUE(dump.ok());
  const auto stored = store::touchpoints_in(*dump, n, false);
  EXPECT_FALSE(stored.empty());
  for (const auto& bytes : stored) EXPECT_EQ(bytes.find("Jones"), std::string::npos);
}

TEST_F(InboundSms, UnknownNumbersAreAnsweredButNothingIsStored) {
  put_customer("C-1", "+12014316859");
  text("+19995550100", "STOP");
  text("+19995550100", "hello there");
  auto stop = redis().command(redis::cmd("SCARD", "stop:sms"));
  EXPECT_EQ(stop->integer, 0);
  auto inbox = redis().command(redis::cmd("XLEN", "inbox"));  // the stream exists: a group reads it
  EXPECT_EQ(inbox->integer, 0);
  EXPECT_EQ(heraldd_->log().find("9995550100"), std::string::npos);
}

TEST_F(InboundSms, StoppedCustomerGetsNoSmsAndUndeliverableEmailNoEmail) {
  const uint64_t a = put_customer("C-STOP", "+12014316859");
  const uint64_t b = put_customer("C-BOUNCE", "+12014316860");
  put_customer("C-OK", "+12014316861");
  text("+12014316859", "STOP");
  auto r = sendgrid_post(R"([{"event":"bounce","timestamp":1700000000,"herald_message_id":"X:1:EMAIL:)" +
                         std::to_string(b) + R"("}])");
  ASSERT_EQ(r.status, 200) << r.body;
  raise_outage("OUT-10");
  // C-OK gets both; then the others' decisions are surely made too (one planner batch).
  ASSERT_EQ(sandbox_lines("sms", R"("customerId":"C-OK","eventId":"OUT-10")").size(), 1u);
  ASSERT_EQ(sandbox_lines("email", R"("customerId":"C-OK","eventId":"OUT-10")").size(), 1u);
  EXPECT_TRUE(sandbox_lines("sms", R"("customerId":"C-STOP","eventId":"OUT-10")", 0).empty());
  EXPECT_EQ(sandbox_lines("email", R"("customerId":"C-STOP","eventId":"OUT-10")").size(), 1u);
  EXPECT_EQ(sandbox_lines("sms", R"("customerId":"C-BOUNCE","eventId":"OUT-10")").size(), 1u);
  EXPECT_TRUE(sandbox_lines("email", R"("customerId":"C-BOUNCE","eventId":"OUT-10")", 0).empty());
  auto view = http_->request("GET", "/v1/events/OUT-10", "", bearer(heraldd_->operator_key()));
  EXPECT_EQ(json_at(view.body, "funnel.sms:suppressed:stop_replied"), "1") << view.body;
  EXPECT_EQ(json_at(view.body, "funnel.email:suppressed:invalid_contact"), "1") << view.body;
  (void)a;
}

}  // namespace
}  // namespace herald::testing
