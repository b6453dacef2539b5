#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "channels/channel.h"
#include "service/core/crypto.h"
#include "service/dispatch/queue.h"
#include "service/redis/endpoint.h"

namespace herald::dispatch {

struct DispatcherOptions {
  std::string consumer = "heraldd";  // unique per process; each thread appends /<channel>/<n>
  int threads_per_channel = 1;
  size_t batch = 64;                              // entries read, sent and settled per round trip
  std::chrono::milliseconds block{200};           // longest wait for new entries; bounds stop()
  std::chrono::milliseconds min_idle{60000};      // pending this long: taken over from its owner
  std::chrono::milliseconds claim_every{5000};    // how often each thread looks for such entries
  std::chrono::milliseconds redis_timeout{2000};  // must exceed `block`
  std::chrono::milliseconds reconnect_backoff{500};  // between attempts while Redis is away
};

// Drains the dispatch streams into channels, on threads of its own (sends may block).
// For each entry: open the sealed content (associated data: the message id), send, then
// kSent -> ack + "<channel>:sent", kPermanent -> ack + "<channel>:failed" in fn:{event}, both
// settled per batch in one pipeline. kRetry leaves the entry pending: after min_idle it is
// claimed again (by this or another process), which is the only retry until the delivery
// issue adds backoff, attempt limits and validity windows. At-least-once: a crash between a
// send and its ack sends that message again, but the funnel counts it once.
class Dispatcher {
 public:
  Dispatcher(redis::Endpoint endpoint, core::Sealer sealer,
             std::vector<std::shared_ptr<channels::Channel>> channels, DispatcherOptions options);
  ~Dispatcher();  // stop()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();  // once
  void stop();   // returns within about `block` plus one send; idempotent

  struct Counts {
    uint64_t sent = 0;
    uint64_t failed = 0;
    uint64_t retried = 0;    // kRetry results, left pending
    uint64_t malformed = 0;  // entries holding no message, acked and dropped
  };
  Counts counts() const;

 private:
  void run(channels::Channel& channel, std::string consumer);
  bool settle(DispatchQueue& queue, channels::Channel& channel, std::vector<Entry>& entries);
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
  std::atomic<uint64_t> sent_{0}, failed_{0}, retried_{0}, malformed_{0};
};

// Opens the content and hands the message to the channel; content that does not open or parse
// is a permanent failure (it was sealed with another key or for another message).
channels::SendResult deliver(const v1::OutboundMessage& msg, const core::Sealer& sealer,
                             channels::Channel& channel);

}  // namespace herald::dispatch
