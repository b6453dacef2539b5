#pragma once

#include <memory>

#include "service/http/session.h"

namespace herald::http {

// Accepts connections and starts a Session for each, until stopped.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  explicit Listener(std::shared_ptr<ServerState> state);

  Result<tcp::endpoint> listen(const tcp::endpoint& at);
  // Closes the acceptor and the idle sessions; safe from any thread, more than once.
  void stop();

 private:
  awaitable<void> accept_loop(std::shared_ptr<Listener> self);

  std::shared_ptr<ServerState> state_;
  tcp::acceptor acceptor_;  // on its own strand
};

}  // namespace herald::http
