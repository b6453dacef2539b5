#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "service/redis/endpoint.h"

namespace herald::testing {

struct RedisServerOptions {
  bool aof = false;                     // appendonly with fsync always: data survives kill()
  std::vector<std::string> extra_args;  // e.g. {"--set-max-intset-entries", "16384"}
};

// A real redis-server on 127.0.0.1 in its own temp directory, owned by the test.
// Throws std::runtime_error when it cannot be started (a test set-up failure).
class RedisServer {
 public:
  explicit RedisServer(RedisServerOptions options = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  void stop();     // SIGTERM, then SIGKILL if it has not exited within 10 s
  void kill();     // SIGKILL: a crash, nothing flushed beyond what fsync already wrote
  void restart();  // stops if running, then starts on the same port and directory
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  std::string url() const;  // redis://127.0.0.1:PORT/0
  const std::string& dir() const { return dir_; }
  redis::Endpoint endpoint() const;
  // It also listens on a Unix socket in its directory.
  std::string socket_path() const { return dir_ + "/redis.sock"; }
  std::string unix_url() const { return "unix://" + socket_path(); }
  redis::Endpoint unix_endpoint() const;

 private:
  bool launch();  // false when the server exited before answering (e.g. the port was taken)
  void wait_exit(int timeout_ms);
  std::string log_tail() const;

  RedisServerOptions options_;
  std::string binary_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace herald::testing
