#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <thread>

#include "service/common/metrics.h"
#include "service/redis/connection.h"
#include "service/redis/link.h"
#include "service/redis/pool.h"
#include "tests/support/metric_value.h"
#include "tests/support/redis_server.h"

namespace herald::redis {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

LinkOptions fast_link() {
  LinkOptions o;
  o.timeout = milliseconds(300);
  o.backoff_min = milliseconds(20);
  o.backoff_max = milliseconds(100);
  return o;
}

// Runs `io` on this thread until `done` holds or `limit` passes; the link's handlers run here.
bool run_until(net::io_context& io, const std::function<bool()>& done, milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!done() && Clock::now() < deadline) {
    io.restart();
    io.run_for(milliseconds(5));
  }
  return done();
}

// A started link on `io`, connected (null if it did not connect within 3 s).
std::shared_ptr<Link> connected_link(net::io_context& io, const Endpoint& ep,
                                     LinkOptions o = fast_link(), Metrics* metrics = nullptr) {
  auto link = std::make_shared<Link>(io, ep, o, metrics);
  link->start();
  if (!run_until(io, [&] { return link->connected(); }, milliseconds(3000))) return nullptr;
  return link;
}

// Submits from the test thread while `io` is not running: the link's only thread then.
struct Outcome {
  std::optional<BatchResult> result;
  bool taken = false;
};
std::shared_ptr<Outcome> submit(Link& link, Batch batch) {
  auto out = std::make_shared<Outcome>();
  std::function<void(BatchResult)> done = [out](BatchResult r) {
    out->result.emplace(std::move(r));
  };
  out->taken = link.try_submit(batch, done);
  return out;
}

TEST(RedisLink, PipelinedBatchesAreAnsweredInOrderAndTransactionsStayWhole) {
  testing::RedisServer server;
  net::io_context io;
  auto link = connected_link(io, server.endpoint());
  ASSERT_TRUE(link);

  // Many batches written before any reply is read: each gets its own replies, in order.
  std::vector<std::shared_ptr<Outcome>> outs;
  for (int i = 0; i < 300; ++i) {
    if (i % 3 == 0) {
      outs.push_back(
          submit(*link, {{"MULTI"}, {"INCR", "n"}, {"RPUSH", "log", std::to_string(i)}, {"EXEC"}}));
    } else {
      outs.push_back(submit(*link, {{"INCR", "n"}, {"GET", "n"}}));
    }
    ASSERT_TRUE(outs.back()->taken) << i;
  }
  ASSERT_TRUE(run_until(
      io, [&] { return outs.back()->result.has_value(); }, milliseconds(5000)));
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(outs[i]->result.has_value()) << i;
    const BatchResult& r = *outs[i]->result;
    ASSERT_TRUE(r.ok()) << r.error().message;
    if (i % 3 == 0) {
      ASSERT_EQ(r->size(), 4u);
      EXPECT_EQ((*r)[1].str, "QUEUED");
      ASSERT_EQ((*r)[3].elements.size(), 2u);
      EXPECT_EQ((*r)[3].elements[0].integer, i + 1);  // the i-th INCR of all
    } else {
      ASSERT_EQ(r->size(), 2u);
      EXPECT_EQ((*r)[0].integer, i + 1);
      EXPECT_EQ((*r)[1].str, std::to_string(i + 1));
    }
  }
  EXPECT_EQ(link->carried(), 300u);
}

TEST(RedisLink, LeavesLargeOrEmptyBatchesToThePool) {
  testing::RedisServer server;
  net::io_context io;
  LinkOptions o = fast_link();
  o.max_batch_commands = 8;
  auto link = std::make_shared<Link>(io, server.endpoint(), o, nullptr);
  Batch ping = {{"PING"}};
  EXPECT_FALSE(submit(*link, ping)->taken) << "not connected yet";
  link->start();
  ASSERT_TRUE(run_until(
      io, [&] { return link->connected(); }, milliseconds(3000)));
  EXPECT_FALSE(submit(*link, Batch(9, Command{"PING"}))->taken);
  EXPECT_FALSE(submit(*link, {{"PING"}, {}})->taken);
  EXPECT_FALSE(submit(*link, {})->taken);
  auto fits = submit(*link, Batch(8, Command{"PING"}));
  ASSERT_TRUE(fits->taken);
  ASSERT_TRUE(run_until(
      io, [&] { return fits->result.has_value(); }, milliseconds(3000)));
  ASSERT_TRUE(fits->result->ok());
  EXPECT_EQ((*fits->result)->size(), 8u);
}

TEST(RedisLink, ALostServerFailsWhatWasInFlightThenTheLinkReconnects) {
  testing::RedisServer server;
  Metrics metrics;
  net::io_context io;
  auto link = connected_link(io, server.endpoint(), fast_link(), &metrics);
  ASSERT_TRUE(link);

  // Redis blocks this one for a second, so it is still unanswered when the server goes away.
  auto stuck = submit(*link, {{"BLPOP", "nothing", "1"}});
  ASSERT_TRUE(stuck->taken);
  io.restart();
  io.run_for(milliseconds(20));
  server.stop();
  ASSERT_TRUE(run_until(
      io, [&] { return stuck->result.has_value(); }, milliseconds(3000)));
  ASSERT_FALSE(stuck->result->ok());
  EXPECT_EQ(stuck->result->error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(link->connected());
  EXPECT_FALSE(submit(*link, {{"PING"}})->taken) << "refused while down: the pool decides";

  server.restart();
  ASSERT_TRUE(run_until(
      io, [&] { return link->connected(); }, milliseconds(5000)));
  auto again = submit(*link, {{"SET", "k", "v"}, {"GET", "k"}});
  ASSERT_TRUE(again->taken);
  ASSERT_TRUE(run_until(
      io, [&] { return again->result.has_value(); }, milliseconds(3000)));
  ASSERT_TRUE(again->result->ok());
  EXPECT_EQ((*again->result)->at(1).str, "v");
  EXPECT_GE(testing::metric_value(metrics, "herald_redis_reconnects_total"), 1);
  EXPECT_GE(testing::metric_value(metrics, "herald_redis_errors_total"), 1);
}

TEST(RedisLink, ABatchLeftUnansweredPastTheTimeoutFailsAndTheLinkRecovers) {
  testing::RedisServer server;
  net::io_context io;
  auto link = connected_link(io, server.endpoint());  // timeout 300 ms
  ASSERT_TRUE(link);

  auto paused = Connection::connect(server.endpoint(), milliseconds(1000));
  ASSERT_TRUE(paused.ok());
  ASSERT_TRUE(paused->command({"CLIENT", "PAUSE", "1000", "ALL"}).ok());
  const auto sent = Clock::now();
  auto late = submit(*link, {{"PING"}});
  ASSERT_TRUE(late->taken);
  ASSERT_TRUE(run_until(
      io, [&] { return late->result.has_value(); }, milliseconds(3000)));
  const auto waited = Clock::now() - sent;
  ASSERT_FALSE(late->result->ok());
  EXPECT_NE(late->result->error().message.find("did not answer within 300 ms"), std::string::npos)
      << late->result->error().message;
  EXPECT_LT(waited, milliseconds(900)) << "failed at the timeout, not when the pause ended";

  // Once the pause is over the link, connected again, carries batches.
  run_until(
      io, [&] { return Clock::now() > sent + milliseconds(1100); }, milliseconds(2000));
  ASSERT_TRUE(run_until(
      io, [&] { return link->connected(); }, milliseconds(5000)));
  auto after = submit(*link, {{"PING"}});
  ASSERT_TRUE(after->taken);
  ASSERT_TRUE(run_until(
      io, [&] { return after->result.has_value(); }, milliseconds(3000)));
  ASSERT_TRUE(after->result->ok());
  EXPECT_EQ((*after->result)->at(0).str, "PONG");
}

TEST(RedisLink, UsesTheEndpointsDatabase) {
  testing::RedisServer server;
  Endpoint ep = server.endpoint();
  ep.db = 3;
  net::io_context io;
  auto link = connected_link(io, ep);
  ASSERT_TRUE(link);
  auto set = submit(*link, {{"SET", "where", "db3"}});
  ASSERT_TRUE(set->taken);
  ASSERT_TRUE(run_until(
      io, [&] { return set->result.has_value(); }, milliseconds(3000)));
  ASSERT_TRUE(set->result->ok());

  auto db0 = Connection::connect(server.endpoint(), milliseconds(1000));
  ASSERT_TRUE(db0.ok());
  EXPECT_TRUE(db0->command({"GET", "where"})->is_nil());
  auto db3 = Connection::connect(ep, milliseconds(1000));
  ASSERT_TRUE(db3.ok());
  EXPECT_EQ(db3->command({"GET", "where"})->str, "db3");
}

TEST(RedisLink, OverAUnixSocketTheLinkAndThePoolServeAndReconnectAfterARestart) {
  testing::RedisServer server;
  Endpoint ep = server.unix_endpoint();
  ep.db = 2;
  PoolOptions po;
  po.connections = 1;
  Pool pool(ep, po, nullptr);
  net::io_context io;
  auto link = connected_link(io, ep);
  ASSERT_TRUE(link) << "connects to " << ep.describe();
  pool.use_links({link});
  const uint64_t carried = link->carried();  // its SELECT included

  // Small batches ride the link, a large one the pool's blocking connection: both reach db 2.
  auto run = [&](Batch batch) {
    std::optional<BatchResult> out;
    net::co_spawn(
        io, [&, batch]() -> awaitable<void> { out.emplace(co_await pool.exec(batch)); },
        net::detached);
    run_until(
        io, [&] { return out.has_value(); }, milliseconds(5000));
    return out;
  };
  auto small = run({{"INCR", "n"}, {"INCR", "n"}});
  ASSERT_TRUE(small && small->ok());
  EXPECT_EQ((**small)[1].integer, 2);
  auto big = run(Batch(100, Command{"INCR", "n"}));
  ASSERT_TRUE(big && big->ok());
  EXPECT_EQ((*big)->back().integer, 102);
  EXPECT_EQ(link->carried(), carried + 1) << "the large batch went over the pool";
  auto tcp_db2 = server.endpoint();
  tcp_db2.db = 2;
  auto over_tcp = Connection::connect(tcp_db2, milliseconds(1000));
  ASSERT_TRUE(over_tcp.ok());
  EXPECT_EQ(over_tcp->command({"GET", "n"})->str, "102") << "the same server and database";

  server.restart();  // the socket file is made anew
  ASSERT_TRUE(run_until(
      io,
      [&] {
        auto again = submit(*link, {{"GET", "n"}});
        if (!again->taken) return false;
        run_until(
            io, [&] { return again->result.has_value(); }, milliseconds(1000));
        return again->result.has_value() && again->result->ok();
      },
      milliseconds(5000)))
      << "the link reconnects to the restarted server";
  // The pool finds its connection lost on first use (that batch fails), then makes it anew.
  bool pool_back = false;
  for (const auto until = Clock::now() + milliseconds(5000); !pool_back && Clock::now() < until;) {
    auto after = run(Batch(100, Command{"PING"}));
    pool_back = after && after->ok();
  }
  EXPECT_TRUE(pool_back) << "the pool reconnects too";
}

TEST(RedisLink, StopLetsBatchesInFlightFinishAndReleasesTheContext) {
  testing::RedisServer server;
  net::io_context io;
  auto link = connected_link(io, server.endpoint());
  ASSERT_TRUE(link);
  auto slow = submit(*link, {{"BLPOP", "nothing", "0.1"}, {"SET", "after", "1"}});
  ASSERT_TRUE(slow->taken);
  link->stop();
  io.restart();
  const auto start = Clock::now();
  io.run();  // returns only once the link holds nothing open
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
  ASSERT_TRUE(slow->result.has_value());
  ASSERT_TRUE(slow->result->ok()) << slow->result->error().message;
  EXPECT_EQ((*slow->result)->at(1).str, "OK");
  EXPECT_FALSE(submit(*link, {{"PING"}})->taken);
}

TEST(RedisLink, PoolExecOnTheLinksContextGoesOverItAndElsewhereOverThePool) {
  testing::RedisServer server;
  PoolOptions po;
  po.connections = 1;
  Pool pool(server.endpoint(), po, nullptr);
  net::io_context io;
  auto link = connected_link(io, server.endpoint());
  ASSERT_TRUE(link);
  pool.use_links({link});

  int answered = 0;
  net::co_spawn(
      io,
      [&]() -> awaitable<void> {
        for (int i = 0; i < 20; ++i) {
          const Batch incr = {{"INCR", "linked"}};
          auto r = co_await pool.exec(incr);
          if (r.ok() && (*r)[0].integer == i + 1) ++answered;
        }
        const Batch big(100, Command{"INCR", "big"});  // past max_batch_commands: the pool
        auto r = co_await pool.exec(big);
        if (r.ok() && r->back().integer == 100) ++answered;
      },
      net::detached);
  ASSERT_TRUE(run_until(
      io, [&] { return answered == 21; }, milliseconds(5000)));
  EXPECT_EQ(link->carried(), 20u);

  // A coroutine on another io_context never touches the link.
  net::io_context other;
  bool other_ok = false;
  net::co_spawn(
      other,
      [&]() -> awaitable<void> {
        const Batch get = {{"GET", "linked"}};
        auto r = co_await pool.exec(get);
        other_ok = r.ok() && (*r)[0].str == "20";
      },
      net::detached);
  other.run();
  EXPECT_TRUE(other_ok);
  EXPECT_EQ(link->carried(), 20u);
  pool.release_links();
}

}  // namespace
}  // namespace herald::redis
