#include "service/http/listener.h"

#include <spdlog/spdlog.h>

#include <vector>

namespace herald::http {
namespace {

Error listen_error(const tcp::endpoint& at, const beast::error_code& ec, const char* what) {
  return make_error(
      ErrorCode::kUnavailable,
      fmt::format("{} {}:{}: {}", what, at.address().to_string(), at.port(), ec.message()));
}

}  // namespace

Listener::Listener(std::shared_ptr<ServerState> state)
    : state_(std::move(state)), acceptor_(net::make_strand(*state_->workers.front())) {}

Result<tcp::endpoint> Listener::listen(const tcp::endpoint& at) {
  beast::error_code ec;
  acceptor_.open(at.protocol(), ec);
  if (ec) return listen_error(at, ec, "open");
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return listen_error(at, ec, "reuse_address");
  acceptor_.bind(at, ec);
  if (ec) return listen_error(at, ec, "bind");
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return listen_error(at, ec, "listen");
  tcp::endpoint bound = acceptor_.local_endpoint(ec);
  if (ec) return listen_error(at, ec, "local_endpoint");
  net::co_spawn(acceptor_.get_executor(), accept_loop(shared_from_this()), net::detached);
  spdlog::info("http listening on {}:{}", bound.address().to_string(), bound.port());
  return bound;
}

void Listener::stop() {
  if (state_->stopping.exchange(true)) return;
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ec;
    self->acceptor_.close(ec);
  });
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard lock(state_->mu);
    for (auto& [raw, weak] : state_->sessions) {
      if (auto session = weak.lock()) sessions.push_back(std::move(session));
    }
  }
  // A worker's run() may now return once its last connection ends.
  for (auto& guard : state_->idle_guards) guard.reset();
  // Sessions not idle now see `stopping` before they next wait, and end then.
  for (auto& session : sessions) {
    net::post(session->executor(), [session] { session->close_if_idle(); });
  }
}

// `self` keeps the listener alive for as long as the loop runs.
awaitable<void> Listener::accept_loop([[maybe_unused]] std::shared_ptr<Listener> self) {
  net::steady_timer backoff(acceptor_.get_executor());
  for (;;) {
    tcp::socket socket(state_->next_worker());
    beast::error_code ec;
    co_await acceptor_.async_accept(socket, net::redirect_error(use_awaitable, ec));
    if (state_->stopping || ec == net::error::operation_aborted) break;
    if (ec) {
      // Usually out of file descriptors: pause instead of spinning.
      spdlog::warn("http accept failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(net::redirect_error(use_awaitable, ec));
      continue;
    }
    if (state_->connections.load() >= state_->options.max_connections) {
      spdlog::warn("http connection refused: {} connections open", state_->connections.load());
      socket.close(ec);
      continue;
    }
    ++state_->connections;
    Session::start(state_, std::move(socket));
  }
  spdlog::info("http listener stopped");
}

}  // namespace herald::http
