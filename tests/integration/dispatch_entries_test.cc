#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "service/dispatch/budget.h"
#include "service/dispatch/dispatcher.h"
#include "service/dispatch/queue.h"
#include "service/dispatch/retry.h"
#include "service/dispatch/round.h"
#include "tests/support/dispatch_fixture.h"

// Dispatch entries that carry several messages: how the planner's and the retry mover's
// entries are written, read, settled and sent, each message once.
namespace herald::testing {
namespace {

using channels::SendResult;
using dispatch::Dispatcher;
using dispatch::DispatcherOptions;
using dispatch::DispatchQueue;
using dispatch::kMessagesPerEntry;
using std::chrono::milliseconds;
constexpr std::string_view kEvent = "OUT-7";

class DispatchEntries : public ::testing::Test {
 protected:
  std::vector<v1::OutboundMessage> sms(uint64_t from, uint64_t count,
                                       v1::Priority p = v1::PRIORITY_NORMAL) {
    std::vector<v1::OutboundMessage> out;
    for (uint64_t n = from; n < from + count; ++n) {
      out.push_back(sealed_message(kEvent, 1, v1::SMS, p, n));
    }
    return out;
  }
  // Messages per entry of a stream, oldest entry first.
  std::vector<size_t> entry_sizes(const std::string& stream) {
    std::vector<size_t> out;
    auto r = conn_.command(redis::cmd("XRANGE", stream, "-", "+"));
    for (const auto& e : r->elements) out.push_back(e.elements[1].elements.size() / 2);
    return out;
  }
  long long xlen(const std::string& stream) {
    return conn_.command(redis::cmd("XLEN", stream))->integer;
  }
  DispatchQueue queue() {
    DispatchQueue q(connect(server_));
    EXPECT_TRUE(q.ensure_groups().ok());
    return q;
  }
  std::unique_ptr<Dispatcher> start(std::shared_ptr<channels::Channel> channel,
                                    DispatcherOptions o) {
    o.consumer = "entries-test";
    o.block = milliseconds(50);
    o.retry_poll = milliseconds(20);
    auto d =
        std::make_unique<Dispatcher>(server_.endpoint(), dispatch_sealer(),
                                     std::vector<std::shared_ptr<channels::Channel>>{channel}, o);
    d->start();
    return d;
  }

  // Customers 1..count queued as the planner queues them, then read by one consumer.
  std::vector<dispatch::Entry> queued_and_taken(uint64_t count, size_t want) {
    enqueue_grouped(conn_, sms(1, count));
    auto taken = queue().read("r", v1::SMS, want, milliseconds(0));
    EXPECT_TRUE(taken.ok());
    return taken.ok() ? std::move(*taken) : std::vector<dispatch::Entry>{};
  }
  // One round over `taken` as a dispatcher thread runs it, with no budget of its own.
  Result<dispatch::Tally> round(channels::Channel& channel,
                                const std::vector<dispatch::Entry>& taken, dispatch::Grant tokens,
                                size_t send_batch = 0) {
    dispatch::Budget budget("", 0, 0, std::chrono::seconds(60));
    dispatch::RetryPolicy retry;
    std::mt19937_64 rng{7};
    dispatch::RoundContext ctx{conn_, dispatch_sealer(), channel, budget, retry, rng, send_batch};
    return dispatch::run_round(ctx, taken, dispatch::SysClock::now(), tokens);
  }
  long long pending() { return *queue().pending(v1::SMS); }

  const std::string normal_ = dispatch::stream_key(v1::SMS, v1::PRIORITY_NORMAL);
  RedisServer server_;
  redis::Connection conn_ = connect(server_);
};

TEST_F(DispatchEntries, AChunksMessagesGoSixteenToAnEntryOfEachStream) {
  auto msgs = sms(1, 40);
  for (uint64_t n = 100; n < 103; ++n) {
    msgs.push_back(sealed_message(kEvent, 1, v1::EMAIL, v1::PRIORITY_EMERGENCY, n));
  }
  enqueue_grouped(conn_, msgs);
  EXPECT_EQ(entry_sizes(normal_), (std::vector<size_t>{16, 16, 8}));
  EXPECT_EQ(entry_sizes(dispatch::stream_key(v1::EMAIL, v1::PRIORITY_EMERGENCY)),
            (std::vector<size_t>{3}));

  // Read back as one Entry per message, every part naming its entry and its size.
  auto q = queue();
  auto taken = q.read("reader", v1::SMS, 100, milliseconds(0));
  ASSERT_TRUE(taken.ok());
  ASSERT_EQ(taken->size(), 40u);
  std::set<std::string> ids;
  for (size_t i = 0; i < taken->size(); ++i) {
    const auto& e = (*taken)[i];
    EXPECT_TRUE(e.valid);
    EXPECT_EQ(e.message.customer_num(), i + 1) << "the entry's order is the messages' order";
    EXPECT_EQ(e.parts, i < 32 ? 16u : 8u);
    ids.insert(e.id);
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(*q.pending(v1::SMS), 3) << "Redis holds entries pending, not messages";
}

TEST_F(DispatchEntries, AReadTakesWholeEntriesAndAboutAsManyMessagesAsAsked) {
  enqueue_grouped(conn_, sms(1, 64));
  auto q = queue();
  auto first = q.read("reader", v1::SMS, 20, milliseconds(0));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->size(), 16u) << "20 messages wanted: one entry of 16, not two";
  auto next = q.read("reader", v1::SMS, 4, milliseconds(0));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->size(), 16u) << "fewer than an entry wanted: the whole entry comes";

  // One-message entries (notices, an earlier release's backlog) are read many at a time.
  enqueue(conn_, sms(200, 50, v1::PRIORITY_EMERGENCY));
  auto singles = q.read("reader", v1::SMS, 40, milliseconds(0));
  ASSERT_TRUE(singles.ok());
  EXPECT_EQ(singles->size(), 40u);
  for (const auto& e : *singles) EXPECT_EQ(e.message.priority(), v1::PRIORITY_EMERGENCY);
}

TEST_F(DispatchEntries, AnEntrysPartsAreCountedOnceWhenTwoConsumersSettleIt) {
  const auto taken = queued_and_taken(3, 16);
  ASSERT_EQ(taken.size(), 3u);
  std::vector<dispatch::Settlement> all;
  for (const auto& e : taken) all.push_back({&e, "sent", nullptr});
  auto first = conn_.command(dispatch::settle_command(all));
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->elements.size(), 3u);
  for (const auto& r : first->elements) EXPECT_EQ(r.integer, 1);
  // A consumer that claimed the same entry meanwhile settles it too: nothing counts twice.
  auto again = conn_.command(dispatch::settle_command(all));
  for (const auto& r : again->elements) EXPECT_EQ(r.integer, 0);
  EXPECT_EQ(funnel_of(conn_, kEvent)["sms:sent"], 3);
  EXPECT_EQ(xlen(normal_), 0);
  EXPECT_EQ(pending(), 0);
}

TEST_F(DispatchEntries, ADeadConsumersEntriesAreClaimedWholeAndEachMessageSentOnce) {
  ASSERT_EQ(queued_and_taken(40, 100).size(), 40u);  // the consumer dies without acking
  auto channel = std::make_shared<ScriptedChannel>(v1::SMS, "");
  DispatcherOptions o;
  o.batch = 8;
  o.min_idle = milliseconds(300);
  o.claim_every = milliseconds(50);
  auto d = start(channel, o);
  ASSERT_TRUE(wait_for([&] { return d->counts().sent >= 40; }, milliseconds(10000)));
  std::this_thread::sleep_for(milliseconds(400));  // another claim round sends nothing more
  d->stop();
  EXPECT_EQ(d->counts().sent, 40u);
  for (uint64_t n = 1; n <= 40; ++n) {
    EXPECT_EQ(channel->sends_of(std::string(kEvent) + ":1:sms:" + std::to_string(n)), 1) << n;
  }
  EXPECT_EQ(funnel_of(conn_, kEvent)["sms:sent"], 40);
  EXPECT_EQ(xlen(normal_), 0) << "every entry acked and deleted";
}

TEST_F(DispatchEntries, AMalformedPartIsDroppedAndItsSiblingsAreStillSentAndCounted) {
  auto good = sms(1, 2);
  auto added = conn_.command(redis::cmd("XADD", normal_, "*", "m", good[0].SerializeAsString(), "m",
                                        "not a message", "m", good[1].SerializeAsString()));
  ASSERT_TRUE(added.ok() && !added->is_error());
  auto channel = std::make_shared<ScriptedChannel>(v1::SMS, "");
  auto d = start(channel, DispatcherOptions{});
  ASSERT_TRUE(wait_for([&] { return d->counts().sent >= 2 && d->counts().malformed >= 1; },
                       milliseconds(10000)));
  d->stop();
  EXPECT_EQ(d->counts().malformed, 1u);
  EXPECT_EQ(funnel_of(conn_, kEvent)["sms:sent"], 2) << "the siblings' outcomes were counted";
  EXPECT_EQ(xlen(normal_), 0);
  EXPECT_EQ(touchpoints_of(conn_, 1).back().status(), "sent");
  EXPECT_EQ(touchpoints_of(conn_, 2).back().status(), "sent");
}

TEST_F(DispatchEntries, MessagesPastTheRateBudgetGoBackToTheRetrySetWithoutAnAttempt) {
  const auto taken = queued_and_taken(16, 4);
  ASSERT_EQ(taken.size(), 16u);
  ScriptedChannel channel(v1::SMS, "");
  const auto now = dispatch::SysClock::now();
  auto tally = round(channel, taken, dispatch::Grant{4, milliseconds(250)});
  ASSERT_TRUE(tally.ok()) << tally.error().message;
  EXPECT_EQ(channel.seen().size(), 4u) << "only what the budget granted goes now";
  EXPECT_EQ(tally->put_back, 12u);
  EXPECT_EQ(funnel_of(conn_, kEvent)["sms:sent"], 4);
  EXPECT_EQ(funnel_of(conn_, kEvent).count("sms:retried"), 0u) << "a put-back is no retry";

  auto later = conn_.command(redis::cmd("ZRANGE", dispatch::retry_key(v1::SMS, v1::PRIORITY_NORMAL),
                                        "0", "-1", "WITHSCORES"));
  ASSERT_EQ(later->elements.size(), 24u);
  for (size_t i = 0; i < later->elements.size(); i += 2) {
    v1::OutboundMessage m;
    ASSERT_TRUE(m.ParseFromString(later->elements[i].str));
    EXPECT_EQ(m.attempt(), 0u);
    EXPECT_GE(m.customer_num(), 5u) << "the first four were sent";
    EXPECT_GE(std::stoll(later->elements[i + 1].str), dispatch::unix_ms(now) + 250);
  }
  EXPECT_EQ(pending(), 0) << "the entry is settled whole";
}

TEST_F(DispatchEntries, ARoundSendsInSlicesAndGuardsEachSliceBeforeTheNext) {
  const auto taken = queued_and_taken(16, 16);
  auto watcher = connect(server_);
  std::vector<long long> guards_seen;  // when customer 5 is sent: guards of customers 1-4
  ScriptedChannel channel(v1::SMS, "", [&](const v1::OutboundMessage& m, int) {
    if (m.customer_num() == 5) {
      for (uint64_t n = 1; n <= 4; ++n) {
        auto g = watcher.command(redis::cmd("HEXISTS", dispatch::guard_key(taken.front()),
                                            std::string(kEvent) + ":1:sms:" + std::to_string(n)));
        guards_seen.push_back(g.ok() ? g->integer : -1);
      }
    }
    return sent_result("SM-" + std::to_string(m.customer_num()));
  });
  auto tally = round(channel, taken, dispatch::Grant{16, {}}, 4);
  ASSERT_TRUE(tally.ok());
  EXPECT_EQ(tally->outcomes["sent"], 16u);
  EXPECT_EQ(guards_seen, (std::vector<long long>{1, 1, 1, 1}))
      << "a crash in the second slice must not send the first again";
}

TEST_F(DispatchEntries, TheRetryMoverPutsSixteenDueRetriesToAnEntry) {
  const std::string key = dispatch::retry_key(v1::SMS, v1::PRIORITY_NORMAL);
  for (const auto& m : sms(1, 40)) {
    conn_.command(redis::cmd("ZADD", key, "1000", m.SerializeAsString()));
  }
  conn_.command(redis::cmd("ZADD", key, "999999999999999", sms(41, 1)[0].SerializeAsString()));
  auto moved = conn_.command(dispatch::move_due_command(v1::SMS, 5000, 100));
  ASSERT_TRUE(moved.ok() && !moved->is_error()) << moved->str;
  EXPECT_EQ(moved->integer, 40);
  EXPECT_EQ(entry_sizes(normal_), (std::vector<size_t>{16, 16, 8}));
  EXPECT_EQ(conn_.command(redis::cmd("ZCARD", key))->integer, 1) << "the one not due stays";
}

}  // namespace
}  // namespace herald::testing
