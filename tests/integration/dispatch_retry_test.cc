#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "service/dispatch/dispatcher.h"
#include "service/dispatch/queue.h"
#include "service/dispatch/retry.h"
#include "service/dispatch/round.h"
#include "tests/support/dispatch_fixture.h"

namespace herald::testing {
namespace {

using channels::SendResult;
using dispatch::Dispatcher;
using dispatch::DispatcherOptions;
using std::chrono::milliseconds;
using Failure = SendResult::Failure;
constexpr std::string_view kEvent = "OUT-42";

class DispatchRetry : public ::testing::Test {
 public:
  std::unique_ptr<Dispatcher> start(std::shared_ptr<channels::Channel> channel,
                                    DispatcherOptions o = {}) {
    o.consumer = "retry-test";
    o.block = milliseconds(50);
    o.retry_poll = milliseconds(20);
    o.retry.base = milliseconds(50);
    o.retry.cap = milliseconds(200);
    auto d = std::make_unique<Dispatcher>(server_.endpoint(), dispatch_sealer(),
                                          std::vector<std::shared_ptr<channels::Channel>>{channel},
                                          o);
    d->start();
    return d;
  }
  long long zcard(const std::string& key) {
    auto r = conn_.command(redis::cmd("ZCARD", key));
    return r.ok() ? r->integer : -1;
  }

  RedisServer server_;
  redis::Connection conn_ = connect(server_);
};

TEST_F(DispatchRetry, A429WithRetryAfterIsSentAgainAfterItThenOnce) {
  auto sms = std::make_shared<ScriptedChannel>(v1::SMS, "twilio:AC1:+15550001111",
                                               [](const v1::OutboundMessage&, int n) {
                                                 return n == 1 ? retry_result("429", milliseconds(600))
                                                        : n == 2 ? retry_result("500")
                                                                 : sent_result("SM-ok");
                                               });
  auto msg = sealed_message(kEvent, 1, v1::SMS, v1::PRIORITY_NORMAL, 7);
  enqueue(conn_, {msg});
  auto d = start(sms);
  ASSERT_TRUE(wait_for([&] { return d->counts().sent == 1; }, milliseconds(10000)));
  d->stop();

  auto seen = sms->seen();
  ASSERT_EQ(seen.size(), 3u) << "429, 500, then 201";
  EXPECT_GE(seen[1].at - seen[0].at, milliseconds(600)) << "Retry-After was not honoured";
  EXPECT_EQ(seen[1].attempt, 1u);
  EXPECT_EQ(seen[2].attempt, 2u);
  auto f = funnel_of(conn_, kEvent);
  EXPECT_EQ(f["sms:retried"], 2);
  EXPECT_EQ(f["sms:sent"], 1);
  EXPECT_EQ(zcard(dispatch::retry_key(v1::SMS, v1::PRIORITY_NORMAL)), 0);

  auto tps = touchpoints_of(conn_, 7);
  ASSERT_EQ(tps.size(), 3u);
  EXPECT_EQ(tps[0].kind(), v1::SEND);
  EXPECT_EQ(tps[0].status(), "retry");
  EXPECT_EQ(tps[0].reason(), "429");
  EXPECT_NE(tps[0].detail().find("attempt 1 of 6"), std::string::npos) << tps[0].detail();
  EXPECT_EQ(tps[1].reason(), "500");
  EXPECT_EQ(tps[2].status(), "sent");
  EXPECT_NE(tps[2].detail().find("provider id SM-ok"), std::string::npos) << tps[2].detail();
  for (const auto& tp : tps) EXPECT_EQ(tp.detail().find("+1555"), std::string::npos);
}

TEST_F(DispatchRetry, AttemptsRunOutAndTheMessageFails) {
  auto sms = std::make_shared<ScriptedChannel>(
      v1::SMS, "twilio:AC1:+15550001111",
      [](const v1::OutboundMessage&, int) { return retry_result("503"); });
  enqueue(conn_, {sealed_message(kEvent, 1, v1::SMS, v1::PRIORITY_NORMAL, 8)});
  DispatcherOptions o;
  o.retry.max_attempts = 3;
  auto d = start(sms, o);
  ASSERT_TRUE(wait_for([&] { return d->counts().failed == 1; }, milliseconds(10000)));
  std::this_thread::sleep_for(milliseconds(300));
  d->stop();
  EXPECT_EQ(sms->seen().size(), 3u) << "exactly max_attempts sends";
  auto f = funnel_of(conn_, kEvent);
  EXPECT_EQ(f["sms:failed"], 1);
  EXPECT_EQ(f["sms:retried"], 2);
  auto tps = touchpoints_of(conn_, 8);
  ASSERT_FALSE(tps.empty());
  EXPECT_EQ(tps.back().status(), "failed");
  EXPECT_EQ(tps.back().reason(), "attempts_exhausted");
}

TEST_F(DispatchRetry, AMessagePastItsWindowIsDroppedUnsent) {
  auto sms = std::make_shared<ScriptedChannel>(v1::SMS, "");
  auto old = sealed_message(kEvent, 1, v1::SMS, v1::PRIORITY_NORMAL, 9);
  *old.mutable_queued_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(
      google::protobuf::util::TimeUtil::TimestampToSeconds(old.queued_at()) - 7200);
  auto closed = sealed_message(kEvent, 1, v1::SMS, v1::PRIORITY_NORMAL, 10);
  *closed.mutable_valid_until() = google::protobuf::util::TimeUtil::SecondsToTimestamp(
      google::protobuf::util::TimeUtil::TimestampToSeconds(closed.queued_at()) - 1);
  auto fresh = sealed_message(kEvent, 1, v1::SMS, v1::PRIORITY_NORMAL, 11);
  enqueue(conn_, {old, closed, fresh});
  auto d = start(sms);
  ASSERT_TRUE(wait_for([&] { return d->counts().expired == 2 && d->counts().sent == 1; },
                       milliseconds(10000)));
  d->stop();
  ASSERT_EQ(sms->seen().size(), 1u);
  EXPECT_EQ(sms->seen()[0].id, fresh.id());
  EXPECT_EQ(funnel_of(conn_, kEvent)["sms:expired"], 2);
  EXPECT_EQ(touchpoints_of(conn_, 9).back().status(), "expired");
}

TEST_F(DispatchRetry, OptedOutMarksTheNumberStoppedAndIsNotRetried) {
  auto sms = std::make_shared<ScriptedChannel>(
      v1::SMS, "twilio:AC1:+15550001111", [](const v1::OutboundMessage& m, int) {
        return m.customer_num() == 12 ? permanent_result(Failure::kOptedOut, "21610")
                                      : sent_result("SM-x");
      });
  enqueue(conn_, {sealed_message(kEvent, 1, v1::SMS, v1::PRIORITY_NORMAL, 12),
                  sealed_message(kEvent, 1, v1::SMS, v1::PRIORITY_NORMAL, 13)});
  auto d = start(sms);
  ASSERT_TRUE(wait_for([&] { return d->counts().failed == 1 && d->counts().sent == 1; },
                       milliseconds(10000)));
  std::this_thread::sleep_for(milliseconds(300));
  d->stop();
  EXPECT_EQ(sms->sends_of(std::string(kEvent) + ":1:sms:12"), 1) << "a 21610 is never retried";
  auto member = conn_.command(redis::cmd("SISMEMBER", "stop:sms", "12"));
  EXPECT_EQ(member->integer, 1) << "the planner must see the opt-out";
  EXPECT_EQ(conn_.command(redis::cmd("SISMEMBER", "stop:sms", "13"))->integer, 0);
  auto tps = touchpoints_of(conn_, 12);
  ASSERT_EQ(tps.size(), 1u);
  EXPECT_EQ(tps[0].status(), "failed");
  EXPECT_EQ(tps[0].reason(), "21610");
}

// A process sent the message (its guard is written) and died before the ack: whoever claims
// the entry settles it as sent without a second send. `legacy`: the guard as an earlier
// release wrote it, a key per message.
void GuardStopsASecondSend(DispatchRetry& t, bool legacy) {
  auto msg = sealed_message(kEvent, 1, v1::SMS, v1::PRIORITY_EMERGENCY, 14);
  auto other = sealed_message(kEvent, 1, v1::SMS, v1::PRIORITY_EMERGENCY, 15);
  (legacy ? enqueue : enqueue_grouped)(t.conn_, {msg, other});
  {
    dispatch::DispatchQueue dead(connect(t.server_));
    ASSERT_TRUE(dead.ensure_groups().ok());
    auto taken = dead.read("dead/sms/0", v1::SMS, 10, milliseconds(0));
    ASSERT_EQ(taken->size(), 2u);
    // The dead process got its 201 for `msg` only and wrote that guard.
    const auto guard =
        legacy ? redis::cmd("SET", dispatch::legacy_guard_key(msg.id()), "SM-first", "EX", "60")
               : redis::cmd("HSET", dispatch::guard_key(taken->front()), msg.id(), "SM-first");
    ASSERT_EQ(taken->front().message.id(), msg.id());
    ASSERT_TRUE(t.conn_.command(guard).ok());
  }
  auto sms = std::make_shared<ScriptedChannel>(v1::SMS, "");
  DispatcherOptions o;
  o.min_idle = milliseconds(300);
  o.claim_every = milliseconds(50);
  auto d = t.start(sms, o);
  ASSERT_TRUE(wait_for([&] { return d->counts().sent == 2; }, milliseconds(10000)));
  d->stop();
  EXPECT_EQ(sms->sends_of(msg.id()), 0) << "sent twice after its 2xx";
  EXPECT_EQ(sms->sends_of(other.id()), 1) << "the unsent one must still go";
  EXPECT_EQ(d->counts().guarded, 1u);
  EXPECT_EQ(funnel_of(t.conn_, kEvent)["sms:sent"], 2);
  auto tps = touchpoints_of(t.conn_, 14);
  ASSERT_EQ(tps.size(), 1u);
  EXPECT_NE(tps[0].detail().find("SM-first"), std::string::npos);
}

TEST_F(DispatchRetry, TheGuardStopsASecondSendAfterACrashBeforeTheAck) {
  GuardStopsASecondSend(*this, false);
}

TEST_F(DispatchRetry, AGuardAnEarlierReleaseWroteStillStopsASecondSend) {
  GuardStopsASecondSend(*this, true);
}

TEST_F(DispatchRetry, EverySentMessageLeavesAGuardInItsEntrysHash) {
  auto msg = sealed_message(kEvent, 1, v1::SMS, v1::PRIORITY_NORMAL, 16);
  auto next = sealed_message(kEvent, 1, v1::SMS, v1::PRIORITY_NORMAL, 17);
  enqueue_grouped(conn_, {msg, next});
  dispatch::Entry entry;
  entry.stream = dispatch::stream_key(v1::SMS, v1::PRIORITY_NORMAL);
  entry.id =
      conn_.command(redis::cmd("XRANGE", entry.stream, "-", "+"))->elements[0].elements[0].str;
  auto sms = std::make_shared<ScriptedChannel>(v1::SMS, "");
  auto d = start(sms);
  ASSERT_TRUE(wait_for([&] { return d->counts().sent == 2; }, milliseconds(10000)));
  d->stop();
  auto guards = conn_.command(redis::cmd("HGETALL", dispatch::guard_key(entry)));
  ASSERT_EQ(guards->elements.size(), 4u) << "one key for both messages of the entry";
  std::map<std::string, std::string> by_id;
  for (size_t i = 0; i + 1 < guards->elements.size(); i += 2) {
    by_id[guards->elements[i].str] = guards->elements[i + 1].str;
  }
  EXPECT_EQ(by_id[msg.id()], "SM1" + msg.id());
  EXPECT_EQ(by_id[next.id()], "SM1" + next.id());
  auto ttl = conn_.command(redis::cmd("TTL", dispatch::guard_key(entry)));
  EXPECT_GT(ttl->integer, 3500);
  EXPECT_EQ(conn_.command(redis::cmd("EXISTS", dispatch::legacy_guard_key(msg.id())))->integer, 0);
}

}  // namespace
}  // namespace herald::testing
