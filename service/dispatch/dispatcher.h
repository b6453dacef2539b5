#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "channels/channel.h"
#include "service/common/metrics.h"
#include "service/common/priority_gate.h"
#include "service/core/config.h"
#include "service/core/crypto.h"
#include "service/dispatch/queue.h"
#include "service/dispatch/retry.h"
#include "service/redis/endpoint.h"

namespace herald::dispatch {

struct Tally;

// One channel's budgets (see budget.h); they apply only to channels with a budget key.
struct ChannelLimits {
  int rate_per_s = 0;            // messages per second per provider and sender; 0: no limit
  int max_concurrent_calls = 0;  // calls in progress per provider and sender; 0: no limit
  std::chrono::seconds call_ceiling{900};  // a call's slot lapses after this without a status
};

struct DispatcherOptions {
  std::string consumer = "heraldd";  // stable per process; each thread appends /<channel>/<n>
  int threads_per_channel = 1;
  size_t batch = 64;                              // entries taken, sent and settled per round
  std::chrono::milliseconds block{200};           // longest wait for new entries; bounds stop()
  std::chrono::milliseconds min_idle{60000};      // pending this long: taken over from its owner
  std::chrono::milliseconds claim_every{5000};    // how often each thread looks for such entries
  std::chrono::milliseconds retry_poll{200};      // how often due retries go back on the streams
  std::chrono::milliseconds prune_every{60000};   // consumer clean-up (idle 10 x min_idle)
  std::chrono::milliseconds redis_timeout{2000};  // must exceed `block`
  std::chrono::milliseconds reconnect_backoff{500};  // between attempts while Redis is away
  RetryPolicy retry;
  std::map<v1::Channel, ChannelLimits> limits;
  Metrics* metrics = nullptr;  // optional: herald_dispatch_messages_total{outcome="sms:sent"}
  // Optional: shared with the planner; a round waits (at most yield_max) while an EMERGENCY
  // revision's first batch is being planned, leaving Redis to it.
  std::shared_ptr<PriorityGate> gate;
  std::chrono::milliseconds yield_max{20};
  // A thread's nice value while it sends a round of NORMAL messages only (0: none, up to 19),
  // as the planner's lanes do for bulk batches: Redis, urgent planning and the API get the
  // cores first. Back at the value it started with for a round holding an EMERGENCY or MEDICAL
  // message, and for the rest of the loop. Needs CAP_SYS_NICE or RLIMIT_NICE 20 - that value
  // to return; without either, start() warns and every round runs at the process's value.
  int bulk_nice = 0;
};

// Drains the dispatch streams into channels, on threads of its own (sends may block). Each
// round takes tokens from the channel's budget, reads that many entries (EMERGENCY first),
// drops guarded, expired and stale ones, sends the rest in one send_batch and settles them in
// one transaction: sent, retried (backoff in a sorted set), failed (then the customer's next
// channel), expired. docs/architecture.md "Delivery: dispatch" has the keys and failure cases.
class Dispatcher {
 public:
  Dispatcher(redis::Endpoint endpoint, core::Sealer sealer,
             std::vector<std::shared_ptr<channels::Channel>> channels, DispatcherOptions options);
  ~Dispatcher();  // stop()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();  // once
  void stop();   // returns within about `block` plus one send_batch; idempotent

  struct Counts {
    uint64_t sent = 0;
    uint64_t failed = 0;
    uint64_t retried = 0;    // retries scheduled
    uint64_t expired = 0;
    uint64_t stale = 0;
    uint64_t malformed = 0;  // entry parts holding no message, settled and dropped
    uint64_t guarded = 0;    // settled as sent from their guard, not sent again
    uint64_t fallbacks = 0;  // next channels handed to the planner
  };
  Counts counts() const;

 private:
  void run(channels::Channel& channel, std::string consumer);
  void count(v1::Channel kind, const Tally& tally);
  bool pause(std::chrono::milliseconds ms);  // false once stopping
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }

  redis::Endpoint endpoint_;
  core::Sealer sealer_;
  std::vector<std::shared_ptr<channels::Channel>> channels_;
  DispatcherOptions options_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> bulk_nice_{0};  // options_.bulk_nice once start() found a thread can return
  std::atomic<uint64_t> sent_{0}, failed_{0}, retried_{0}, expired_{0}, stale_{0}, malformed_{0},
      guarded_{0}, fallbacks_{0};
};

// The options the dispatch.* settings describe; an empty consumer name becomes the host name.
DispatcherOptions dispatcher_options(const core::DispatchSettings& s, Metrics* metrics);

}  // namespace herald::dispatch
