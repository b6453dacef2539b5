#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "service/callbacks/desk.h"
#include "service/common/net.h"
#include "service/core/crypto.h"
#include "service/redis/pool.h"
#include "templates/catalog.h"

namespace herald::callbacks {

struct WorkerOptions {
  std::string consumer = "heraldd";  // unique per process within the `callbacks` groups
  std::chrono::milliseconds idle{200};          // pause after a round with nothing to do
  std::chrono::milliseconds claim_idle{30000};  // a dead process's entries are taken after this
  int later_every = 25;  // rounds between retries of callbacks waiting for capacity
};

// The callbacks' background work, as one coroutine on the I/O context over the Redis pool:
// - the outbox (cb:{cb}:out): each change becomes a CALLBACK touchpoint and, for bookings,
//   moves and cancellations, a notice in the customer's language and local time; both, the
//   XACK and the XDEL go in one MULTI/EXEC, so each is written exactly once;
// - intake: an event that is no longer active books the callbacks waiting for it;
// - cbq: inbound CALL replies are booked (parked when nothing is free), CANCEL CALL replies
//   cancel the open callback;
// - bookings a capacity cut moved, and callbacks waiting for capacity, are booked again.
class Worker {
 public:
  Worker(Desk& desk, redis::Pool& pool, const core::Sealer& sealer,
         const templates::Catalog& catalog, WorkerOptions options);

  void start(net::io_context& io);
  void stop();  // the loop ends after the round in progress; safe from any thread

  // One pass over everything; returns the number of items handled (tests, tools).
  awaitable<Result<int>> round();

 private:
  struct StreamEntry {
    std::string id;
    std::map<std::string, std::string> fields;
  };
  awaitable<void> loop();
  awaitable<Result<std::vector<StreamEntry>>> take(std::string stream);
  awaitable<Status> tell(StreamEntry entry);
  awaitable<Status> call_request(StreamEntry entry);
  awaitable<Status> cancel_request(std::string customer_id, std::string entry_id);
  awaitable<Status> ack(std::string stream, std::string id, bool remove);

  Desk& desk_;
  redis::Pool& pool_;
  const core::Sealer& sealer_;
  const templates::Catalog& catalog_;
  WorkerOptions options_;
  std::atomic<bool> stopping_{false};
  bool groups_ready_ = false;
  int rounds_ = 0;
  std::unique_ptr<net::strand<net::io_context::executor_type>> strand_;
  std::unique_ptr<net::steady_timer> timer_;
};

}  // namespace herald::callbacks
