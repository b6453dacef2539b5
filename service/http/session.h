#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "service/common/metrics.h"
#include "service/http/router.h"
#include "service/http/server.h"

namespace herald::http {

class Session;

// What the listener and its sessions share; each session keeps it alive.
struct ServerState {
  ServerState(net::io_context& io, const Router& router, Metrics& metrics, ServerOptions options)
      : io(io), router(router), metrics(metrics), options(options) {}

  net::io_context& io;
  const Router& router;
  Metrics& metrics;
  const ServerOptions options;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> connections{0};
  std::mutex mu;  // guards sessions
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
};

// One connection: reads requests one after another and answers each, on its own strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<ServerState> state, tcp::socket socket);
  ~Session();

  // Registers the session with the server and runs it until the connection ends.
  static void start(std::shared_ptr<ServerState> state, tcp::socket socket);
  // Ends the session if it waits for a next request; called on its strand by Server::stop().
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
