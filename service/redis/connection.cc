#include "service/redis/connection.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <string>

namespace herald::redis {
namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

Reply convert(const redisReply& r) {
  Reply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) out.elements.push_back(convert(*r.element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
      break;
  }
  return out;
}

Error unavailable(std::string message) {
  return Error{ErrorCode::kUnavailable, std::move(message), {}};
}

}  // namespace

void Connection::Deleter::operator()(redisContext* c) const { redisFree(c); }

Connection::Connection(std::unique_ptr<redisContext, Deleter> ctx) : ctx_(std::move(ctx)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

Result<Connection> Connection::connect(const Endpoint& endpoint,
                                       std::chrono::milliseconds timeout) {
  const timeval tv = to_timeval(timeout);
  std::unique_ptr<redisContext, Deleter> ctx(
      redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, tv));
  if (!ctx) return unavailable("redis " + endpoint.describe() + ": cannot allocate a context");
  if (ctx->err) return unavailable("redis " + endpoint.describe() + ": " + ctx->errstr);
  // The command timeout bounds every read and write, so a hung server cannot stall a worker.
  if (redisSetTimeout(ctx.get(), tv) != REDIS_OK || redisEnableKeepAlive(ctx.get()) != REDIS_OK) {
    return unavailable("redis " + endpoint.describe() + ": " + ctx->errstr);
  }

  Connection conn(std::move(ctx));
  std::vector<Command> setup;
  if (!endpoint.password.empty()) {
    if (endpoint.user.empty()) {
      setup.push_back({"AUTH", endpoint.password});
    } else {
      setup.push_back({"AUTH", endpoint.user, endpoint.password});
    }
  }
  if (endpoint.db != 0) setup.push_back({"SELECT", std::to_string(endpoint.db)});
  if (setup.empty()) return conn;

  auto replies = conn.pipeline(setup);
  if (!replies.ok()) return replies.error();
  for (size_t i = 0; i < replies->size(); ++i) {
    const Reply& r = (*replies)[i];
    if (r.is_error()) {
      // The reply text is Redis's own (e.g. WRONGPASS), never the password we sent.
      return unavailable("redis " + endpoint.describe() + ": " + setup[i][0] + " failed: " + r.str);
    }
  }
  return conn;
}

Result<Reply> Connection::command(const Command& cmd) {
  auto replies = pipeline(std::vector<Command>{cmd});
  if (!replies.ok()) return std::move(replies).take_error();
  return std::move(replies->front());
}

Result<std::vector<Reply>> Connection::pipeline(const std::vector<Command>& cmds) {
  if (broken_ || !ctx_) return unavailable("redis connection is broken");
  std::vector<const char*> argv;
  std::vector<size_t> argvlen;
  for (const Command& cmd : cmds) {
    // Redis answers nothing to an empty command, so we must not send one.
    if (cmd.empty()) continue;
    argv.clear();
    argvlen.clear();
    for (const std::string& arg : cmd) {
      argv.push_back(arg.data());
      argvlen.push_back(arg.size());
    }
    if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(argv.size()), argv.data(),
                               argvlen.data()) != REDIS_OK) {
      broken_ = true;
      return unavailable(std::string("redis append failed: ") + ctx_->errstr);
    }
  }

  std::vector<Reply> out;
  out.reserve(cmds.size());
  for (const Command& cmd : cmds) {
    if (cmd.empty()) {
      out.push_back(Reply{Reply::Type::kError, "ERR empty command", 0, {}});
      continue;
    }
    void* raw = nullptr;
    if (redisGetReply(ctx_.get(), &raw) != REDIS_OK || raw == nullptr) {
      broken_ = true;
      ReplyPtr guard(static_cast<redisReply*>(raw));
      return unavailable(std::string("redis read failed: ") + ctx_->errstr);
    }
    ReplyPtr reply(static_cast<redisReply*>(raw));
    out.push_back(convert(*reply));
  }
  return out;
}

}  // namespace herald::redis
