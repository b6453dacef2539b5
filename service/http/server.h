#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "service/common/net.h"
#include "service/common/result.h"
#include "service/http/router.h"

namespace herald {
class Metrics;
}

namespace herald::http {

struct ServerOptions {
  size_t body_limit = 1 << 20;               // 413 past it (non-streaming routes)
  size_t stream_limit = size_t{8} << 30;     // streaming routes
  std::chrono::seconds read_timeout{15};     // headers and each body chunk
  std::chrono::seconds idle_timeout{60};     // keep-alive between requests
  size_t max_connections = 10000;
};

// HTTP/1.1 with keep-alive on Beast. Each connection is one coroutine on one
// of the worker io_contexts (round robin), each of which one thread runs: a
// request never hops threads on its way through, and nothing waits on a lock
// shared by every I/O thread. stop() closes the listener and idle connections;
// requests in flight finish and are answered with Connection: close; run() on
// a worker then returns once its last connection is gone and nothing else
// holds it (until stop(), the server keeps every worker's run() going).
class Server {
 public:
  // `workers` is not empty; the first also runs the acceptor.
  Server(std::vector<net::io_context*> workers, const Router& router, Metrics& metrics,
         ServerOptions options);
  ~Server();

  Result<tcp::endpoint> listen(const tcp::endpoint& at);  // port 0 picks a free port
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace herald::http
