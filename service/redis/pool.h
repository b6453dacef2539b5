#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "service/common/net.h"
#include "service/common/result.h"
#include "service/redis/endpoint.h"
#include "service/redis/link.h"
#include "service/redis/reply.h"

namespace herald {
class Metrics;
}

namespace herald::redis {

struct PoolOptions {
  int connections = 4;
  std::chrono::milliseconds timeout{2000};
  std::chrono::milliseconds backoff_min{50};
  std::chrono::milliseconds backoff_max{5000};
  size_t max_queued = 10000;  // batches waiting; past it exec fails with kUnavailable
};

// Connections on their own threads, so the I/O threads never block on Redis (and, for
// the HTTP workers, Links: see use_links).
// Each batch is sent as one pipeline; workers coalesce queued batches into
// one round trip. A lost connection is re-made with jittered exponential
// backoff; while Redis is unreachable, exec fails fast with kUnavailable.
class Pool {
 public:
  Pool(Endpoint endpoint, PoolOptions options, Metrics* metrics);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Completes on the awaiting coroutine's executor.
  awaitable<BatchResult> exec(Batch batch);
  // Callback form; `done` runs on a pool thread, or inline when exec fails fast.
  void exec_async(Batch batch, std::function<void(BatchResult)> done);

  // Links of the HTTP workers: exec() from a coroutine running on a link's io_context sends
  // its batch over that link when it takes it (small batch, connected), else over the pool's
  // threads. Set once before any exec; release_links() once no thread can exec any more.
  void use_links(std::vector<std::shared_ptr<Link>> links);
  void release_links();

  bool healthy() const;  // at least one connection's last contact with Redis succeeded
  void stop();           // fails what is queued, joins the threads

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herald::redis
