#include <gtest/gtest.h>

#include "service/redis/connection.h"
#include "tests/support/journey_fixture.h"

namespace herald::testing {
namespace {

class Reports : public JourneyFixture {};

TEST_F(Reports, AnEventReportAddsUpWhatHappened) {
  put_customer("C-A", "F-1", R"(["SMS"])");
  put_customer("C-B", "F-1", R"(["SMS"])");
  put_customer("C-C", "F-1", R"(["SMS","EMAIL"])");
  put_customer("C-X", "F-2", R"(["SMS"])");
  post_event("/v1/events", R"({"id":"OUT-7","kind":"OUTAGE","stage":"DETECTED",)"
                           R"("severity":"EMERGENCY","area":{"feeders":["F-1"]}})");
  for (const char* id : {"C-A", "C-B", "C-C"}) {
    ASSERT_EQ(await_sent("sms.jsonl", id, 1).size(), 1u) << heraldd_->log();
  }
  append("C-A", delivery("OUT-7", v1::SMS, "delivered"));
  append("C-A", delivery("OUT-7", v1::SMS, "delivered"));  // a second message: counted once
  append("C-B", delivery("OUT-7", v1::SMS, "delivered"));
  append("C-C", delivery("OUT-7", v1::SMS, "undelivered"));
  append("C-B", reply("", "STOP"));  // no event named: counted against the one that messaged
  append("C-X", reply("", "STOP"));  // never messaged: no event's opt-out
  auto conn = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
  ASSERT_TRUE(conn.ok());
  // OUT replies as the inbound side files them: every one in out:{e}, those after the
  // restoration also in outr:{e}; only the latter are reported.
  ASSERT_TRUE(conn->command(redis::cmd("ZADD", "out:{OUT-7}", "1", "1", "2", "2")).ok());
  ASSERT_TRUE(conn->command(redis::cmd("ZADD", "outr:{OUT-7}", "2", "2")).ok());
  // A callback asked for until power is back, tied to the event.
  auto cb = http_->request("POST", "/v1/callbacks",
                           R"({"customerId":"C-A","reason":"medical device",)"
                           R"("eventId":"OUT-7","whenRestored":true})",
                           bearer(heraldd_->agent_key()));
  ASSERT_LT(cb.status, 300) << cb.body;
  ASSERT_TRUE(conn->command(redis::cmd("HINCRBY", "sv:{OUT-7}", "5", "2")).ok());
  ASSERT_TRUE(conn->command(redis::cmd("HINCRBY", "sv:{OUT-7}", "2", "1")).ok());

  auto r = get("/v1/reports/events/OUT-7", heraldd_->analyst_key());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_at(r.body, "audience"), "3") << r.body;
  EXPECT_EQ(json_at(r.body, "channels[0].channel"), "SMS");
  EXPECT_EQ(json_at(r.body, "channels[0].queued"), "3");
  EXPECT_EQ(json_at(r.body, "channels[0].sent"), "3");
  EXPECT_EQ(json_at(r.body, "channels[0].delivered"), "3");
  EXPECT_EQ(json_at(r.body, "channels[0].undelivered"), "1");
  EXPECT_EQ(json_at(r.body, "channels[0].deliveryRate"), "1");
  EXPECT_EQ(json_at(r.body, "channels[1].channel"), "EMAIL");
  EXPECT_EQ(json_at(r.body, "timeToNotify.customers"), "2") << "C-A once, C-B; C-C never";
  EXPECT_TRUE(json_at(r.body, "timeToNotify.p99S").has_value() ||
              json_at(r.body, "timeToNotify.customers") == "2");
  EXPECT_EQ(json_at(r.body, "optOuts"), "1");
  EXPECT_EQ(json_at(r.body, "outReportsAfterRestoration"), "1");
  EXPECT_EQ(json_at(r.body, "callbacks.requested"), "1") << r.body;
  EXPECT_EQ(json_at(r.body, "survey.responses"), "3");
  ASSERT_TRUE(json_at(r.body, "survey.satisfiedShare")) << r.body;
  EXPECT_NEAR(std::stod(*json_at(r.body, "survey.satisfiedShare")), 2.0 / 3.0, 1e-6);

  EXPECT_EQ(get("/v1/reports/events/OUT-7", heraldd_->operator_key()).status, 200);
  EXPECT_EQ(get("/v1/reports/events/OUT-7", heraldd_->agent_key()).status, 403);
  EXPECT_EQ(get("/v1/reports/events/NOPE", heraldd_->analyst_key()).status, 404);

  auto sum = get("/v1/reports/summary?since=2000-01-01T00:00:00Z", heraldd_->analyst_key());
  ASSERT_EQ(sum.status, 200) << sum.body;
  EXPECT_EQ(json_at(sum.body, "events"), "1") << sum.body;
  EXPECT_EQ(json_at(sum.body, "kinds[0].kind"), "OUTAGE");
  EXPECT_EQ(json_at(sum.body, "kinds[0].channels[0].delivered"), "3");
  EXPECT_EQ(json_at(sum.body, "kinds[0].timeToNotify.customers"), "2");
  EXPECT_EQ(json_at(sum.body, "channels[0].sent"), "3");
  EXPECT_EQ(json_at(sum.body, "kinds[0].outReportsAfterRestoration"), "1");
  EXPECT_EQ(json_at(sum.body, "kinds[0].callbacks.requested"), "1");
  auto later = get("/v1/reports/summary?since=2099-01-01T00:00:00Z", heraldd_->analyst_key());
  EXPECT_EQ(json_at(later.body, "events").value_or("0"), "0") << later.body;
  EXPECT_EQ(get("/v1/reports/summary?since=soon", heraldd_->analyst_key()).status, 400);
}

// A STOP that names no event counts against the event whose message the customer last
// received: a message still waiting in a queue (a storm's SMS backlog) has not reached them.
TEST_F(Reports, AnEventlessStopCountsAgainstTheLastMessageSentNotOneStillQueued) {
  put_customer("C-A", "F-1", R"(["SMS"])");
  v1::Touchpoint queued;
  queued.set_kind(v1::DECISION);
  queued.set_event_id("OUT-8");
  queued.set_channel(v1::SMS);
  queued.set_status("queued");
  append("C-A", queued);
  append("C-A", reply("", "STOP"));
  auto conn = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
  ASSERT_TRUE(conn.ok());
  auto optouts = [&] {
    auto r = conn->command(redis::cmd("HGET", "rp:{OUT-8}", "optouts"));
    return r.ok() && r->type == redis::Reply::Type::kString ? r->str : std::string("none");
  };
  EXPECT_EQ(optouts(), "none");
  v1::Touchpoint sent = queued;
  sent.set_kind(v1::SEND);
  sent.set_status("sent");
  append("C-A", sent);
  append("C-A", reply("", "STOP"));
  EXPECT_EQ(optouts(), "1");
}

}  // namespace
}  // namespace herald::testing
