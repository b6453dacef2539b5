#pragma once

#include <chrono>
#include <functional>
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
  // pipeline() in two halves, so the caller can work while Redis runs the commands: send()
  // writes them to the socket now and returns how many replies they will get; receive(n)
  // reads the next n replies. Replies come in the order the commands were sent.
  Result<size_t> send(const std::vector<Command>& cmds);
  Result<std::vector<Reply>> receive(size_t count);
  bool broken() const { return broken_; }

  // The next `count` replies, of commands already sent, left unread on purpose so the caller
  // can go on working while Redis runs them (the planner's last transaction of a batch). The
  // next command(), pipeline() or send() first reads them and hands them to `check`, whose
  // error is then that call's error; they are read either way, so replies stay in step. Any
  // earlier deferral must have been read (settle(), or taken back with take_deferred()).
  void defer(size_t count, std::function<Status(std::vector<Reply>)> check);
  // Reads the deferred replies now, if any, and returns what their check says.
  Status settle();
  // Hands the deferred replies back to a caller that receives them itself, in order, before
  // any of its own: returns how many (0: none), and their check is dropped.
  size_t take_deferred();

 private:
  struct Deleter {
    void operator()(redisContext* c) const;
  };
  explicit Connection(std::unique_ptr<redisContext, Deleter> ctx);
  Status append(const std::string& wire);  // RESP text, queued for the next read
  Status append(const std::vector<Command>& cmds);  // skips empty commands
  Result<Reply> read_one();
  std::unique_ptr<redisContext, Deleter> ctx_;
  bool broken_ = false;
  size_t deferred_ = 0;
  std::function<Status(std::vector<Reply>)> check_deferred_;
};

}  // namespace herald::redis
