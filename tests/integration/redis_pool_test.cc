#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "service/common/metrics.h"
#include "service/redis/pool.h"
#include "tests/support/metric_value.h"
#include "tests/support/redis_server.h"

namespace herald::redis {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

PoolOptions fast_options() {
  PoolOptions o;
  o.connections = 2;
  o.timeout = milliseconds(1000);
  o.backoff_min = milliseconds(20);
  o.backoff_max = milliseconds(200);
  return o;
}

// Runs one coroutine on a fresh io_context and returns its result.
BatchResult run_exec(Pool& pool, Batch batch) {
  net::io_context io;
  std::optional<BatchResult> out;
  net::co_spawn(
      io, [&pool, &out, batch]() -> awaitable<void> { out.emplace(co_await pool.exec(batch)); },
      net::detached);
  io.run();
  return std::move(*out);
}

bool wait_until(const std::function<bool()>& cond, milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return cond();
}

TEST(RedisPool, BatchRepliesComeBackInOrder) {
  testing::RedisServer server;
  Pool pool(server.endpoint(), fast_options(), nullptr);
  ASSERT_TRUE(pool.healthy());

  auto r = run_exec(pool, {{"SET", "k", "v1"},
                           {"GET", "k"},
                           {"INCR", "n"},
                           {"GET", "missing"},
                           {"RPUSH", "l", "a", "b"},
                           {"LRANGE", "l", "0", "-1"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 6u);
  EXPECT_EQ((*r)[0].type, Reply::Type::kStatus);
  EXPECT_EQ((*r)[0].str, "OK");
  EXPECT_EQ((*r)[1].str, "v1");
  EXPECT_EQ((*r)[2].integer, 1);
  EXPECT_TRUE((*r)[3].is_nil());
  EXPECT_EQ((*r)[4].integer, 2);
  ASSERT_EQ((*r)[5].elements.size(), 2u);
  EXPECT_EQ((*r)[5].elements[1].str, "b");
}

TEST(RedisPool, BinaryValuesSurviveRoundTrip) {
  testing::RedisServer server;
  Pool pool(server.endpoint(), fast_options(), nullptr);
  std::string value("a\0b\r\n\xff", 6);
  auto r = run_exec(pool, {{"SET", "bin", value}, {"GET", "bin"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)[1].str, value);
}

TEST(RedisPool, ConcurrentExecsFromManyCoroutinesAllLand) {
  testing::RedisServer server;
  Pool pool(server.endpoint(), fast_options(), nullptr);
  net::io_context io;
  constexpr int kCoroutines = 20;
  constexpr int kPerCoroutine = 100;
  std::atomic<int> ok_replies{0};
  std::atomic<int> wrong{0};
  for (int c = 0; c < kCoroutines; ++c) {
    net::co_spawn(
        io,
        [&]() -> awaitable<void> {
          // g++ 12 rejects a braced batch inside co_await ("array used as initializer").
          const Batch incr = {{"INCR", "counter"}};
          for (int i = 0; i < kPerCoroutine; ++i) {
            auto r = co_await pool.exec(incr);
            if (r.ok() && r->size() == 1 && (*r)[0].type == Reply::Type::kInteger) {
              ++ok_replies;
            } else {
              ++wrong;
            }
          }
        },
        net::detached);
  }
  std::thread second([&io] { io.run(); });
  io.run();
  second.join();

  EXPECT_EQ(ok_replies.load(), kCoroutines * kPerCoroutine);
  EXPECT_EQ(wrong.load(), 0);
  auto total = run_exec(pool, {{"GET", "counter"}});
  ASSERT_TRUE(total.ok());
  EXPECT_EQ((*total)[0].str, std::to_string(kCoroutines * kPerCoroutine));
}

TEST(RedisPool, ErrorReplyIsAValueAndConnectionKeepsWorking) {
  testing::RedisServer server;
  Pool pool(server.endpoint(), fast_options(), nullptr);
  auto r = run_exec(pool, {{"SET", "s", "text"}, {"INCR", "s"}, {"NOSUCHCOMMAND"}, {"GET", "s"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE((*r)[1].is_error());
  EXPECT_NE((*r)[1].str.find("not an integer"), std::string::npos);
  EXPECT_TRUE((*r)[2].is_error());
  EXPECT_EQ((*r)[3].str, "text");
  EXPECT_TRUE(pool.healthy());
  auto again = run_exec(pool, {{"PING"}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].str, "PONG");
}

TEST(RedisPool, ResumesOnTheCallersExecutor) {
  testing::RedisServer server;
  Pool pool(server.endpoint(), fast_options(), nullptr);
  net::io_context io;
  auto strand = net::make_strand(io);
  constexpr int kCalls = 50;
  std::atomic<int> on_strand{0};
  net::co_spawn(
      strand,
      [&]() -> awaitable<void> {
        const Batch ping = {{"PING"}};
        for (int i = 0; i < kCalls; ++i) {
          auto r = co_await pool.exec(ping);
          if (r.ok() && strand.running_in_this_thread()) ++on_strand;
        }
      },
      net::detached);
  std::thread second([&io] { io.run(); });
  io.run();
  second.join();
  EXPECT_EQ(on_strand.load(), kCalls);
}

TEST(RedisPool, LargeBatchBeyondOnePipelineChunk) {
  testing::RedisServer server;
  Pool pool(server.endpoint(), fast_options(), nullptr);
  Batch batch;
  for (int i = 0; i < 1000; ++i) batch.push_back({"RPUSH", "big", std::to_string(i)});
  auto r = run_exec(pool, batch);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1000u);
  EXPECT_EQ(r->back().integer, 1000);
}

TEST(RedisPool, FullQueueFailsFast) {
  testing::RedisServer server;
  PoolOptions o = fast_options();
  o.connections = 1;
  o.max_queued = 2;
  Pool pool(server.endpoint(), o, nullptr);
  std::atomic<int> done{0};
  // BLPOP on a missing key holds the only connection for 300 ms.
  pool.exec_async({{"BLPOP", "nothing", "0.3"}}, [&](BatchResult) { ++done; });
  std::this_thread::sleep_for(milliseconds(50));
  pool.exec_async({{"PING"}}, [&](BatchResult r) { done += r.ok() ? 1 : 100; });
  pool.exec_async({{"PING"}}, [&](BatchResult r) { done += r.ok() ? 1 : 100; });
  std::optional<BatchResult> refused;
  pool.exec_async({{"PING"}}, [&](BatchResult r) { refused.emplace(std::move(r)); });
  ASSERT_TRUE(refused.has_value());
  ASSERT_FALSE(refused->ok());
  EXPECT_EQ(refused->error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(wait_until([&] { return done.load() == 3; }, milliseconds(3000)));
}

TEST(RedisPool, CommandTimeoutFailsTheBatchAndTheConnectionIsRemade) {
  testing::RedisServer server;
  PoolOptions o = fast_options();
  o.timeout = milliseconds(200);
  Pool pool(server.endpoint(), o, nullptr);
  auto start = Clock::now();
  auto hung = run_exec(pool, {{"BLPOP", "nothing", "2"}});
  ASSERT_FALSE(hung.ok());
  EXPECT_EQ(hung.error().code, ErrorCode::kUnavailable);
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
  ASSERT_TRUE(wait_until([&] { return pool.healthy(); }, milliseconds(3000)));
  auto r = run_exec(pool, {{"PING"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
}

TEST(RedisPool, EmptyBatchCompletesWithNoReplies) {
  testing::RedisServer server;
  Pool pool(server.endpoint(), fast_options(), nullptr);
  auto r = run_exec(pool, {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(RedisPool, FailsFastWhileRedisIsDownAndRecoversAfterRestart) {
  testing::RedisServer server(testing::RedisServerOptions{.aof = true, .extra_args = {}});
  Metrics metrics;
  Pool pool(server.endpoint(), fast_options(), &metrics);
  ASSERT_TRUE(run_exec(pool, {{"SET", "kept", "yes"}}).ok());

  server.kill();
  auto start = Clock::now();
  auto failed = run_exec(pool, {{"GET", "kept"}});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
  EXPECT_TRUE(wait_until([&] { return !pool.healthy(); }, milliseconds(1000)));

  start = Clock::now();
  auto refused = run_exec(pool, {{"GET", "kept"}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_LT(Clock::now() - start, milliseconds(200));

  server.restart();
  ASSERT_TRUE(wait_until([&] { return pool.healthy(); }, milliseconds(5000)));
  auto back = run_exec(pool, {{"GET", "kept"}});
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ((*back)[0].str, "yes");

  EXPECT_GE(testing::metric_value(metrics, "herald_redis_errors_total"), 1);
  EXPECT_TRUE(wait_until(
      [&] { return testing::metric_value(metrics, "herald_redis_reconnects_total") >= 1; },
      milliseconds(1000)));
}

TEST(RedisPool, StartsUnhealthyWhenRedisIsAbsent) {
  std::optional<testing::RedisServer> server(std::in_place);
  Endpoint ep = server->endpoint();
  server.reset();
  Pool pool(ep, fast_options(), nullptr);
  EXPECT_FALSE(pool.healthy());
  auto r = run_exec(pool, {{"PING"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
}

TEST(RedisPool, StopFailsLaterCallsAndJoinsPromptly) {
  testing::RedisServer server;
  Pool pool(server.endpoint(), fast_options(), nullptr);
  auto start = Clock::now();
  pool.stop();
  EXPECT_LT(Clock::now() - start, milliseconds(500));
  auto r = run_exec(pool, {{"PING"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
}

TEST(RedisPool, StopWakesWorkersInBackoff) {
  std::optional<testing::RedisServer> server(std::in_place);
  Endpoint ep = server->endpoint();
  server.reset();
  PoolOptions o = fast_options();
  o.backoff_min = milliseconds(5000);
  o.backoff_max = milliseconds(5000);
  Pool pool(ep, o, nullptr);
  auto start = Clock::now();
  pool.stop();
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
}

TEST(RedisPool, SelectsTheConfiguredDatabase) {
  testing::RedisServer server;
  Endpoint ep = server.endpoint();
  ep.db = 2;
  Pool pool(ep, fast_options(), nullptr);
  ASSERT_TRUE(run_exec(pool, {{"SET", "where", "db2"}}).ok());
  Pool db0(server.endpoint(), fast_options(), nullptr);
  auto r = run_exec(db0, {{"GET", "where"}});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)[0].is_nil());
}

TEST(RedisPool, AuthenticatesWithPassword) {
  testing::RedisServer server(
      testing::RedisServerOptions{.aof = false, .extra_args = {"--requirepass", "pw-123"}});
  auto ok = Endpoint::parse("redis://:pw-123@127.0.0.1:" + std::to_string(server.port()));
  ASSERT_TRUE(ok.ok());
  Pool pool(*ok, fast_options(), nullptr);
  EXPECT_TRUE(pool.healthy());
  auto r = run_exec(pool, {{"PING"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].str, "PONG");

  Endpoint wrong = *ok;
  wrong.password = "nope";
  Pool bad(wrong, fast_options(), nullptr);
  EXPECT_FALSE(bad.healthy());
}

}  // namespace
}  // namespace herald::redis
