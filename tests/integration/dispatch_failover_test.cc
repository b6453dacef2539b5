#include <gtest/gtest.h>

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <thread>

#include "service/dispatch/dispatcher.h"
#include "service/fanout/ledger.h"
#include "service/fanout/planner.h"
#include "service/events/event_store.h"
#include "service/store/codec.h"
#include "service/store/keys.h"
#include "templates/catalog.h"
#include "tests/support/dispatch_fixture.h"
#include "tests/support/heraldd_process.h"
#include "tests/support/http_client.h"
#include "tests/support/twilio_peer.h"

namespace herald::testing {
namespace {

using channels::SendResult;
using std::chrono::milliseconds;
using Failure = SendResult::Failure;
constexpr std::string_view kEvent = "OUT-9";
constexpr uint64_t kNum = 5;

// A customer who chose SMS for outages and email for maintenance, with an outage in Redis and
// the SMS already queued by the planner (its history written), as after a real fan-out.
class DispatchFailover : public ::testing::Test {
 protected:
  void SetUp() override {
    v1::Customer c;
    c.set_id(fmt::format("C-{}", kNum));
    c.set_name("Grace Hopper");
    c.set_phone("+12014316859");
    c.set_email("grace@example.net");
    c.set_time_zone("America/New_York");
    c.set_language("en");
    auto* p = c.add_premises();
    p->set_id("P-5");
    p->set_address("7 Harbor Rd");
    p->set_feeder("F-9");
    c.mutable_preferences()->mutable_channels()->add_outage(v1::SMS);
    c.mutable_preferences()->mutable_channels()->add_planned_maintenance(v1::EMAIL);
    auto enc = store::encode_customer(c, dispatch_sealer(), 0);
    run(redis::cmd("HSET", store::record_key(kNum), store::record_field(kNum), enc.record));

    event_.set_id(std::string(kEvent));
    event_.set_kind(v1::OUTAGE);
    event_.set_stage(v1::DETECTED);
    event_.set_revision(1);
    event_.mutable_area()->add_feeders("F-9");
    v1::EventState state;
    *state.mutable_event() = event_;
    run(redis::cmd("SET", events::event_key(kEvent), state.SerializeAsString()));
    run(redis::cmd("RPUSH", events::revisions_key(kEvent), event_.SerializeAsString()));
    run(redis::cmd("HSET", fanout::history_key(kEvent, kNum), fanout::history_field(kNum, v1::SMS),
                   fanout::encode_history_text(fanout::history_of(event_))));
    enqueue(conn_, {sealed_message(kEvent, 1, v1::SMS, v1::PRIORITY_NORMAL, kNum)});
  }

  void run(const redis::Command& c) {
    auto r = conn_.command(c);
    ASSERT_TRUE(r.ok() && !r->is_error()) << c.front();
  }
  void expect_no_fallback_after_email_got_it(const std::string& key);

  // Dispatches with the given SMS answer until the email channel got something, running the
  // planner in between as heraldd's planner thread would.
  void fail_sms_then_plan(SendResult answer) {
    sms_ = std::make_shared<ScriptedChannel>(
        v1::SMS, "twilio:AC1:+15550001111",
        [answer](const v1::OutboundMessage&, int) { return answer; });
    email_ = std::make_shared<ScriptedChannel>(v1::EMAIL, "");
    dispatch::DispatcherOptions o;
    o.consumer = "failover-test";
    o.block = milliseconds(50);
    dispatch::Dispatcher d(server_.endpoint(), dispatch_sealer(), {sms_, email_}, o);
    d.start();
    auto catalog = templates::Catalog::load(std::string(HERALD_SOURCE_DIR) + "/templates");
    auto signer = core::TokenSigner::from_key(kDispatchKey);
    auto sealer = dispatch_sealer();
    fanout::Planner planner(server_.endpoint(), sealer, *signer, catalog, {});
    auto planner_conn = connect(server_);
    std::string planner_error;
    const bool got = wait_for(
        [&] {
          auto r = planner.run_once(planner_conn, std::chrono::system_clock::now());
          if (!r.ok()) planner_error = r.error().message;
          return !email_->seen().empty();
        },
        milliseconds(10000));
    std::this_thread::sleep_for(milliseconds(200));
    d.stop();
    ASSERT_TRUE(got) << "planner: " << planner_error;
  }

  RedisServer server_;
  redis::Connection conn_ = connect(server_);
  v1::Event event_;
  std::shared_ptr<ScriptedChannel> sms_, email_;
};

TEST_F(DispatchFailover, AnInvalidNumberIsMarkedAndTheCustomerGetsAnEmailInstead) {
  fail_sms_then_plan(permanent_result(Failure::kInvalidContact, "21211"));

  EXPECT_EQ(sms_->seen().size(), 1u) << "an invalid number is never retried";
  ASSERT_EQ(email_->seen().size(), 1u);
  EXPECT_EQ(email_->seen()[0].to, "grace@example.net");
  EXPECT_EQ(email_->seen()[0].fallback_from, v1::SMS);
  EXPECT_EQ(conn_.command(redis::cmd("SISMEMBER", "invalid:sms", std::to_string(kNum)))->integer,
            1);
  auto f = funnel_of(conn_, kEvent);
  EXPECT_EQ(f["sms:failed"], 1);
  EXPECT_EQ(f["email:queued"], 1);
  EXPECT_EQ(f["email:sent"], 1);

  bool failed_tp = false, planned_tp = false, sent_tp = false;
  for (const auto& tp : touchpoints_of(conn_, kNum)) {
    if (tp.kind() == v1::SEND && tp.channel() == v1::SMS && tp.status() == "failed") {
      failed_tp = tp.reason() == "21211" &&
                  tp.detail().find("fallback to email") != std::string::npos;
    }
    if (tp.kind() == v1::DECISION && tp.channel() == v1::EMAIL && tp.status() == "queued") {
      planned_tp = tp.detail().find("fallback from sms") != std::string::npos;
    }
    if (tp.kind() == v1::SEND && tp.channel() == v1::EMAIL && tp.status() == "sent") {
      sent_tp = tp.detail().find("fallback from sms") != std::string::npos;
    }
  }
  EXPECT_TRUE(failed_tp) << "the SMS failure names its code and the fallback";
  EXPECT_TRUE(planned_tp) << "the planner's decision says it is a fallback";
  EXPECT_TRUE(sent_tp) << "the email's send says it is a fallback";
  auto again = conn_.command(redis::cmd("ZCARD", "deferred"));
  EXPECT_EQ(again->integer, 0) << "the fallback entry is consumed once";
}

// The e-mail already carried this revision (a mark in the history hash `key`): a refused SMS
// falls back to nothing.
void DispatchFailover::expect_no_fallback_after_email_got_it(const std::string& key) {
  run(redis::cmd("HSET", key, fanout::history_field(kNum, v1::EMAIL),
                 fanout::encode_history_text(fanout::history_of(event_))));
  sms_ = std::make_shared<ScriptedChannel>(v1::SMS, "", [](const v1::OutboundMessage&, int) {
    return permanent_result(Failure::kRejected, "30007");
  });
  dispatch::DispatcherOptions o;
  o.consumer = "failover-test";
  o.block = milliseconds(50);
  dispatch::Dispatcher d(server_.endpoint(), dispatch_sealer(), {sms_}, o);
  d.start();
  ASSERT_TRUE(wait_for([&] { return d.counts().failed == 1; }, milliseconds(10000)));
  d.stop();
  EXPECT_EQ(d.counts().fallbacks, 0u);
  EXPECT_EQ(conn_.command(redis::cmd("ZCARD", "deferred"))->integer, 0);
  auto tps = touchpoints_of(conn_, kNum);
  ASSERT_FALSE(tps.empty());
  EXPECT_NE(tps.back().detail().find("no fallback channel"), std::string::npos)
      << tps.back().detail();
}

TEST_F(DispatchFailover, NoFallbackToAChannelThatAlreadyGotThisRevision) {
  expect_no_fallback_after_email_got_it(fanout::history_key(kEvent, kNum));
}

// An event planned by an earlier release keeps its marks in one hash for the whole event.
TEST_F(DispatchFailover, NoFallbackToAChannelAnEarlierReleaseAlreadySentThisRevision) {
  expect_no_fallback_after_email_got_it(fanout::legacy_history_key(kEvent));
}

// Two heraldd processes share the queues and send SMS to the Twilio peer (slow replies, so
// batches are in flight); one is killed with SIGKILL mid-dispatch. The other takes over its
// pending messages after claim_idle_ms: every customer gets the SMS, and a message the peer
// answered 201 is sent again only inside the documented window (its batch in flight when the
// process died, guard not yet written).
TEST(DispatchTakeover, AKilledProcesssMessagesAreDeliveredByTheOtherAndNoneTwiceAfterItsGuard) {
  constexpr int kCustomers = 80;
  TwilioPeer peer;
  peer.set_mode(R"({"delay_ms":250})");
  RedisServer redis;
  core::init_crypto();
  const std::string pii = core::random_token(32);
  auto options_for = [&](const std::string& name) {
    HeralddOptions o;
    o.redis_url = redis.url();
    o.pii_key = pii;
    o.extra_env = {{"HERALD_SMS_PROVIDER", "twilio"},
                   {"HERALD_TWILIO_BASE_URL", peer.base_url()},
                   {"HERALD_TWILIO_ACCOUNT_SID", peer.account_sid()},
                   {"HERALD_TWILIO_AUTH_TOKEN", peer.auth_token()},
                   {"HERALD_TWILIO_SMS_FROM", "+15550001111"},
                   {"HERALD_DISPATCH_CONSUMER", name},
                   {"HERALD_DISPATCH_BATCH", "6"},
                   {"HERALD_DISPATCH_CLAIM_IDLE_MS", "2000"}};
    return o;
  };
  HeralddProcess a(options_for("herald-a"));
  HeralddProcess b(options_for("herald-b"));
  HttpClient http(a.base_url(), std::chrono::seconds(10));
  auto phone = [](int i) { return fmt::format("+1201431{:04d}", 7000 + i); };
  for (int i = 0; i < kCustomers; ++i) {
    std::string body = R"({"name":"Grace Hopper","phone":")" + phone(i) +
                       R"(","timeZone":"America/New_York","language":"en","premises":[{"id":"P-)" +
                       std::to_string(i) + R"(","address":"7 Harbor Rd","feeder":"F-9",)"
                       R"("zip":"10009"}],"preferences":{"channels":{"OUTAGE":["SMS"]},)"
                       R"("cadence":"MILESTONES"}})";
    auto r = http.request("PUT", fmt::format("/v1/customers/C-{}", i), body, bearer(a.admin_key()));
    ASSERT_EQ(r.status, 201) << r.body;
  }
  auto raised = http.request("POST", "/v1/events",
                             R"({"id":"OUT-K","kind":"OUTAGE","stage":"DETECTED",)"
                             R"("severity":"ADVISORY","area":{"feeders":["F-9"]}})",
                             bearer(a.operator_key()));
  ASSERT_EQ(raised.status, 202) << raised.body;

  ASSERT_TRUE(wait_for([&] { return peer.requests().size() >= 12; }, milliseconds(20000)))
      << a.log();
  a.kill();
  const double killed_at =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

  std::map<std::string, std::vector<double>> answered;  // To -> when each 201 was answered
  auto collect = [&] {
    answered.clear();
    for (const auto& r : peer.requests()) {
      if (r.status != 201) continue;
      answered[r.form("To").value_or("")].push_back(std::stod(r.get("answered").value_or("0")));
    }
    return answered.size() >= static_cast<size_t>(kCustomers);
  };
  ASSERT_TRUE(wait_for(collect, milliseconds(30000))) << answered.size() << "\n" << b.log();
  std::this_thread::sleep_for(milliseconds(2500));  // a second takeover round sends nothing
  collect();

  int repeated = 0;
  for (int i = 0; i < kCustomers; ++i) {
    const auto& times = answered[phone(i)];
    ASSERT_FALSE(times.empty()) << "customer " << i << " never got the SMS";
    if (times.size() == 1) continue;
    ++repeated;
    EXPECT_EQ(times.size(), 2u) << "customer " << i;
    // A guard is written when the send_batch returns: only a 201 of the batch in flight
    // (250 ms replies, plus margin) can have been repeated.
    EXPECT_GT(times.front(), killed_at - 1.0)
        << "customer " << i << " got a second SMS after a 201 answered long before the kill";
  }
  EXPECT_LE(repeated, 6) << "more repeats than one batch in flight";
  const std::string log = b.log();
  EXPECT_EQ(log.find("+1201431"), std::string::npos) << "no phone number in logs";
}

}  // namespace
}  // namespace herald::testing
