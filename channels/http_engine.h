#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "channels/channel.h"

namespace herald::channels {

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::string basic_auth;  // "user:password" for HTTP Basic; empty: none
};

struct HttpReply {
  long status = 0;  // 0: no response; `error` says why
  std::string body;
  std::chrono::milliseconds retry_after{0};  // the Retry-After header, seconds or HTTP-date
  std::string error;                         // transport failure, empty when a response came
  bool timed_out = false;
};

struct HttpEngineOptions {
  long max_connections = 16;  // per engine, total and per host; idle ones are kept alive
  size_t max_in_flight = 64;  // requests handed to curl at once; the rest wait in order
  size_t max_queued = 100'000;  // beyond this a submit fails at once ("engine queue full")
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{10000};  // whole request, from the moment curl takes it
  std::string user_agent = "heraldd";
  // Threads, each with a curl multi handle of its own; requests go to them in turn and the two
  // caps above are shared out between them (each gets at least one connection and one slot).
  int threads = 1;
};

// Many HTTP requests at once on a thread of its own (or a few): libcurl's multi-socket interface driven
// by a Boost.Asio io_context (one stream_descriptor per socket curl opens, one steady_timer for
// curl's timeouts), so no thread waits on any single request. Requests may be submitted from
// any thread; their callbacks run on the engine thread and must not block.
class HttpEngine {
 public:
  using Callback = std::function<void(HttpReply)>;

  explicit HttpEngine(HttpEngineOptions options);
  ~HttpEngine();  // stop()
  HttpEngine(const HttpEngine&) = delete;
  HttpEngine& operator=(const HttpEngine&) = delete;

  void submit(HttpRequest request, Callback done);
  std::future<HttpReply> submit(HttpRequest request);
  // Submits every request and waits for all of them; replies in request order.
  std::vector<HttpReply> perform(std::vector<HttpRequest> requests);

  // Requests still queued or in flight complete with error "engine stopped"; later submits
  // fail at once. Idempotent; returns once the engine thread has exited.
  void stop();

  struct Stats {
    uint64_t completed = 0;
    uint64_t connections_opened = 0;  // new connections; the rest reused a kept-alive one
    size_t in_flight = 0;
    size_t queued = 0;
  };
  Stats stats() const;
  const HttpEngineOptions& options() const { return options_; }

 private:
  struct Impl;
  HttpEngineOptions options_;
  std::vector<std::unique_ptr<Impl>> lanes_;  // one per thread
  std::atomic<size_t> next_{0};
};

// The retryable outcomes every HTTP adapter shares: no response (connection error, timeout),
// 429 (with its Retry-After) and 5xx. Otherwise returns false and leaves `result` alone.
bool transient_failure(const HttpReply& reply, SendResult& result);

}  // namespace herald::channels
