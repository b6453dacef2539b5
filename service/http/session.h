#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "service/common/metrics.h"
#include "service/http/router.h"
#include "service/http/server.h"

namespace herald::http {

class Session;

// What the listener and its sessions share; each session keeps it alive.
struct ServerState {
  ServerState(std::vector<net::io_context*> workers, const Router& router, Metrics& metrics,
              ServerOptions options)
      : workers(std::move(workers)), router(router), metrics(metrics), options(options) {
    for (net::io_context* w : this->workers) idle_guards.push_back(net::make_work_guard(*w));
  }

  // The next connection's I/O context, round robin: each is run by one thread, so a
  // connection's handlers run one at a time without a strand and never hop threads.
  net::io_context& next_worker() {
    return *workers[next.fetch_add(1, std::memory_order_relaxed) % workers.size()];
  }

  const std::vector<net::io_context*> workers;  // workers[0] also runs the acceptor
  std::atomic<size_t> next{0};
  // Keep every worker running while it has no connection yet; released by stop().
  std::vector<net::executor_work_guard<net::io_context::executor_type>> idle_guards;
  const Router& router;
  Metrics& metrics;
  const ServerOptions options;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> connections{0};
  std::mutex mu;  // guards sessions
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
};

// One connection: reads requests one after another and answers each, on its I/O thread.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<ServerState> state, tcp::socket socket);
  ~Session();

  // Registers the session with the server and runs it until the connection ends.
  static void start(std::shared_ptr<ServerState> state, tcp::socket socket);
  // Ends the session if it waits for a next request; called on its I/O thread by Server::stop().
  void close_if_idle();
  net::any_io_executor executor() { return stream_.get_executor(); }

 private:
  struct Exchange;

  awaitable<void> run(std::shared_ptr<Session> self);
  awaitable<bool> wait_for_request(bool first);
  awaitable<bool> serve_one();
  awaitable<void> serve_buffered(Exchange& ex, bhttp::request_parser<bhttp::empty_body>& head);
  awaitable<void> serve_streaming(Exchange& ex, bhttp::request_parser<bhttp::empty_body>& head);
  awaitable<Response> call(const Router::Match& match, Context& ctx);
  awaitable<bool> send(Exchange& ex);
  awaitable<void> linger();

  std::shared_ptr<ServerState> state_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool idle_ = false;  // waiting for a next request: stop() may close us
};

}  // namespace herald::http
