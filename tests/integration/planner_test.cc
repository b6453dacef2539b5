// The planner against a real Redis, driven round by round (run_once): a batch written in
// several MULTI/EXEC chunks and cut between two of them, as a crash would, is replayed
// deciding every customer exactly once; the daily cap counts across events.
#include "service/fanout/planner.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "service/common/metrics.h"
#include "service/common/net.h"
#include "service/common/thread_nice.h"
#include "service/dispatch/queue.h"
#include "service/events/event_store.h"
#include "service/events/intake.h"
#include "service/fanout/ledger.h"
#include "service/redis/pool.h"
#include "service/store/customer_store.h"
#include "service/store/keys.h"
#include "templates/catalog.h"
#include "tests/support/dispatch_fixture.h"
#include "tests/support/redis_server.h"
#include "tests/support/thread_caps.h"

namespace herald::testing {
namespace {

using std::chrono::milliseconds;
constexpr int kCustomers = 250;
constexpr int kNiceAudience = 3000;
constexpr std::string_view kExec = "*1\r\n$4\r\nEXEC\r\n";

// A TCP relay on 127.0.0.1 between one client and Redis that forwards everything until the
// client sends its `cut_at`-th EXEC, then closes both sides before that EXEC reaches Redis
// (once Redis has answered what came before it): Redis discards the transaction queued so
// far, exactly as when the client's process dies.
// One connection, bounded by a 60 s deadline; stops with the object.
class CuttingRelay {
 public:
  CuttingRelay(int redis_port, int cut_at) : redis_port_(redis_port), cut_at_(cut_at) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener_, 1) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("relay: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~CuttingRelay() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }
  int port() const { return port_; }
  bool cut() const { return cut_; }

 private:
  static bool send_all(int fd, const char* p, size_t n) {
    while (n > 0) {
      const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }
  bool wait_readable(int fd) { return wait_readable_for(fd, 100); }
  bool wait_readable_for(int fd, int ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, ms) > 0;
  }

  void run() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int client = -1;
    while (!stop_ && client < 0 && std::chrono::steady_clock::now() < deadline) {
      if (wait_readable(listener_)) client = ::accept(listener_, nullptr, nullptr);
    }
    if (client < 0) return;
    const int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(redis_port_));
    if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(client);
      ::close(server);
      return;
    }
    std::string upstream;  // what the client sent, not yet forwarded
    int execs = 0;
    char buf[65536];
    while (!stop_ && !cut_ && std::chrono::steady_clock::now() < deadline) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(fds, 2, 100) <= 0) continue;
      if (fds[1].revents & (POLLIN | POLLHUP)) {
        const ssize_t n = ::recv(server, buf, sizeof buf, 0);
        if (n <= 0 || !send_all(client, buf, static_cast<size_t>(n))) break;
      }
      if (fds[0].revents & (POLLIN | POLLHUP)) {
        const ssize_t n = ::recv(client, buf, sizeof buf, 0);
        if (n <= 0) break;
        upstream.append(buf, static_cast<size_t>(n));
        // Forward up to the EXEC to cut at.
        size_t from = 0;  // where to look for the next EXEC
        for (size_t at; (at = upstream.find(kExec, from)) != std::string::npos;) {
          if (++execs == cut_at_) {
            send_all(server, upstream.data(), at);
            cut_ = true;
            break;
          }
          from = at + kExec.size();
        }
        if (cut_) break;
        // Held back: a tail that may be the start of an EXEC.
        size_t keep = std::min(upstream.size() - from, kExec.size() - 1);
        while (keep > 0 && !std::string_view(upstream).ends_with(kExec.substr(0, keep))) --keep;
        const size_t upto = upstream.size() - keep;
        if (!send_all(server, upstream.data(), upto)) break;
        upstream.erase(0, upto);
      }
    }
    // Redis runs what was forwarded before the cut (the client may have sent it without
    // waiting for the replies before, two chunks in flight): read its replies until it has
    // been quiet for 50 ms, so closing cannot throw away a transaction Redis had not yet read.
    if (cut_) {
      while (wait_readable_for(server, 50) && std::chrono::steady_clock::now() < deadline) {
        if (::recv(server, buf, sizeof buf, 0) <= 0) break;
      }
    }
    ::close(client);
    ::close(server);
  }

  int redis_port_;
  int cut_at_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> cut_{false};
  std::thread thread_;
};

// The nice values of this process's threads named `name` (/proc/self/task/<tid>/comm).
std::vector<int> nice_of_threads(const std::string& name) {
  std::vector<int> out;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::string comm;
    std::getline(std::ifstream(task.path() / "comm"), comm);
    if (comm != name) continue;
    const auto tid = static_cast<id_t>(std::stoi(task.path().filename().string()));
    errno = 0;  // -1 is a valid nice value
    const int nice = ::getpriority(PRIO_PROCESS, tid);
    if (errno == 0) out.push_back(nice);  // else the thread ended meanwhile
  }
  return out;
}

void expect_planned_once_and_tidy(redis::Connection& conn, const std::string& id, int customers,
                                  const std::map<uint64_t, int>& queued);

class PlannerRedis : public ::testing::Test {
 protected:
  PlannerRedis()
      : pool_(server_.endpoint(), redis::PoolOptions{}, nullptr),
        sealer_(dispatch_sealer()),
        store_(pool_, sealer_),
        signer_(*core::TokenSigner::from_key(kDispatchKey)),
        catalog_(templates::Catalog::load(std::string(HERALD_SOURCE_DIR) + "/templates")) {}

  // `count` customers on feeder F-1 who chose SMS for outages, with every update, and at most
  // `max_per_day` notifications a day (0: no cap); with `second_feeder`, each has a second
  // premise on it.
  void put_customers(int count, int max_per_day = 0, const v1::QuietHours* quiet = nullptr,
                     v1::Cadence cadence = v1::EVERY_UPDATE, const std::string& second_feeder = "",
                     int second_from = 0) {
    std::vector<v1::Customer> all;
    for (int i = 0; i < count; ++i) {
      v1::Customer c;
      c.set_id("C-" + std::to_string(i));
      c.set_name("Ada Lovelace");
      c.set_phone("+12014316859");
      c.set_language(i % 2 ? "es" : "en");
      c.set_time_zone("UTC");
      auto* p = c.add_premises();
      p->set_id("P-" + std::to_string(i));
      p->set_address(std::to_string(i) + " Mill Rd");
      p->set_feeder("F-1");
      if (!second_feeder.empty() && i >= second_from) {
        auto* q = c.add_premises();
        q->set_id("Q-" + std::to_string(i));
        q->set_address(std::to_string(i) + " Weir Ln");
        q->set_feeder(second_feeder);
      }
      c.mutable_preferences()->mutable_channels()->add_outage(v1::SMS);
      c.mutable_preferences()->set_cadence(cadence);
      if (max_per_day > 0) c.mutable_preferences()->set_max_per_day(max_per_day);
      if (quiet) *c.mutable_preferences()->mutable_quiet_hours() = *quiet;
      all.push_back(std::move(c));
    }
    run_io([&]() -> awaitable<bool> {
      auto r = co_await store_.put_batch(all, 1700000000000);
      co_return r.ok();
    });
  }

  // `count` customers (as put_customers) with quiet hours 22:00-07:00 UTC; returns the start
  // of today (UTC), from which the tests count their night and morning.
  std::chrono::system_clock::time_point put_night_quiet_customers(int count) {
    v1::QuietHours nights;
    nights.set_start("22:00");
    nights.set_end("07:00");
    put_customers(count, 0, &nights);
    return std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  }

  // An outage on feeder F-1, accepted through `store` (a plain EventStore when null).
  void raise_outage(const std::string& id, v1::Severity severity = v1::ADVISORY,
                    events::EventStore* store = nullptr) {
    v1::Event e;
    e.set_id(id);
    e.set_kind(v1::OUTAGE);
    e.set_stage(v1::DETECTED);
    e.set_severity(severity);
    e.mutable_area()->add_feeders("F-1");
    events::EventStore plain(pool_);
    events::EventStore& events = store ? *store : plain;
    run_io([&]() -> awaitable<bool> {
      auto r = co_await events.create(e, "", "", 1700000000000);
      co_return r.ok();
    });
  }

  void update_event(const std::string& id, const v1::EventUpdate& update) {
    events::EventStore events(pool_);
    run_io([&]() -> awaitable<bool> {
      auto r = co_await events.update(id, update, "", "", 1700000000000);
      co_return r.ok();
    });
  }

  // The bucket hashes of `key` (key:<bucket>), e.g. an event's history buckets.
  std::vector<std::string> buckets_of(const std::string& key) {
    std::vector<std::string> keys;
    auto r = conn_.command(redis::cmd("KEYS", key + ":*"));
    if (!r.ok()) return keys;
    for (const auto& k : r->elements) keys.push_back(k.str);
    return keys;
  }
  std::vector<std::string> history_buckets(const std::string& id) {
    return buckets_of(fanout::legacy_history_key(id));
  }

  // Moves the fields of every bucket of `key` into the one hash `key`, the layout an earlier
  // release wrote.
  // How many customers' daily-cap counters in `key` (a day's string) hold `count`.
  int64_t count_of(const std::string& key, int count) {
    const auto bytes = conn_.command(redis::cmd("GET", key))->str;
    return std::count(bytes.begin(), bytes.end(), static_cast<char>(count));
  }

  void into_one_hash(const std::string& key) {
    for (const auto& bucket : buckets_of(key)) {
      redis::Command copy{"HSET", key};
      auto fields = conn_.command(redis::cmd("HGETALL", bucket));
      ASSERT_TRUE(fields.ok());
      for (const auto& f : fields->elements) copy.push_back(f.str);
      ASSERT_FALSE(conn_.command(copy)->is_error());
      ASSERT_EQ(conn_.command(redis::cmd("DEL", bucket))->integer, 1);
    }
  }

  void run_io(std::function<awaitable<bool>()> body) {
    net::io_context io;
    std::optional<bool> ok;
    net::co_spawn(
        io, [&]() -> awaitable<void> { ok = co_await body(); }, net::detached);
    io.run();
    ASSERT_TRUE(ok.value_or(false));
  }

  // Plans rounds through a CuttingRelay until it cuts the `cut_at`-th EXEC, as a crash would.
  void run_until_cut(fanout::Planner& planner, int cut_at) {
    CuttingRelay relay(server_.port(), cut_at);
    redis::Endpoint via = server_.endpoint();
    via.port = relay.port();
    auto cut_conn = redis::Connection::connect(via, milliseconds(5000));
    ASSERT_TRUE(cut_conn.ok());
    Result<int> round = 0;
    for (int k = 0; k < 10 && round.ok(); ++k) {
      round = planner.run_once(*cut_conn, std::chrono::system_clock::now());
    }
    ASSERT_FALSE(round.ok()) << "the planner saw its connection go";
    ASSERT_TRUE(relay.cut()) << round.error().message;
  }

  fanout::PlannerOptions options() {
    fanout::PlannerOptions o;
    o.consumer = "chunks-test";
    o.batch = 500;
    o.chunk = 100;
    o.claim_idle = milliseconds(100);  // the cut run's entry is taken back quickly
    return o;
  }

  // One lane, one part, batches of 50: many batches, so sampling catches the lane in one.
  fanout::PlannerOptions nice_options(int bulk_nice) {
    fanout::PlannerOptions o = options();
    o.lanes = 1;
    o.batch = 50;
    o.chunk = 50;
    o.shards = 1;
    o.bulk_nice = bulk_nice;
    return o;
  }

  // The nice values the lane's thread had while revision 1 of `id` was planned, sampled as
  // often as possible; every customer of the feeder must have been queued.
  std::set<int> lane_nice_until_planned(const std::string& id) {
    std::set<int> seen;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (conn_.command(redis::cmd("GET", "plan:{" + id + "}:1"))->str != "done" &&
           std::chrono::steady_clock::now() < deadline) {
      for (int nice : nice_of_threads("plan-0")) seen.insert(nice);
    }
    EXPECT_EQ(funnel_of(conn_, id)["sms:queued"], kNiceAudience) << id;
    return seen;
  }

  // How many dispatch entries the SMS streams hold per customer number.
  std::map<uint64_t, int> queued_per_customer() {
    std::map<uint64_t, int> out;
    auto keys = conn_.command(redis::cmd("KEYS", "dq:sms:*"));
    for (const auto& key : keys->elements) {
      auto entries = conn_.command(redis::cmd("XRANGE", key.str, "-", "+"));
      for (const auto& e : entries->elements) {
        const auto& kv = e.elements[1].elements;
        for (size_t i = 0; i + 1 < kv.size(); i += 2) {
          v1::OutboundMessage m;
          if (kv[i].str == dispatch::kField && m.ParseFromString(kv[i + 1].str)) {
            ++out[m.customer_num()];
          }
        }
      }
    }
    return out;
  }

  // After a cut: past claim_idle, so the entry is taken back, then up to `rounds` rounds until
  // revision 1 of `id` is planned.
  void resume_until_planned(fanout::Planner& planner, const std::string& id, int rounds) {
    std::this_thread::sleep_for(milliseconds(200));
    for (int round = 0; round < rounds; ++round) {
      auto again = planner.run_once(conn_, std::chrono::system_clock::now());
      ASSERT_TRUE(again.ok()) << again.error().message;
      if (conn_.command(redis::cmd("GET", "plan:{" + id + "}:1"))->str == "done") break;
    }
  }

  // An ADVISORY outage over feeders F-1 and F-2, its audience read feeder by feeder.
  void raise_two_feeder_outage(const std::string& id) {
    v1::Event e;
    e.set_id(id);
    e.set_kind(v1::OUTAGE);
    e.set_stage(v1::DETECTED);
    e.set_severity(v1::ADVISORY);
    e.mutable_area()->add_feeders("F-1");
    e.mutable_area()->add_feeders("F-2");
    events::EventStore events(pool_);
    run_io([&]() -> awaitable<bool> {
      auto r = co_await events.create(e, "", "", 1700000000000);
      co_return r.ok();
    });
  }

  // kCustomers customers on F-1 and F-2, an outage over both planned in `shards` parts, in
  // batches of 50 with a crash in the fourth: everyone is decided once.
  void plan_two_feeder_outage(uint32_t shards) {
    put_customers(kCustomers, 0, nullptr, v1::EVERY_UPDATE, "F-2");
    raise_two_feeder_outage("OUT-TWICE");
    fanout::PlannerOptions o = options();
    o.batch = 50;
    o.chunk = 25;
    o.shards = shards;
    o.shard_min = 100;
    fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, o);
    run_until_cut(planner, 7);
    resume_until_planned(planner, "OUT-TWICE", 40);
    expect_planned_once_and_tidy(conn_, "OUT-TWICE", kCustomers, queued_per_customer());
    EXPECT_EQ(funnel_of(conn_, "OUT-TWICE").count("sms:suppressed:duplicate"), 0u);
  }

  RedisServer server_;
  redis::Connection conn_ = connect(server_);
  redis::Pool pool_;
  core::Sealer sealer_;
  store::CustomerStore store_;
  core::TokenSigner signer_;
  templates::Catalog catalog_;
};

TEST_F(PlannerRedis, ABatchCutBetweenChunksIsReplayedWithoutDecidingAnyoneTwice) {
  put_customers(kCustomers);
  raise_outage("OUT-CUT");
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, options());
  {
    CuttingRelay relay(server_.port(), 2);  // the batch's first chunk lands, the second not
    redis::Endpoint via = server_.endpoint();
    via.port = relay.port();
    auto cut_conn = redis::Connection::connect(via, milliseconds(5000));
    ASSERT_TRUE(cut_conn.ok());
    auto first = planner.run_once(*cut_conn, std::chrono::system_clock::now());
    ASSERT_FALSE(first.ok()) << "the planner saw its connection go";
    ASSERT_TRUE(relay.cut()) << first.error().message;
    ASSERT_TRUE(relay.cut());
  }
  auto f = funnel_of(conn_, "OUT-CUT");
  ASSERT_EQ(f["audience"], 100) << "exactly the first chunk was committed";
  ASSERT_EQ(f["sms:queued"], 100);
  EXPECT_EQ(conn_.command(redis::cmd("GET", "plan:{OUT-CUT}:1"))->is_nil(), true)
      << "the cursor moves only with the batch's last chunk";

  std::this_thread::sleep_for(milliseconds(200));  // past claim_idle
  auto second = planner.run_once(conn_, std::chrono::system_clock::now());
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(conn_.command(redis::cmd("GET", "plan:{OUT-CUT}:1"))->str, "done");

  f = funnel_of(conn_, "OUT-CUT");
  EXPECT_EQ(f["audience"], kCustomers) << "each customer counted once";
  EXPECT_EQ(f["sms:queued"], kCustomers);
  EXPECT_EQ(f.count("sms:suppressed:duplicate"), 0u) << "committed customers are skipped whole";
  const auto queued = queued_per_customer();
  EXPECT_EQ(queued.size(), static_cast<size_t>(kCustomers));
  for (const auto& [num, n] : queued) EXPECT_EQ(n, 1) << "customer " << num;
  // One decision touchpoint per customer, none from the replay.
  for (const auto& [num, n] : queued) {
    int decisions = 0;
    for (const auto& tp : touchpoints_of(conn_, num)) decisions += tp.kind() == v1::DECISION;
    EXPECT_EQ(decisions, 1) << "customer " << num;
  }
  EXPECT_EQ(conn_.command(redis::cmd("EXISTS", "seen:{OUT-CUT}:1:done"))->integer, 0)
      << "the done bits go with the revision";
}

// The intake entries of one event: their fields by entry.
std::vector<std::map<std::string, std::string>> intake_entries_of(redis::Connection& conn,
                                                                  const std::string& event) {
  std::vector<std::map<std::string, std::string>> out;
  auto entries = conn.command(redis::cmd("XRANGE", events::kIntakeKey, "-", "+"));
  for (const auto& e : entries->elements) {
    std::map<std::string, std::string> fields;
    const auto& kv = e.elements[1].elements;
    for (size_t i = 0; i + 1 < kv.size(); i += 2) fields[kv[i].str] = kv[i + 1].str;
    if (fields["event"] == event) out.push_back(std::move(fields));
  }
  return out;
}

// Every customer queued once with one decision; the revision done and its planning keys gone.
void expect_planned_once_and_tidy(redis::Connection& conn, const std::string& id, int customers,
                                  const std::map<uint64_t, int>& queued) {
  auto f = funnel_of(conn, id);
  EXPECT_EQ(f["audience"], customers) << "each customer counted once";
  EXPECT_EQ(f["sms:queued"], customers);
  EXPECT_EQ(queued.size(), static_cast<size_t>(customers));
  for (const auto& [num, n] : queued) {
    EXPECT_EQ(n, 1) << "customer " << num;
    int decisions = 0;
    for (const auto& tp : touchpoints_of(conn, num)) decisions += tp.kind() == v1::DECISION;
    EXPECT_EQ(decisions, 1) << "customer " << num;
  }
  const std::string plan = "plan:{" + id + "}:1", seen = "seen:{" + id + "}:1";
  EXPECT_EQ(conn.command(redis::cmd("GET", plan))->str, "done");
  for (const std::string& key : {plan + ":parts", plan + ":finished", plan + ":s0", plan + ":s1",
                                 seen, seen + ":done", seen + ":last:0", seen + ":last:1"}) {
    EXPECT_EQ(conn.command(redis::cmd("EXISTS", key))->integer, 0) << key << " is left";
  }
}

// An EMERGENCY revision's intake entry carries the revision, so the lane that takes it first
// plans without reading it back. An entry taken again after a crash is not fresh: it resumes
// from its saved cursor and replays the batch the crash cut short, whose committed customers
// its done bits skip.
TEST_F(PlannerRedis, AnUrgentEntryTakenAgainAfterACrashResumesFromItsCursor) {
  put_customers(kCustomers);
  raise_outage("OUT-URGENT-CUT", v1::EMERGENCY);
  auto entry = conn_.command(redis::cmd("XRANGE", events::kIntakeKey, "-", "+"));
  ASSERT_TRUE(entry.ok() && entry->elements.size() == 1);
  const auto& kv = entry->elements[0].elements[1].elements;
  std::map<std::string, std::string> fields;
  for (size_t i = 0; i + 1 < kv.size(); i += 2) fields[kv[i].str] = kv[i + 1].str;
  v1::Event carried;
  ASSERT_TRUE(carried.ParseFromString(fields["planned"])) << "the entry carries its revision";
  EXPECT_EQ(carried.id(), "OUT-URGENT-CUT");
  EXPECT_EQ(carried.revision(), 1u);

  fanout::PlannerOptions o = options();
  o.batch = 100;
  o.chunk = 50;
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, o);
  // Batch 1 is two chunks (the cursor moves with the second); batch 2's first chunk lands and
  // its second is cut.
  run_until_cut(planner, 4);
  auto f = funnel_of(conn_, "OUT-URGENT-CUT");
  ASSERT_EQ(f["audience"], 150) << "batch 1 and the first chunk of batch 2 were committed";
  ASSERT_FALSE(conn_.command(redis::cmd("GET", "plan:{OUT-URGENT-CUT}:1"))->is_nil());

  resume_until_planned(planner, "OUT-URGENT-CUT", 10);
  expect_planned_once_and_tidy(conn_, "OUT-URGENT-CUT", kCustomers, queued_per_customer());
}

TEST_F(PlannerRedis, ALargeRevisionIsSplitIntoPartsThatTogetherPlanEveryoneOnce) {
  put_customers(kCustomers);
  raise_outage("OUT-PARTS");
  fanout::PlannerOptions o = options();
  o.shards = 2;
  o.shard_min = 100;  // the 250 customers of F-1 count as large
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, o);
  auto r = planner.run_once(conn_, std::chrono::system_clock::now());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto entries = intake_entries_of(conn_, "OUT-PARTS");
  ASSERT_EQ(entries.size(), 2u) << "the accepted entry (part 0) and one for part 1";
  EXPECT_EQ(entries[0].count("shard"), 0u);
  EXPECT_EQ(entries[1].at("shard"), "1");
  EXPECT_EQ(entries[1].at("shards"), "2");
  EXPECT_EQ(entries[1].at("block"), "64") << "parts take whole record buckets";
  expect_planned_once_and_tidy(conn_, "OUT-PARTS", kCustomers, queued_per_customer());

  // Below shard_min a revision is planned whole: one intake entry.
  raise_outage("OUT-WHOLE");
  o.shard_min = 1000;
  fanout::Planner whole(server_.endpoint(), sealer_, signer_, catalog_, o);
  ASSERT_TRUE(whole.run_once(conn_, std::chrono::system_clock::now()).ok());
  EXPECT_EQ(intake_entries_of(conn_, "OUT-WHOLE").size(), 1u);
  EXPECT_EQ(funnel_of(conn_, "OUT-WHOLE")["audience"], kCustomers);
}

// A revision an earlier release split gave part s every customer n with n % K == s; its part
// entries carry no block, and its parts marker only K. Parts of it taken over after an upgrade
// keep that partition: here part 0 was finished before the upgrade, and part 1 plans exactly
// the odd numbers (with whole blocks of 64 it would plan 64..127 and 192..250).
TEST_F(PlannerRedis, APartSplitByAnEarlierReleaseKeepsItsPartition) {
  put_customers(kCustomers);
  raise_outage("OUT-OLDSPLIT");
  const std::string plan = "plan:{OUT-OLDSPLIT}:1";
  ASSERT_TRUE(
      conn_
          .pipeline(redis::batch(
              redis::cmd("SET", plan + ":parts", "2"), redis::cmd("SET", plan + ":s0", "done"),
              redis::cmd("SADD", plan + ":finished", "0"),
              redis::cmd("XADD", events::kIntakeKey, "*", "event", "OUT-OLDSPLIT", "revision", "1",
                         "shard", "1", "shards", "2")))
          .ok());
  fanout::PlannerOptions o = options();
  o.shards = 2;
  o.shard_min = 100;
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, o);
  for (int round = 0; round < 10; ++round) {
    ASSERT_TRUE(planner.run_once(conn_, std::chrono::system_clock::now()).ok());
    if (conn_.command(redis::cmd("GET", plan))->str == "done") break;
  }
  EXPECT_EQ(conn_.command(redis::cmd("GET", plan))->str, "done");
  const auto queued = queued_per_customer();
  EXPECT_EQ(queued.size(), static_cast<size_t>(kCustomers / 2));
  for (const auto& [num, n] : queued) {
    EXPECT_EQ(num % 2, 1u) << "customer " << num << " is not part 1's";
    EXPECT_EQ(n, 1) << "customer " << num;
  }
}

TEST_F(PlannerRedis, AnEntryReplayedAfterItsSplitAddsNoPartAndLosesNoCustomer) {
  put_customers(kCustomers);
  raise_outage("OUT-CUTPART");
  fanout::PlannerOptions o = options();
  o.shards = 2;
  o.shard_min = 100;
  o.chunk = 50;  // part 0 holds 125 customers: its second chunk is cut
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, o);
  run_until_cut(planner, 2);
  ASSERT_EQ(funnel_of(conn_, "OUT-CUTPART")["audience"], 50) << "part 0's first chunk only";
  ASSERT_EQ(intake_entries_of(conn_, "OUT-CUTPART").size(), 2u) << "split before the cut";

  std::this_thread::sleep_for(milliseconds(200));  // past claim_idle: the entry is taken back
  auto second = planner.run_once(conn_, std::chrono::system_clock::now());
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(intake_entries_of(conn_, "OUT-CUTPART").size(), 2u) << "the replay split nothing";
  expect_planned_once_and_tidy(conn_, "OUT-CUTPART", kCustomers, queued_per_customer());
}

// The audience reader gives a customer listed by two sources once per batch, not once per
// revision: here every customer is on F-1 and F-2, so each comes back in a later batch (batches
// of 50 walk F-1, then F-2). The done bits, read with every batch, keep it to one decision,
// one message and one count in the funnel, also across a crash and in a split revision.
TEST_F(PlannerRedis, ACustomerOnTwoFeedersOfTheOutageIsDecidedOnce) { plan_two_feeder_outage(1); }

TEST_F(PlannerRedis, ACustomerOnTwoFeedersIsDecidedOnceInASplitRevision) {
  plan_two_feeder_outage(2);
}

// A lane reads its next batch before the batch in hand is written, so the next batch's done
// bits are read before this one sets them. Here F-1's last batch and F-2's first are the same
// 50 customers: each is still decided once, by the first.
TEST_F(PlannerRedis, ACustomerInTheBatchReadAheadAndTheOneBeingWrittenIsDecidedOnce) {
  put_customers(kCustomers, 0, nullptr, v1::EVERY_UPDATE, "F-2", kCustomers - 50);
  raise_two_feeder_outage("OUT-AHEAD");
  fanout::PlannerOptions o = options();
  o.batch = 50;
  o.chunk = 25;
  o.shards = 1;
  ASSERT_TRUE(o.read_ahead);
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, o);
  auto planned = planner.run_once(conn_, std::chrono::system_clock::now());
  ASSERT_TRUE(planned.ok()) << planned.error().message;
  expect_planned_once_and_tidy(conn_, "OUT-AHEAD", kCustomers, queued_per_customer());
}

TEST_F(PlannerRedis, PartsPlannedByLanesAtOnceDecideEveryoneOnce) {
  constexpr int kMany = 3000;
  put_customers(kMany);
  fanout::PlannerOptions o = options();
  o.lanes = 3;
  o.batch = 200;
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, o);  // default split
  planner.start();
  raise_outage("OUT-LANES");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (conn_.command(redis::cmd("GET", "plan:{OUT-LANES}:1"))->str != "done" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  planner.stop();
  EXPECT_EQ(intake_entries_of(conn_, "OUT-LANES").size(), 2u);
  expect_planned_once_and_tidy(conn_, "OUT-LANES", kMany, queued_per_customer());
}

TEST_F(PlannerRedis, ALanePlansBulkBatchesAtTheBulkNiceValueAndUrgentOnesAtZero) {
  if (!ThreadNice::can_be_restored(7)) GTEST_SKIP() << "no CAP_SYS_NICE nor RLIMIT_NICE 20";
  put_customers(kNiceAudience);
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, nice_options(7));
  planner.start();
  raise_outage("OUT-ADVISORY");
  EXPECT_TRUE(lane_nice_until_planned("OUT-ADVISORY").contains(7))
      << "the lane planned bulk work at nice 0";
  // Once the bulk work is done the lane waits for entries at 0, so a new one starts at once.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (nice_of_threads("plan-0") != std::vector<int>{0} &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(nice_of_threads("plan-0"), std::vector<int>{0});
  raise_outage("OUT-EMERGENCY", v1::EMERGENCY);
  EXPECT_EQ(lane_nice_until_planned("OUT-EMERGENCY"), std::set<int>{0})
      << "urgent work was planned stepped back";
  planner.stop();
}

TEST_F(PlannerRedis, ALaneOfAProcessStartedUnderNiceReturnsToThatValueNotToZero) {
  if (!ThreadNice::can_be_restored(7)) GTEST_SKIP() << "no CAP_SYS_NICE nor RLIMIT_NICE 20";
  put_customers(kNiceAudience);
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, nice_options(7));
  std::thread starter([&] {  // as `nice -n 3 heraldd` would: the lanes inherit 3
    ASSERT_EQ(ThreadNice::set_this_thread(3), 0);
    planner.start();
  });
  starter.join();
  raise_outage("OUT-ADVISORY");
  EXPECT_EQ(lane_nice_until_planned("OUT-ADVISORY"), (std::set<int>{3, 7}));
  // The lane settles the advisory's entry after its cursor reads done, still at the bulk value:
  // the emergency's samples start once it is back at its own.
  const auto idle_by = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (nice_of_threads("plan-0") != std::vector<int>{3} &&
         std::chrono::steady_clock::now() < idle_by) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  raise_outage("OUT-EMERGENCY", v1::EMERGENCY);
  EXPECT_EQ(lane_nice_until_planned("OUT-EMERGENCY"), std::set<int>{3})
      << "urgent work ran above or below the process's own nice value";
  planner.stop();
}

TEST_F(PlannerRedis, WithoutTheRightToReturnALanePlansBulkBatchesAtZero) {
  if (nice_limit_allows_zero()) GTEST_SKIP() << "RLIMIT_NICE lets any thread return to 0";
  put_customers(kNiceAudience);
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, nice_options(7));
  // The lanes inherit the starting thread's capabilities: without CAP_SYS_NICE the probe fails.
  std::thread starter([&] {
    ASSERT_TRUE(drop_sys_nice());
    planner.start();
  });
  starter.join();
  raise_outage("OUT-ADVISORY");
  EXPECT_EQ(lane_nice_until_planned("OUT-ADVISORY"), std::set<int>{0})
      << "a lane stepped back without being able to return for urgent work";
  planner.stop();
}

TEST_F(PlannerRedis, EachRevisionsFirstBatchIsTimedFromItsAcceptByPriority) {
  put_customers(kCustomers);
  Metrics metrics;
  fanout::PlannerOptions o = options();
  o.metrics = &metrics;
  o.batch = 100;  // three batches each: only the first is timed
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, o);
  raise_outage("OUT-ADVISORY");
  raise_outage("OUT-EMERGENCY", v1::EMERGENCY);
  std::this_thread::sleep_for(milliseconds(30));  // both wait at least this long
  auto r = planner.run_once(conn_, std::chrono::system_clock::now());
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(funnel_of(conn_, "OUT-EMERGENCY")["sms:queued"], kCustomers);
  const std::string text = metrics.render();
  for (const char* priority : {"urgent", "bulk"}) {
    const std::string series = std::string("{priority=\"") + priority + "\"}";
    EXPECT_NE(text.find("herald_planner_first_batch_seconds_count" + series + " 1\n"),
              std::string::npos)
        << priority << "\n" << text;
    const auto at = text.find("herald_planner_first_batch_seconds_sum" + series + " ");
    ASSERT_NE(at, std::string::npos) << text;
    const double seconds = std::stod(text.substr(text.find(' ', at) + 1));
    EXPECT_GE(seconds, 0.025) << priority << ": timed from the accept, not from the lane's take";
    EXPECT_LT(seconds, 30) << priority;
  }
}

TEST_F(PlannerRedis, EachChunkIsItsOwnTransaction) {
  put_customers(kCustomers);
  raise_outage("OUT-SPLIT");
  ASSERT_TRUE(conn_.command(redis::cmd("CONFIG", "RESETSTAT"))->str == "OK");
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, options());
  auto r = planner.run_once(conn_, std::chrono::system_clock::now());
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto info = conn_.command(redis::cmd("INFO", "commandstats"))->str;
  const auto at = info.find("cmdstat_exec:calls=");
  ASSERT_NE(at, std::string::npos);
  // 250 recipients in chunks of 100: three, plus the one that settles the revision.
  EXPECT_EQ(std::stoi(info.substr(at + 19)), 4) << info;
  EXPECT_EQ(funnel_of(conn_, "OUT-SPLIT")["sms:queued"], kCustomers);
}

TEST_F(PlannerRedis, TheDailyCapCountsAcrossEventsAndEmergenciesAreExempt) {
  constexpr int kCapped = 30;
  put_customers(kCapped, 2);
  // Noon UTC today, for every round: the customers' day (UTC) is the same for all events.
  const auto noon = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()) +
                    std::chrono::hours(12);
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, options());
  for (const char* id : {"OUT-A", "OUT-B", "OUT-C", "OUT-D"}) {
    raise_outage(id);
    auto r = planner.run_once(conn_, noon);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  EXPECT_EQ(funnel_of(conn_, "OUT-A")["sms:queued"], kCapped);
  EXPECT_EQ(funnel_of(conn_, "OUT-B")["sms:queued"], kCapped);
  for (const char* id : {"OUT-C", "OUT-D"}) {
    auto f = funnel_of(conn_, id);
    EXPECT_EQ(f["sms:queued"], 0) << id;
    EXPECT_EQ(f["sms:suppressed:daily_cap"], kCapped) << id;
  }
  raise_outage("OUT-E", v1::EMERGENCY);
  auto r = planner.run_once(conn_, noon);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(funnel_of(conn_, "OUT-E")["sms:queued"], kCapped) << "an emergency is never capped";

  // Each customer's counter (UTC customers: today's UTC date) stayed at the two that counted:
  // one byte per customer number in the day's string, no counter hash.
  const std::string day_key = fanout::cap_key(fanout::utc_day(noon));
  EXPECT_EQ(count_of(day_key, 2), kCapped);
  EXPECT_EQ(count_of(day_key, 0) + count_of(day_key, 2),
            conn_.command(redis::cmd("STRLEN", day_key))->integer);
  EXPECT_GT(conn_.command(redis::cmd("TTL", day_key))->integer, 86400)
      << "the counters outlive the customer's day, then expire";
  EXPECT_TRUE(conn_.command(redis::cmd("KEYS", "cap:*"))->elements.empty());
  EXPECT_EQ(conn_.command(redis::cmd("GET", fanout::kCapsSinceKey))->str, "none")
      << "a new installation has no earlier counters to read";
}

// A day's counts kept by earlier releases (hashes of 64 customers, or one for the day) still cap
// that day after an upgrade: the first planner to start finds them and reads them through the
// day after.
TEST_F(PlannerRedis, TodaysCountsKeptByEarlierReleasesStillCount) {
  constexpr int kCapped = 30;
  put_customers(kCapped, 2);
  const auto noon = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()) +
                    std::chrono::hours(12);
  const std::string day = fanout::utc_day(noon);
  {
    fanout::Planner before(server_.endpoint(), sealer_, signer_, catalog_, options());
    raise_outage("OUT-A");
    ASSERT_TRUE(before.run_once(conn_, noon).ok());
    ASSERT_EQ(funnel_of(conn_, "OUT-A")["sms:queued"], kCapped);
  }
  // The one notice each got so far, as earlier releases kept it: even numbers in the buckets,
  // odd ones in the day's hash; nothing in the day's string, and no mark of the new layout.
  const auto bytes = conn_.command(redis::cmd("GET", fanout::cap_key(day)))->str;
  int moved = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    if (bytes[n] == 0) continue;
    const std::string key = n % 2 ? fanout::legacy_cap_key(day) : fanout::bucket_cap_key(day, n);
    ASSERT_FALSE(conn_.command(redis::cmd("HSET", key, std::to_string(n), "1"))->is_error());
    ++moved;
  }
  ASSERT_EQ(moved, kCapped);
  ASSERT_EQ(conn_.command(redis::cmd("DEL", fanout::cap_key(day), fanout::kCapsSinceKey))->integer,
            2);

  fanout::Planner upgraded(server_.endpoint(), sealer_, signer_, catalog_, options());
  raise_outage("OUT-B");
  ASSERT_TRUE(upgraded.run_once(conn_, noon).ok());
  EXPECT_EQ(conn_.command(redis::cmd("GET", fanout::kCapsSinceKey))->str, day);
  EXPECT_EQ(funnel_of(conn_, "OUT-B")["sms:queued"], kCapped) << "the second of two";
  raise_outage("OUT-C");
  ASSERT_TRUE(upgraded.run_once(conn_, noon).ok());
  auto f = funnel_of(conn_, "OUT-C");
  EXPECT_EQ(f["sms:queued"], 0) << "one in an old hash and one in the day's string make two";
  EXPECT_EQ(f["sms:suppressed:daily_cap"], kCapped);
}

// The last day earlier releases' counters are read for: the day after the upgrade (a customer's
// day runs up to 14 hours ahead of UTC); none on a new installation.
TEST_F(PlannerRedis, EarlierCountersAreReadOnlyThroughTheDayAfterTheUpgrade) {
  const auto t = std::chrono::sys_days(std::chrono::year(2026) / 12 / 31) + std::chrono::hours(9);
  auto fresh = fanout::legacy_caps_until(conn_, t);
  ASSERT_TRUE(fresh.ok()) << fresh.error().message;
  EXPECT_EQ(*fresh, "") << "nothing to read on a new installation";
  EXPECT_EQ(conn_.command(redis::cmd("GET", fanout::kCapsSinceKey))->str, "none");

  ASSERT_EQ(conn_.command(redis::cmd("DEL", fanout::kCapsSinceKey))->integer, 1);
  ASSERT_FALSE(conn_.command(redis::cmd("HSET", "cap:2026-12-31:7", "450", "1"))->is_error());
  auto upgrade = fanout::legacy_caps_until(conn_, t);
  ASSERT_TRUE(upgrade.ok()) << upgrade.error().message;
  EXPECT_EQ(*upgrade, "2027-01-01");
  auto later = fanout::legacy_caps_until(conn_, t + std::chrono::days(30));
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(*later, "2027-01-01") << "kept from the first start, not the latest";

  ASSERT_FALSE(conn_.command(redis::cmd("SET", fanout::kCapsSinceKey, "yesterday"))->is_error());
  auto broken = fanout::legacy_caps_until(conn_, t);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find("caps:since"), std::string::npos) << broken.error().message;
}

TEST_F(PlannerRedis, AnAcceptedEmergencyHoldsTheGateAndOtherRevisionsDoNot) {
  PriorityGate gate;
  events::EventStore events(pool_);
  events.hold_for_urgent(&gate, std::chrono::hours(1));
  raise_outage("OUT-BULK", v1::ADVISORY, &events);
  EXPECT_FALSE(gate.locally_held()) << "an advisory outage does not pause bulk work";
  raise_outage("OUT-URGENT", v1::EMERGENCY, &events);
  EXPECT_TRUE(gate.locally_held()) << "an emergency pauses it from its accept";
  PriorityGate::Pass lane_took_it(gate);
  EXPECT_FALSE(gate.locally_held()) << "until a lane takes the urgent work";
}

// Held for the night, then overtaken by the restoration while still held: when the window
// ends each customer gets one message, the restoration ("ETR 6 pm" never arrives after it).
TEST_F(PlannerRedis, AHeldMessageGoesOutWhenTheQuietWindowEndsAsTheEventsCurrentState) {
  constexpr int kHeld = 12;
  const auto today = put_night_quiet_customers(kHeld);
  const auto night = today + std::chrono::hours(23);
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, options());
  raise_outage("OUT-Q");
  ASSERT_TRUE(planner.run_once(conn_, night).ok());
  EXPECT_EQ(funnel_of(conn_, "OUT-Q")["sms:held"], kHeld);
  // Held until the same moment: one bitmap, one member of `deferred` (not one a message).
  auto held = conn_.command(redis::cmd("ZRANGE", fanout::kDeferredKey, "0", "-1"));
  ASSERT_EQ(held->elements.size(), 1u);
  EXPECT_EQ(conn_.command(redis::cmd("BITCOUNT", held->elements[0].str))->integer, kHeld);

  v1::EventUpdate restored;
  restored.set_stage(v1::RESTORED);
  update_event("OUT-Q", restored);
  for (int k = 0; k < 3; ++k)
    ASSERT_TRUE(planner.run_once(conn_, night + std::chrono::minutes(1)).ok());
  EXPECT_TRUE(queued_per_customer().empty()) << "nothing goes out inside the window";

  const auto morning = today + std::chrono::hours(24 + 7) + std::chrono::minutes(1);
  for (int k = 0; k < 3; ++k) ASSERT_TRUE(planner.run_once(conn_, morning).ok());
  const auto queued = queued_per_customer();
  EXPECT_EQ(queued.size(), static_cast<size_t>(kHeld));
  for (const auto& [num, count] : queued) EXPECT_EQ(count, 1) << "customer " << num;
  auto entries = conn_.command(redis::cmd("KEYS", "dq:sms:*"));
  for (const auto& key : entries->elements) {
    auto all = conn_.command(redis::cmd("XRANGE", key.str, "-", "+"));
    for (const auto& e : all->elements) {
      const auto& kv = e.elements[1].elements;
      for (size_t i = 1; i < kv.size(); i += 2) {
        v1::OutboundMessage m;
        ASSERT_TRUE(m.ParseFromString(kv[i].str));
        EXPECT_EQ(m.revision(), 2u) << "the restoration, not the held first notice";
      }
    }
  }
  EXPECT_EQ(conn_.command(redis::cmd("ZCARD", fanout::kDeferredKey))->integer, 0)
      << "the emptied bitmap leaves `deferred`";
  EXPECT_EQ(conn_.command(redis::cmd("EXISTS", held->elements[0].str))->integer, 0);
}

// A large outage's night holds all end at the same minute: one due round releases several
// passes' worth, not a single pass of 200.
TEST_F(PlannerRedis, ANightsHoldsGoOutTogetherWhenTheWindowEnds) {
  constexpr int kHeld = 700;
  const auto today = put_night_quiet_customers(kHeld);
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, options());
  raise_outage("OUT-N");
  for (int k = 0; k < 10 && funnel_of(conn_, "OUT-N")["sms:held"] < kHeld; ++k) {
    ASSERT_TRUE(planner.run_once(conn_, today + std::chrono::hours(23)).ok());
  }
  ASSERT_EQ(funnel_of(conn_, "OUT-N")["sms:held"], kHeld);
  ASSERT_TRUE(planner.run_once(conn_, today + std::chrono::hours(24 + 7)).ok());
  EXPECT_EQ(queued_per_customer().size(), static_cast<size_t>(kHeld));
}

// Earlier releases held each message as a member `<event>|<revision>|<channel>|<n>` of the set
// `hold:<due ms>`: a night held so before an upgrade still goes out, once a customer.
TEST_F(PlannerRedis, MessagesAnEarlierReleaseHeldInASetStillGoOut) {
  constexpr int kHeld = 30;
  const auto today = put_night_quiet_customers(kHeld);
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, options());
  raise_outage("OUT-L");
  ASSERT_TRUE(planner.run_once(conn_, today + std::chrono::hours(23)).ok());
  auto held = conn_.command(redis::cmd("ZRANGE", fanout::kDeferredKey, "0", "-1", "WITHSCORES"));
  ASSERT_EQ(held->elements.size(), 2u);
  // The same holds as an earlier release wrote them.
  const std::string bitmap = held->elements[0].str, due = held->elements[1].str;
  const std::string set = fanout::hold_key(std::stoll(due));
  redis::Command add{"SADD", set};
  for (int n = 0; n < 8 * 64; ++n) {
    if (conn_.command(redis::cmd("GETBIT", bitmap, std::to_string(n)))->integer == 1) {
      add.push_back(fmt::format("OUT-L|1|{}|{}", static_cast<int>(v1::SMS), n));
    }
  }
  ASSERT_EQ(conn_.command(add)->integer, kHeld);
  conn_.command(redis::cmd("DEL", bitmap));
  conn_.command(redis::cmd("ZREM", fanout::kDeferredKey, bitmap));
  conn_.command(redis::cmd("ZADD", fanout::kDeferredKey, due, set));

  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(
        planner.run_once(conn_, today + std::chrono::hours(24 + 7) + std::chrono::minutes(1)).ok());
  }
  const auto queued = queued_per_customer();
  EXPECT_EQ(queued.size(), static_cast<size_t>(kHeld));
  for (const auto& [num, count] : queued) EXPECT_EQ(count, 1) << "customer " << num;
  EXPECT_EQ(conn_.command(redis::cmd("EXISTS", set))->integer, 0);
  EXPECT_EQ(conn_.command(redis::cmd("ZCARD", fanout::kDeferredKey))->integer, 0);
}

// A bitmap's held customers may lie far apart (a small outage over a large utility's number
// range): a pass reads on past its first 4,096 numbers, and a customer erased meanwhile is
// counted and let go. A name in `deferred` no release could have written goes to the dead
// letters, and planning goes on.
TEST_F(PlannerRedis, HeldCustomersFarApartAllGoOutAndAnUnreadableBitmapNameIsSetAside) {
  put_customers(3);
  raise_outage("OUT-S");
  const auto now = std::chrono::system_clock::now();
  const int64_t due_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() - 1000;
  v1::Event revision;
  revision.set_id("OUT-S");
  revision.set_revision(1);
  const std::string bitmap = fanout::hold_bits_key(due_ms, revision, v1::SMS);
  for (const char* n : {"2", "9000", "40000", "250000"}) {
    conn_.command(redis::cmd("SETBIT", bitmap, n, "1"));
  }
  conn_.command(redis::cmd("ZADD", fanout::kDeferredKey, std::to_string(due_ms), bitmap));
  conn_.command(
      redis::cmd("ZADD", fanout::kDeferredKey, std::to_string(due_ms), "holdb:not-a-moment:x:1"));
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, options());
  // The outage's own fan-out queues customers 0-2; the held customer 2 then is a duplicate.
  for (int k = 0; k < 3; ++k) ASSERT_TRUE(planner.run_once(conn_, now).ok());
  auto f = funnel_of(conn_, "OUT-S");
  EXPECT_EQ(f["erased"], 3) << "9000, 40000 and 250000 hold no customer";
  EXPECT_EQ(f["sms:queued"], 3);
  EXPECT_EQ(f["sms:suppressed:duplicate"], 1) << "customer 2, held and already told";
  EXPECT_EQ(conn_.command(redis::cmd("EXISTS", bitmap))->integer, 0) << "emptied, then deleted";
  EXPECT_EQ(conn_.command(redis::cmd("ZCARD", fanout::kDeferredKey))->integer, 0);
  auto dead = conn_.command(redis::cmd("XRANGE", events::kIntakeDeadKey, "-", "+"));
  ASSERT_EQ(dead->elements.size(), 1u);
  bool named = false;
  for (const auto& v : dead->elements[0].elements[1].elements) {
    named = named || v.str == "holdb:not-a-moment:x:1";
  }
  EXPECT_TRUE(named);
}

// A chunk's transaction fails while the next chunk is already sent (two in flight): the lane
// reads that one's replies too before it goes on, so its connection stays in step, and tries
// the batch again. (Redis runs the rest of a transaction whose command fails, so each attempt
// commits what it decided, and the done bits skip those customers the next time.)
TEST_F(PlannerRedis, AFailedChunkLeavesTheConnectionInStepAndTheBatchIsTriedAgain) {
  put_customers(kCustomers);
  raise_outage("OUT-WRONG");
  // The funnel hash as a string: every chunk's HINCRBY of it fails (WRONGTYPE).
  ASSERT_EQ(conn_.command(redis::cmd("SET", "fn:{OUT-WRONG}", "not a hash"))->str, "OK");
  fanout::PlannerOptions o = options();
  o.chunk = 50;  // five chunks: the second is sent before the first's replies are read
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, o);
  auto planned = planner.run_once(conn_, std::chrono::system_clock::now());
  ASSERT_TRUE(planned.ok()) << planned.error().message;
  EXPECT_EQ(conn_.command(redis::cmd("PING"))->str, "PONG") << "no reply left unread";
  EXPECT_EQ(conn_.command(redis::cmd("GET", "plan:{OUT-WRONG}:1"))->str, "done");
  EXPECT_EQ(conn_.command(redis::cmd("XLEN", events::kIntakeDeadKey))->integer, 0);
  const auto queued = queued_per_customer();
  EXPECT_EQ(queued.size(), static_cast<size_t>(kCustomers));
  for (const auto& [num, n] : queued) EXPECT_EQ(n, 1) << "customer " << num;
}

TEST_F(PlannerRedis, CustomersWithoutACapAreNeverCapped) {
  put_customers(20);
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, options());
  for (int k = 0; k < 5; ++k) {
    const std::string id = "OUT-" + std::to_string(k);
    raise_outage(id);
    auto r = planner.run_once(conn_, std::chrono::system_clock::now());
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(funnel_of(conn_, id)["sms:queued"], 20) << id;
  }
}

// A storm's history takes little Redis: each bucket of 32 customers stays a listpack.
TEST_F(PlannerRedis, AnOutagesHistoryIsKeptInSmallCompactHashes) {
  put_customers(kCustomers);
  raise_outage("OUT-H");
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, options());
  ASSERT_TRUE(planner.run_once(conn_, std::chrono::system_clock::now()).ok());
  ASSERT_EQ(funnel_of(conn_, "OUT-H")["sms:queued"], kCustomers);
  const auto buckets = history_buckets("OUT-H");
  ASSERT_FALSE(buckets.empty());
  long fields = 0, bytes = 0;
  for (const auto& key : buckets) {
    EXPECT_EQ(conn_.command(redis::cmd("OBJECT", "ENCODING", key))->str, "listpack") << key;
    fields += conn_.command(redis::cmd("HLEN", key))->integer;
    bytes += conn_.command(redis::cmd("MEMORY", "USAGE", key))->integer;
  }
  EXPECT_EQ(fields, kCustomers) << "one mark per customer and channel";
  EXPECT_LE(buckets.size(), static_cast<size_t>(kCustomers / fanout::kHistoryBucket + 2));
  EXPECT_LT(bytes / kCustomers, 64) << bytes << " bytes for " << kCustomers << " customers";
  EXPECT_EQ(conn_.command(redis::cmd("EXISTS", fanout::legacy_history_key("OUT-H")))->integer, 0)
      << "the one-hash layout is no longer written";
}

// An event whose first revision an earlier release planned (its marks in one hash for the
// event): the next revision still knows what each customer was told. A cause change is no
// milestone, so MILESTONES customers hear nothing new; the restoration reaches each once.
TEST_F(PlannerRedis, AnEventsHistoryWrittenByAnEarlierReleaseStillGuidesItsNextRevisions) {
  put_customers(kCustomers, 0, nullptr, v1::MILESTONES);
  raise_outage("OUT-OLD");
  fanout::Planner planner(server_.endpoint(), sealer_, signer_, catalog_, options());
  ASSERT_TRUE(planner.run_once(conn_, std::chrono::system_clock::now()).ok());
  ASSERT_EQ(funnel_of(conn_, "OUT-OLD")["sms:queued"], kCustomers);
  // Move the marks into the earlier release's layout.
  const std::string legacy = fanout::legacy_history_key("OUT-OLD");
  into_one_hash(legacy);
  ASSERT_EQ(conn_.command(redis::cmd("HLEN", legacy))->integer, kCustomers);

  v1::EventUpdate cause;
  cause.set_stage(v1::UPDATED);
  cause.set_cause("tree on the line");
  update_event("OUT-OLD", cause);
  ASSERT_TRUE(planner.run_once(conn_, std::chrono::system_clock::now()).ok());
  auto f = funnel_of(conn_, "OUT-OLD");
  EXPECT_EQ(f["sms:queued"], kCustomers) << "revision 2 queued nothing";
  EXPECT_EQ(f["sms:suppressed:cadence"], kCustomers);

  v1::EventUpdate restored;
  restored.set_stage(v1::RESTORED);
  update_event("OUT-OLD", restored);
  ASSERT_TRUE(planner.run_once(conn_, std::chrono::system_clock::now()).ok());
  EXPECT_EQ(funnel_of(conn_, "OUT-OLD")["sms:queued"], 2 * kCustomers);
  const auto queued = queued_per_customer();
  ASSERT_EQ(queued.size(), static_cast<size_t>(kCustomers));
  for (const auto& [num, count] : queued) EXPECT_EQ(count, 2) << "customer " << num;
  // Revision 3's marks went to the buckets; the legacy hash is left as it was.
  long fields = 0;
  for (const auto& key : history_buckets("OUT-OLD")) {
    fields += conn_.command(redis::cmd("HLEN", key))->integer;
  }
  EXPECT_EQ(fields, kCustomers);
  EXPECT_EQ(conn_.command(redis::cmd("HLEN", legacy))->integer, kCustomers);
}

}  // namespace
}  // namespace herald::testing
