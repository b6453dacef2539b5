#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "channels/sandbox.h"
#include "service/common/thread_nice.h"
#include "service/dispatch/budget.h"
#include "service/dispatch/dispatcher.h"
#include "service/dispatch/queue.h"
#include "service/events/event_store.h"
#include "tests/support/dispatch_fixture.h"
#include "tests/support/redis_server.h"

namespace herald::dispatch {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr std::string_view kEvent = "ev-storm";

bool wait_until(const std::function<bool()>& cond, milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return cond();
}

std::string phone(uint64_t num) { return "+1555" + std::to_string(1000000 + num); }
std::string email(uint64_t num) { return "resident" + std::to_string(num) + "@example.com"; }

class DispatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "herald-dispatch-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    core::init_crypto();
  }
  void TearDown() override { fs::remove_all(dir_); }

  core::Sealer sealer() const { return *core::Sealer::from_key(kKey); }

  DispatchQueue queue() {
    auto conn = redis::Connection::connect(server_.endpoint(), milliseconds(2000));
    if (!conn.ok()) throw std::runtime_error(conn.error().message);
    return DispatchQueue(std::move(*conn));
  }

  v1::OutboundMessage message(v1::Channel channel, v1::Priority priority, uint64_t num) const {
    v1::OutboundMessage m;
    m.set_id(fmt::format("{}:1:{}:{}", kEvent, channels::channel_key(channel), num));
    m.set_customer_id("cust-" + std::to_string(num));
    m.set_customer_num(num);
    m.set_event_id(std::string(kEvent));
    m.set_revision(1);
    m.set_channel(channel);
    m.set_priority(priority);
    m.set_language("en");
    v1::MessageContent c;
    if (channel == v1::EMAIL) {
      c.set_to(email(num));
      c.set_subject("Power outage at 12 Elm St");
      c.set_text("Crews are on the way to 12 Elm St.");
      c.set_html("<p>Crews are on the way to 12 Elm St.</p>");
    } else {
      c.set_to(phone(num));
      c.set_sms("Outage at 12 Elm St, ETR 6 PM");
      c.set_sms_segments(1);
      c.set_voice("There is an outage at 12 Elm St");
    }
    m.set_sealed_content(sealer().seal(c.SerializeAsString(), m.id()));
    return m;
  }

  void enqueue_all(const std::vector<v1::OutboundMessage>& msgs) {
    redis::Batch cmds;
    for (const auto& m : msgs) cmds.push_back(enqueue_command(m));
    auto replies = queue().connection().pipeline(cmds);
    ASSERT_TRUE(replies.ok());
    for (const auto& r : *replies) ASSERT_FALSE(r.is_error()) << r.str;
  }

  std::vector<std::shared_ptr<channels::Channel>> sandboxes() const {
    std::vector<std::shared_ptr<channels::Channel>> out;
    for (auto c : kChannels) out.push_back(std::make_shared<channels::SandboxChannel>(dir_, c));
    return out;
  }

  std::unique_ptr<Dispatcher> dispatcher(std::vector<std::shared_ptr<channels::Channel>> chans,
                                         DispatcherOptions o = {}) {
    o.consumer = "test";
    o.block = milliseconds(100);
    return std::make_unique<Dispatcher>(server_.endpoint(), sealer(), std::move(chans), o);
  }

  // The sandbox file's lines as (message id, priority) in file order.
  std::vector<std::pair<std::string, std::string>> delivered(std::string_view channel) const {
    std::ifstream in(dir_ / (std::string(channel) + ".jsonl"));
    std::vector<std::pair<std::string, std::string>> out;
    for (std::string line; std::getline(in, line);) {
      auto value = [&line](const std::string& key) {
        auto at = line.find("\"" + key + "\":\"");
        if (at == std::string::npos) return std::string();
        at += key.size() + 4;
        return line.substr(at, line.find('"', at) - at);
      };
      out.emplace_back(value("id"), value("priority"));
    }
    return out;
  }

  std::map<std::string, long long> funnel() {
    auto r = queue().connection().command(redis::cmd("HGETALL", funnel_key(kEvent)));
    std::map<std::string, long long> out;
    for (size_t i = 0; r.ok() && i + 1 < r->elements.size(); i += 2) {
      out[r->elements[i].str] = std::stoll(r->elements[i + 1].str);
    }
    return out;
  }

  testing::RedisServer server_;
  fs::path dir_;
};

// Per channel (i % 4): a tenth emergency, a fifth medical, the rest normal.
v1::Priority priority_of(uint64_t i) {
  const uint64_t k = (i / 4) % 10;
  if (k == 0) return v1::PRIORITY_EMERGENCY;
  if (k < 3) return v1::PRIORITY_MEDICAL;
  return v1::PRIORITY_NORMAL;
}

TEST_F(DispatchTest, DrainsThousandMessagesOnceEachEmergencyFirst) {
  constexpr uint64_t kCount = 1000;
  std::vector<v1::OutboundMessage> msgs;
  std::map<std::string, std::set<std::string>> expected;  // channel -> ids
  // Normal first, emergency last: the dispatcher must not serve them in arrival order.
  for (auto p : {v1::PRIORITY_NORMAL, v1::PRIORITY_MEDICAL, v1::PRIORITY_EMERGENCY}) {
    for (uint64_t i = 0; i < kCount; ++i) {
      if (priority_of(i) != p) continue;
      auto channel = kChannels[i % 4];
      msgs.push_back(message(channel, p, i));
      expected[std::string(channels::channel_key(channel))].insert(msgs.back().id());
    }
  }
  enqueue_all(msgs);

  DispatcherOptions o;
  o.batch = 16;
  auto d = dispatcher(sandboxes(), o);
  d->start();
  ASSERT_TRUE(wait_until([&] { return d->counts().sent >= kCount; }, milliseconds(30000)))
      << d->counts().sent;
  d->stop();
  EXPECT_EQ(d->counts().sent, kCount);
  EXPECT_EQ(d->counts().failed, 0u);

  auto f = funnel();
  auto q = queue();
  for (auto channel : kChannels) {
    const std::string key(channels::channel_key(channel));
    auto lines = delivered(key);
    std::set<std::string> ids;
    for (const auto& [id, prio] : lines) ids.insert(id);
    EXPECT_EQ(lines.size(), 250u) << key << ": a message was delivered twice or lost";
    EXPECT_EQ(ids, expected[key]) << key;
    EXPECT_EQ(f[key + ":sent"], 250) << key;

    // Priority names sort EMERGENCY < MEDICAL < NORMAL: the file must already be in that order.
    for (size_t i = 1; i < lines.size(); ++i) {
      ASSERT_LE(lines[i - 1].second, lines[i].second) << key << " line " << i;
    }
    EXPECT_EQ(lines.front().second, "PRIORITY_EMERGENCY");
    EXPECT_EQ(lines.back().second, "PRIORITY_NORMAL");

    auto pending = q.pending(channel);
    ASSERT_TRUE(pending.ok());
    EXPECT_EQ(*pending, 0) << key;
    for (auto p : kPriorities) {
      auto len = q.connection().command(redis::cmd("XLEN", stream_key(channel, p)));
      EXPECT_EQ(len->integer, 0) << stream_key(channel, p) << " keeps delivered entries";
    }
  }
}

TEST_F(DispatchTest, ContentIsSealedInRedisAndClearInTheSandbox) {
  std::vector<v1::OutboundMessage> msgs;
  for (uint64_t i = 0; i < 5; ++i) msgs.push_back(message(v1::SMS, v1::PRIORITY_NORMAL, i));
  for (uint64_t i = 0; i < 5; ++i) msgs.push_back(message(v1::EMAIL, v1::PRIORITY_NORMAL, i));
  enqueue_all(msgs);

  auto q = queue();
  std::string raw;
  for (auto c : {v1::SMS, v1::EMAIL}) {
    auto r =
        q.connection().command(redis::cmd("XRANGE", stream_key(c, v1::PRIORITY_NORMAL), "-", "+"));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->elements.size(), 5u);
    for (const auto& e : r->elements) raw += e.elements[1].elements[1].str;
  }
  for (const char* clear : {"1555", "example.com", "Elm St", "ETR 6 PM", "outage"}) {
    EXPECT_EQ(raw.find(clear), std::string::npos) << clear << " is in clear in Redis";
  }

  auto d = dispatcher(sandboxes());
  d->start();
  ASSERT_TRUE(wait_until([&] { return d->counts().sent >= 10; }, milliseconds(10000)));
  d->stop();
  std::ifstream sms(dir_ / "sms.jsonl"), mail(dir_ / "email.jsonl");
  std::string sms_text((std::istreambuf_iterator<char>(sms)), {});
  std::string mail_text((std::istreambuf_iterator<char>(mail)), {});
  EXPECT_NE(sms_text.find(phone(3)), std::string::npos);
  EXPECT_NE(sms_text.find("Outage at 12 Elm St, ETR 6 PM"), std::string::npos);
  EXPECT_NE(mail_text.find(email(4)), std::string::npos);
  EXPECT_NE(mail_text.find("<p>Crews are on the way to 12 Elm St.</p>"), std::string::npos);
}

TEST_F(DispatchTest, DeadConsumersEntriesAreClaimedAndDeliveredOnce) {
  std::vector<v1::OutboundMessage> msgs;
  for (uint64_t i = 0; i < 50; ++i) msgs.push_back(message(v1::SMS, v1::PRIORITY_NORMAL, i));
  for (uint64_t i = 50; i < 60; ++i) msgs.push_back(message(v1::SMS, v1::PRIORITY_EMERGENCY, i));
  enqueue_all(msgs);
  {
    auto dead = queue();
    ASSERT_TRUE(dead.ensure_groups().ok());
    auto taken = dead.read("dead", v1::SMS, 100, milliseconds(0));
    ASSERT_TRUE(taken.ok());
    ASSERT_EQ(taken->size(), 60u);
    for (size_t i = 0; i < 10; ++i)
      EXPECT_EQ((*taken)[i].message.priority(), v1::PRIORITY_EMERGENCY);
    EXPECT_EQ(*dead.pending(v1::SMS), 60);
  }  // the consumer dies without acking

  DispatcherOptions o;
  o.min_idle = milliseconds(400);
  o.claim_every = milliseconds(50);
  auto d = dispatcher(sandboxes(), o);
  const auto started = Clock::now();
  d->start();
  ASSERT_TRUE(wait_until([&] { return d->counts().sent >= 60; }, milliseconds(10000)));
  const auto took = Clock::now() - started;
  // Let a second claim round run: nothing may be sent again.
  std::this_thread::sleep_for(milliseconds(200));
  d->stop();

  EXPECT_GE(took, milliseconds(350)) << "entries were taken before they were idle";
  auto lines = delivered("sms");
  std::set<std::string> ids;
  for (const auto& [id, prio] : lines) ids.insert(id);
  EXPECT_EQ(lines.size(), 60u);
  EXPECT_EQ(ids.size(), 60u);
  EXPECT_EQ(d->counts().sent, 60u);
  EXPECT_EQ(funnel()["sms:sent"], 60);
  EXPECT_EQ(*queue().pending(v1::SMS), 0);
}

// Fails permanently for odd customer numbers; even ones ask for a retry once, then go.
class FlakyChannel : public channels::Channel {
 public:
  v1::Channel kind() const override { return v1::VOICE; }
  channels::SendResult send(const v1::OutboundMessage& msg, const v1::MessageContent&) override {
    channels::SendResult r;
    if (msg.customer_num() % 2 == 1) {
      r.status = channels::SendResult::Status::kPermanent;
      r.error_code = "21211";
    } else if (seen_.insert(msg.id()).second) {
      r.status = channels::SendResult::Status::kRetry;
    } else {
      ++sent_;
    }
    return r;
  }
  std::set<std::string> seen_;  // one dispatcher thread: no lock needed
  std::atomic<int> sent_{0};
};

TEST_F(DispatchTest, RetriesComeBackAfterBackoffAndFailuresAreCounted) {
  std::vector<v1::OutboundMessage> msgs;
  for (uint64_t i = 0; i < 20; ++i) msgs.push_back(message(v1::VOICE, v1::PRIORITY_MEDICAL, i));
  auto wrong_key = message(v1::VOICE, v1::PRIORITY_MEDICAL, 100);
  wrong_key.set_sealed_content(sealer().seal("x", "another message"));
  msgs.push_back(wrong_key);
  enqueue_all(msgs);

  auto flaky = std::make_shared<FlakyChannel>();
  DispatcherOptions o;
  o.retry.base = milliseconds(50);
  o.retry_poll = milliseconds(20);
  auto d = dispatcher({flaky}, o);
  d->start();
  ASSERT_TRUE(wait_until([&] { return flaky->sent_ >= 10; }, milliseconds(10000)));
  d->stop();

  EXPECT_EQ(flaky->sent_, 10);
  auto f = funnel();
  EXPECT_EQ(f["voice:sent"], 10);
  EXPECT_EQ(f["voice:failed"], 11);  // 10 refused by the provider, 1 that does not open
  EXPECT_EQ(d->counts().retried, 10u);
  EXPECT_EQ(*queue().pending(v1::VOICE), 0);
}

// Notes the nice value of the thread each message is sent on.
class NiceRecordingChannel : public channels::Channel {
 public:
  v1::Channel kind() const override { return v1::SMS; }
  channels::SendResult send(const v1::OutboundMessage& msg, const v1::MessageContent&) override {
    std::lock_guard lock(mu_);
    nice_[msg.id()] = ThreadNice::of_this_thread();
    return {};
  }
  std::map<std::string, int> seen() {
    std::lock_guard lock(mu_);
    return nice_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> nice_;
};

TEST_F(DispatchTest, NormalMessagesAreSentAtTheBulkNiceValueAndEmergenciesAtTheThreadsOwn) {
  if (!ThreadNice::can_be_restored(19)) GTEST_SKIP() << "no CAP_SYS_NICE or RLIMIT_NICE 20 here";
  const int own = ThreadNice::of_this_thread();  // the dispatcher's threads start with it
  ASSERT_LT(own, 19);
  auto recorder = std::make_shared<NiceRecordingChannel>();
  DispatcherOptions o;
  o.bulk_nice = 19;
  auto d = dispatcher({recorder}, o);
  d->start();
  std::vector<v1::OutboundMessage> normal;
  for (uint64_t i = 0; i < 10; ++i) normal.push_back(message(v1::SMS, v1::PRIORITY_NORMAL, i));
  enqueue_all(normal);
  ASSERT_TRUE(wait_until([&] { return recorder->seen().size() == 10; }, milliseconds(10000)));
  enqueue_all(
      {message(v1::SMS, v1::PRIORITY_EMERGENCY, 100), message(v1::SMS, v1::PRIORITY_MEDICAL, 101)});
  ASSERT_TRUE(wait_until([&] { return recorder->seen().size() == 12; }, milliseconds(10000)));
  d->stop();
  for (const auto& [id, nice] : recorder->seen()) {
    const bool urgent = id.ends_with(":100") || id.ends_with(":101");
    EXPECT_EQ(nice, urgent ? own : 19) << id;
  }
}

TEST_F(DispatchTest, StopReturnsPromptlyWhileWaiting) {
  auto d = dispatcher(sandboxes());
  d->start();
  std::this_thread::sleep_for(milliseconds(150));
  const auto t0 = Clock::now();
  d->stop();
  EXPECT_LT(Clock::now() - t0, milliseconds(2000));
}

TEST_F(DispatchTest, AMessageOvertakenBeforeItsSendIsDroppedUnsent) {
  // Revision 1 said "ETR 6 PM"; revision 2, accepted before the dispatcher got to it, restored.
  v1::Event first;
  first.set_id(std::string(kEvent));
  first.set_kind(v1::OUTAGE);
  first.set_stage(v1::DETECTED);
  first.set_revision(1);
  first.mutable_estimated_restoration()->set_seconds(1900000000);
  v1::Event restored = first;
  restored.set_stage(v1::RESTORED);
  restored.set_revision(2);
  v1::EventState state;
  *state.mutable_event() = restored;
  auto q = queue();
  ASSERT_TRUE(q.connection()
                  .command(redis::cmd("RPUSH", events::revisions_key(kEvent),
                                      first.SerializeAsString(), restored.SerializeAsString()))
                  .ok());
  ASSERT_TRUE(q.connection()
                  .command(redis::cmd("SET", events::event_key(kEvent), state.SerializeAsString()))
                  .ok());
  auto current = message(v1::SMS, v1::PRIORITY_NORMAL, 2);
  current.set_revision(2);
  current.set_id(fmt::format("{}:2:sms:2", kEvent));
  v1::MessageContent c;
  c.set_to(phone(2));
  c.set_sms("Power is back on at 12 Elm St");
  current.set_sealed_content(sealer().seal(c.SerializeAsString(), current.id()));
  enqueue_all({message(v1::SMS, v1::PRIORITY_NORMAL, 1), current});

  auto d = dispatcher(sandboxes());
  d->start();
  ASSERT_TRUE(wait_until([&] { return funnel()["sms:stale"] == 1 && d->counts().sent == 1; },
                         milliseconds(10000)));
  d->stop();
  const auto lines = delivered("sms");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].first, current.id()) << "only the current state reaches the customer";
}

TEST_F(DispatchTest, TwoClientsSharingABudgetNeverExceedItsRate) {
  constexpr int kRate = 20;
  constexpr auto kRun = milliseconds(1500);
  std::atomic<int64_t> granted{0};
  auto spend = [&] {
    auto q = queue();
    Budget budget("twilio:AC1:+15550001111", kRate, 0, std::chrono::seconds(60));
    const auto end = Clock::now() + kRun;
    while (Clock::now() < end) {
      auto g = budget.take(q.connection(), 5);
      ASSERT_TRUE(g.ok());
      granted += g->granted;
      if (g->granted == 0) std::this_thread::sleep_for(std::min(g->wait, milliseconds(20)));
    }
  };
  const auto t0 = Clock::now();
  std::thread a(spend), b(spend);
  a.join();
  b.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  // A full bucket (one second's worth) plus the refill while they ran.
  EXPECT_LE(granted.load(), kRate + static_cast<int64_t>(kRate * seconds) + 1);
  EXPECT_GE(granted.load(), static_cast<int64_t>(kRate * 1.5 * 0.8)) << "the budget starved";
}

TEST_F(DispatchTest, UnusedTokensGoBackToTheBucket) {
  auto q = queue();
  Budget budget("twilio:AC1:+15550002222", 10, 0, std::chrono::seconds(60));
  auto all = budget.take(q.connection(), 100);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->granted, 10);
  EXPECT_GT(all->wait, milliseconds(0));
  ASSERT_TRUE(budget.give_back(q.connection(), 4).ok());
  auto again = budget.take(q.connection(), 100);
  EXPECT_GE(again->granted, 4);
  EXPECT_LE(again->granted, 5);
}

TEST_F(DispatchTest, CallSlotsAdmitUpToTheLimitAndFreeOnRelease) {
  auto q = queue();
  Budget calls("twilio:AC1:+15550003333", 0, 2, std::chrono::seconds(60));
  std::vector<std::string> ids = {"a", "b", "c"};
  EXPECT_EQ(*calls.take_calls(q.connection(), ids), 2);
  EXPECT_EQ(*calls.take_calls(q.connection(), std::span(ids).subspan(2)), 0);
  ASSERT_TRUE(q.connection().command(calls.release_call("a")).ok());
  EXPECT_EQ(*calls.take_calls(q.connection(), std::span(ids).subspan(2)), 1);
}

// 200 NORMAL messages wait behind a budget of 5 per second; an EMERGENCY one queued meanwhile
// goes with the next round, ahead of the backlog.
TEST_F(DispatchTest, UnderATightBudgetAnEmergencyWaitsAtMostOneRound) {
  std::vector<v1::OutboundMessage> backlog;
  for (uint64_t i = 0; i < 200; ++i) backlog.push_back(message(v1::SMS, v1::PRIORITY_NORMAL, i));
  enqueue_all(backlog);
  auto sms = std::make_shared<testing::ScriptedChannel>(v1::SMS, "twilio:AC1:+15550004444");
  DispatcherOptions o;
  o.limits[v1::SMS].rate_per_s = 5;
  auto d = dispatcher({sms}, o);
  d->start();
  ASSERT_TRUE(wait_until([&] { return d->counts().sent >= 7; }, milliseconds(10000)));
  auto urgent = message(v1::SMS, v1::PRIORITY_EMERGENCY, 999);
  const auto queued = Clock::now();
  enqueue_all({urgent});
  ASSERT_TRUE(wait_until([&] { return sms->sends_of(urgent.id()) == 1; }, milliseconds(5000)));
  std::this_thread::sleep_for(milliseconds(600));
  d->stop();

  auto seen = sms->seen();
  int normal_before = 0;
  for (const auto& s : seen) {
    if (s.id == urgent.id()) break;
    if (s.at > queued) ++normal_before;
  }
  EXPECT_LE(normal_before, 5) << "NORMAL messages went ahead of the EMERGENCY for over a round";
  const double span = std::chrono::duration<double>(seen.back().at - seen.front().at).count();
  EXPECT_LE(static_cast<double>(seen.size()), 5 + 5 * span + 1) << "the budget was exceeded";
}

TEST_F(DispatchTest, IdleConsumersWithoutPendingEntriesAreRemoved) {
  auto q = queue();
  ASSERT_TRUE(q.ensure_groups(v1::SMS).ok());
  enqueue_all({message(v1::SMS, v1::PRIORITY_NORMAL, 1), message(v1::SMS, v1::PRIORITY_NORMAL, 2)});
  ASSERT_EQ(q.read("busy/sms/0", v1::SMS, 1, milliseconds(0))->size(), 1u);
  auto done = q.read("gone/sms/0", v1::SMS, 1, milliseconds(0));
  ASSERT_EQ(done->size(), 1u);
  ASSERT_TRUE(q.ack(done->front()).ok());  // "gone" finished its work and then died
  std::this_thread::sleep_for(milliseconds(120));
  auto pruned = q.prune_consumers(v1::SMS, milliseconds(100));
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  // Redis 7.0 names a consumer on a stream only once it read from it: "gone" on NORMAL, and
  // on older servers also the names an empty read left on the other priorities.
  EXPECT_GE(*pruned, 1);
  auto info = q.connection().command(redis::cmd(
      "XINFO", "CONSUMERS", stream_key(v1::SMS, v1::PRIORITY_NORMAL), std::string(kGroup)));
  ASSERT_EQ(info->elements.size(), 1u);
  EXPECT_EQ(info->elements[0].elements[1].str, "busy/sms/0") << "a consumer with work was removed";
  EXPECT_EQ(*q.pending(v1::SMS), 1);
}

}  // namespace
}  // namespace herald::dispatch
