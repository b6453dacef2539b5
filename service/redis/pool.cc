#include "service/redis/pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "service/common/metrics.h"
#include "service/common/thread_name.h"
#include "service/redis/connection.h"
#include "service/redis/resp.h"

namespace herald::redis {
namespace {

// Enough to amortise a round trip without delaying the first batch behind a huge one.
constexpr size_t kMaxPipelineCommands = 256;
// An idle connection is PINGed this often, so healthy() notices a dead Redis without traffic.
constexpr auto kIdleProbe = std::chrono::seconds(1);

struct Pending {
  Batch batch;
  std::function<void(BatchResult)> done;
};

void fail_all(std::vector<Pending>& pending, const Error& error) {
  for (Pending& p : pending) p.done(error);
  pending.clear();
}

}  // namespace

struct Pool::Impl {
  Endpoint endpoint;
  PoolOptions options;
  Metrics* metrics;

  std::mutex mu;
  std::condition_variable work_cv;     // new batches, stop, or a failure elsewhere to probe for
  std::condition_variable started_cv;  // each worker's first connect attempt
  std::deque<Pending> queue;
  bool stopping = false;
  int first_attempts = 0;
  uint64_t failure_epoch = 0;  // bumped on each lost connection so idle workers check theirs
  std::atomic<int> healthy_workers{0};
  std::vector<std::thread> threads;
  std::vector<std::shared_ptr<Link>> links;

  // The link owned by the io_context this thread is running, if any.
  Link* link_here() const {
    for (const auto& link : links) {
      if (link->context().get_executor().running_in_this_thread()) return link.get();
    }
    return nullptr;
  }

  Impl(Endpoint ep, PoolOptions opts, Metrics* m)
      : endpoint(std::move(ep)), options(opts), metrics(m) {}

  void submit(Pending p);
  void run(unsigned seed);
  std::optional<Connection> connect_with_backoff(bool& first, bool& failed_before,
                                                 std::mt19937& rng);
  bool serve(Connection& conn, uint64_t& seen_epoch);
  void lose(std::vector<Pending>& in_flight, const std::string& why);
};

void Pool::Impl::submit(Pending p) {
  if (p.batch.empty()) {
    p.done(std::vector<Reply>{});
    return;
  }
  std::optional<Error> refused;
  {
    std::lock_guard lock(mu);
    if (stopping) {
      refused = unavailable("redis pool is stopped");
    } else if (healthy_workers.load() == 0) {
      refused = unavailable("redis " + endpoint.describe() + " is unreachable");
    } else if (queue.size() >= options.max_queued) {
      refused = unavailable("redis queue is full");
    } else {
      queue.push_back(std::move(p));
    }
  }
  if (refused) {
    p.done(std::move(*refused));
    return;
  }
  work_cv.notify_one();
}

std::optional<Connection> Pool::Impl::connect_with_backoff(bool& first, bool& failed_before,
                                                           std::mt19937& rng) {
  auto backoff = options.backoff_min;
  while (true) {
    auto conn = Connection::connect(endpoint, options.timeout);
    {
      std::lock_guard lock(mu);
      if (first) {
        first = false;
        ++first_attempts;
        started_cv.notify_all();
      }
      if (stopping) return std::nullopt;
      if (conn.ok()) ++healthy_workers;
    }
    if (conn.ok()) {
      if (failed_before && metrics) metrics->count_redis_reconnect();
      failed_before = false;
      return std::move(conn).value();
    }
    failed_before = true;
    if (metrics) metrics->count_redis_error();
    // Equal jitter: half the delay fixed, half random, so workers do not reconnect in lockstep.
    auto half = backoff.count() / 2;
    std::uniform_int_distribution<long long> jitter(0, std::max<long long>(half, 0));
    auto delay = std::chrono::milliseconds(backoff.count() - half + jitter(rng));
    std::unique_lock lock(mu);
    if (work_cv.wait_for(lock, delay, [&] { return stopping; })) return std::nullopt;
    backoff = std::min(backoff * 2, options.backoff_max);
  }
}

void Pool::Impl::lose(std::vector<Pending>& in_flight, const std::string& why) {
  if (metrics) metrics->count_redis_error();
  std::vector<Pending> orphaned;
  {
    std::lock_guard lock(mu);
    ++failure_epoch;
    // With no connection left nothing would serve the queue soon: fail it now, not in seconds.
    if (--healthy_workers == 0) {
      orphaned.assign(std::make_move_iterator(queue.begin()), std::make_move_iterator(queue.end()));
      queue.clear();
    }
  }
  work_cv.notify_all();
  Error error = unavailable(why);
  fail_all(in_flight, error);
  fail_all(orphaned, error);
}

// Runs one round of work on a live connection; false when the connection was lost.
bool Pool::Impl::serve(Connection& conn, uint64_t& seen_epoch) {
  std::vector<Pending> taken;
  bool probe = false;
  {
    std::unique_lock lock(mu);
    bool woke = work_cv.wait_for(lock, kIdleProbe, [&] {
      return stopping || !queue.empty() || failure_epoch != seen_epoch;
    });
    if (stopping) return true;
    probe = !woke || failure_epoch != seen_epoch;
    seen_epoch = failure_epoch;
    size_t commands = 0;
    while (!probe && !queue.empty() &&
           (taken.empty() || commands + queue.front().batch.size() <= kMaxPipelineCommands)) {
      commands += queue.front().batch.size();
      taken.push_back(std::move(queue.front()));
      queue.pop_front();
    }
  }
  if (probe) {
    auto pong = conn.command({"PING"});
    if (pong.ok()) return true;
    lose(taken, pong.error().message);
    return false;
  }

  std::vector<Command> flat;
  for (Pending& p : taken) {
    for (Command& c : p.batch) flat.push_back(std::move(c));
  }
  auto replies = conn.pipeline(flat);
  if (!replies.ok()) {
    lose(taken, replies.error().message);
    return false;
  }
  auto next = replies->begin();
  for (Pending& p : taken) {
    std::vector<Reply> mine(std::make_move_iterator(next),
                            std::make_move_iterator(next + p.batch.size()));
    next += p.batch.size();
    p.done(std::move(mine));
  }
  return true;
}

void Pool::Impl::run(unsigned seed) {
  std::mt19937 rng(seed);
  bool first = true;
  bool failed_before = false;
  while (true) {
    auto conn = connect_with_backoff(first, failed_before, rng);
    if (!conn) return;
    uint64_t seen_epoch = 0;
    {
      std::lock_guard lock(mu);
      seen_epoch = failure_epoch;
    }
    while (serve(*conn, seen_epoch)) {
      std::lock_guard lock(mu);
      if (stopping) {
        --healthy_workers;
        return;
      }
    }
    failed_before = true;
  }
}

Pool::Pool(Endpoint endpoint, PoolOptions options, Metrics* metrics)
    : impl_(std::make_unique<Impl>(std::move(endpoint), options, metrics)) {
  int n = std::max(1, impl_->options.connections);
  std::random_device entropy;
  for (int i = 0; i < n; ++i) {
    impl_->threads.emplace_back([impl = impl_.get(), seed = entropy()] {
      name_this_thread("redis-pool");
      impl->run(seed);
    });
  }
  // Connect before serving, so the first exec does not fail only because workers are starting.
  std::unique_lock lock(impl_->mu);
  impl_->started_cv.wait_for(lock, impl_->options.timeout + std::chrono::milliseconds(100),
                             [&] { return impl_->first_attempts == n; });
}

Pool::~Pool() { stop(); }

void Pool::stop() {
  std::vector<Pending> queued;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    queued.assign(std::make_move_iterator(impl_->queue.begin()),
                  std::make_move_iterator(impl_->queue.end()));
    impl_->queue.clear();
  }
  impl_->work_cv.notify_all();
  fail_all(queued, unavailable("redis pool is stopped"));
  for (std::thread& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

void Pool::use_links(std::vector<std::shared_ptr<Link>> links) { impl_->links = std::move(links); }

void Pool::release_links() { impl_->links.clear(); }

bool Pool::healthy() const { return impl_->healthy_workers.load() > 0; }

void Pool::exec_async(Batch batch, std::function<void(BatchResult)> done) {
  impl_->submit(Pending{std::move(batch), std::move(done)});
}

awaitable<BatchResult> Pool::exec(Batch batch) {
  auto initiate = [this](auto handler, Batch b) {
    using Handler = decltype(handler);
    // std::function needs a copyable target; the coroutine's handler is move-only.
    auto h = std::make_shared<Handler>(std::move(handler));
    auto ex = net::prefer(net::get_associated_executor(*h),
                          net::execution::outstanding_work.tracked);
    std::function<void(BatchResult)> done = [h, ex](BatchResult result) {
      // Resume the coroutine on its own executor, never on a pool or link's read handler.
      net::post(ex, [h, r = std::move(result)]() mutable { std::move(*h)(std::move(r)); });
    };
    if (Link* link = impl_->link_here(); link && link->try_submit(b, done)) return;
    exec_async(std::move(b), std::move(done));
  };
  co_return co_await net::async_initiate<decltype(net::use_awaitable), void(BatchResult)>(
      initiate, net::use_awaitable, std::move(batch));
}

}  // namespace herald::redis
