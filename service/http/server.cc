#include "service/http/server.h"

#include "service/http/listener.h"

namespace herald::http {

struct Server::Impl {
  std::shared_ptr<Listener> listener;
};

Server::Server(std::vector<net::io_context*> workers, const Router& router, Metrics& metrics,
               ServerOptions options)
    : impl_(std::make_shared<Impl>()) {
  auto state = std::make_shared<ServerState>(std::move(workers), router, metrics, options);
  impl_->listener = std::make_shared<Listener>(std::move(state));
}

Server::~Server() { stop(); }

Result<tcp::endpoint> Server::listen(const tcp::endpoint& at) {
  return impl_->listener->listen(at);
}

void Server::stop() { impl_->listener->stop(); }

}  // namespace herald::http
