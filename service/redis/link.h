#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "service/common/net.h"
#include "service/common/result.h"
#include "service/redis/endpoint.h"
#include "service/redis/reply.h"

struct redisReader;

namespace herald {
class Metrics;
}

namespace herald::redis {

using BatchResult = Result<std::vector<Reply>>;

struct LinkOptions {
  std::chrono::milliseconds timeout{2000};  // oldest unanswered batch; past it the link resets
  std::chrono::milliseconds backoff_min{50};
  std::chrono::milliseconds backoff_max{5000};
  size_t max_batch_commands = 64;        // larger batches go to the pool's threads
  size_t max_in_flight_commands = 4096;  // past it a batch goes to the pool's threads
};

// One non-blocking Redis connection owned by an io_context that a single thread runs (an
// HTTP worker). A request on that thread writes its batch to the socket itself and reads the
// replies when epoll says they are there, on the same thread: no hand-off to a pool thread
// and back. Batches are pipelined: each is written whole, in submission order, so a
// MULTI/EXEC inside one is never interleaved with another's commands.
//
// try_submit() refuses (returns false, the caller keeps the batch) while the link is not
// connected, is draining, or is busy: callers then use the blocking pool, whose own
// reconnect logic decides whether Redis is unreachable. A lost connection or a batch left
// unanswered past the timeout fails every batch in flight with kUnavailable (their effect
// in Redis is unknown, as with the pool) and the link reconnects with jittered backoff.
class Link : public std::enable_shared_from_this<Link> {
 public:
  Link(net::io_context& io, Endpoint endpoint, LinkOptions options, Metrics* metrics);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  void start();  // connects in the background; safe from any thread
  // No new batches; once those in flight are answered the connection closes and the link
  // stops holding its io_context open. Safe from any thread, more than once.
  void stop();

  net::io_context& context() const { return io_; }
  // On the link's thread only. On true the batch was taken and `done` runs later on this
  // thread with the replies in order; on false both are left to the caller.
  bool try_submit(Batch& batch, std::function<void(BatchResult)>& done);
  // On the link's thread: batches it carried since it started (for tests and metrics).
  uint64_t carried() const { return carried_; }
  bool connected() const { return state_ == State::kReady; }  // on the link's thread

 private:
  enum class State { kIdle, kConnecting, kReady, kStopped };
  struct InFlight {
    size_t remaining;
    std::vector<Reply> replies;
    std::function<void(BatchResult)> done;
    std::chrono::steady_clock::time_point sent;
  };

  void connect();
  void on_connected();
  void read_some();
  void on_read(size_t n);
  void write_some();
  void push(Batch& batch, std::function<void(BatchResult)> done);
  void arm_deadline();
  void fail(const std::string& why);
  void close_if_drained();

  net::io_context& io_;
  Endpoint endpoint_;
  LinkOptions options_;
  Metrics* metrics_;
  tcp::resolver resolver_;
  // TCP or a Unix socket (Endpoint::is_unix), behind one type.
  net::generic::stream_protocol::socket socket_;
  net::steady_timer timer_;  // the oldest batch's deadline, or the reconnect backoff
  bool timer_armed_ = false;
  State state_ = State::kIdle;
  bool draining_ = false;
  bool failed_before_ = false;
  std::chrono::milliseconds backoff_;
  std::mt19937 rng_;
  std::string out_;      // commands waiting to be written
  std::string writing_;  // the buffer async_write holds
  bool write_in_flight_ = false;
  std::vector<char> in_;
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader_;
  std::deque<InFlight> in_flight_;
  size_t in_flight_commands_ = 0;
  uint64_t carried_ = 0;
  uint64_t generation_ = 0;  // bumped on each reset, so handlers of an old socket do nothing
};

}  // namespace herald::redis
