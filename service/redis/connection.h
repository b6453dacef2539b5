#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "service/common/result.h"
#include "service/redis/endpoint.h"
#include "service/redis/reply.h"

struct redisContext;

namespace herald::redis {

// One blocking connection. Used only off the I/O threads: by the pool's
// workers, background workers, tools and tests. Move-only; owns its context.
class Connection {
 public:
  static Result<Connection> connect(const Endpoint& endpoint, std::chrono::milliseconds timeout);

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  Result<Reply> command(const Command& cmd);
  // Sends every command, then reads every reply: one round trip. A Redis
  // error reply is a Reply of type kError, not an Error; Error means the
  // connection failed (and broken() is then true).
  Result<std::vector<Reply>> pipeline(const std::vector<Command>& cmds);
  bool broken() const { return broken_; }

 private:
  struct Deleter {
    void operator()(redisContext* c) const;
  };
  explicit Connection(std::unique_ptr<redisContext, Deleter> ctx);
  Status send(const std::string& wire);  // RESP text, queued for the next read
  Result<Reply> read_one();
  std::unique_ptr<redisContext, Deleter> ctx_;
  bool broken_ = false;
};

}  // namespace herald::redis
