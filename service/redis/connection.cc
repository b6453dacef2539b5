#include "service/redis/connection.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <utility>

#include "service/redis/resp.h"

namespace herald::redis {
namespace {

// hiredis writes with write(2), which raises SIGPIPE on a socket whose peer has gone (at once
// on a Unix socket; after a reset on TCP). Its default action ends the process; ignored, the
// write fails with EPIPE and the connection reports Redis as unavailable. A handler somebody
// installed is left alone.
void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      ::signal(SIGPIPE, SIG_IGN);
    }
  });
}

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

void append_decimal(std::string& out, size_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

}  // namespace

void append_resp(std::string& out, const Command& cmd) {
  out.push_back('*');
  append_decimal(out, cmd.size());
  out.append("\r\n");
  for (const std::string& arg : cmd) {
    out.push_back('$');
    append_decimal(out, arg.size());
    out.append("\r\n");
    out.append(arg);
    out.append("\r\n");
  }
}

void append_resp(std::string& out, const std::vector<Command>& cmds) {
  size_t size = out.size();
  for (const Command& cmd : cmds) {
    if (cmd.empty()) continue;
    size += 16;                                                  // "*<count>\r\n"
    for (const std::string& arg : cmd) size += arg.size() + 16;  // "$<len>\r\n" arg "\r\n"
  }
  out.reserve(size);
  for (const Command& cmd : cmds) {
    if (!cmd.empty()) append_resp(out, cmd);
  }
}

namespace {

// hiredis calls these as it parses; a reply inside an array is built in place in its parent's
// elements (sized when the array begins), so only the outermost reply is allocated, and only
// it is ever freed (hiredis frees the reply it was building when a read fails). A nullptr
// tells hiredis it is out of memory: no exception crosses its C frames.
Reply* place(const redisReadTask* task) {
  if (task->parent == nullptr) return new (std::nothrow) Reply;
  auto* parent = static_cast<Reply*>(task->parent->obj);
  return &parent->elements[static_cast<size_t>(task->idx)];
}

void* create_string(const redisReadTask* task, char* str, size_t len) {
  Reply* r = place(task);
  if (r == nullptr) return nullptr;
  r->type = task->type == REDIS_REPLY_ERROR    ? Reply::Type::kError
            : task->type == REDIS_REPLY_STATUS ? Reply::Type::kStatus
                                               : Reply::Type::kString;
  try {
    r->str.assign(str, len);
  } catch (const std::bad_alloc&) {
    if (task->parent == nullptr) delete r;
    return nullptr;
  }
  return r;
}

void* create_array(const redisReadTask* task, int elements) {
  Reply* r = place(task);
  if (r == nullptr) return nullptr;
  r->type = Reply::Type::kArray;
  try {
    r->elements.resize(static_cast<size_t>(std::max(elements, 0)));
  } catch (const std::bad_alloc&) {
    if (task->parent == nullptr) delete r;
    return nullptr;
  }
  return r;
}

void* create_integer(const redisReadTask* task, long long value) {
  Reply* r = place(task);
  if (r == nullptr) return nullptr;
  r->type = Reply::Type::kInteger;
  r->integer = value;
  return r;
}

void* create_nil(const redisReadTask* task) { return place(task); }  // a Reply is nil as made

void free_reply(void* obj) { delete static_cast<Reply*>(obj); }

redisReplyObjectFunctions kReplyFunctions{create_string, create_array, create_integer, create_nil,
                                          free_reply};

}  // namespace

void use_reply_objects(redisReader* reader) {
  if (reader != nullptr) reader->fn = &kReplyFunctions;
}

redisReader* new_reader() {
  redisReader* reader = redisReaderCreate();
  use_reply_objects(reader);
  return reader;
}

Reply take_reply(void* raw) {
  std::unique_ptr<Reply> owned(static_cast<Reply*>(raw));
  return std::move(*owned);
}

void Connection::Deleter::operator()(redisContext* c) const { redisFree(c); }

Connection::Connection(std::unique_ptr<redisContext, Deleter> ctx) : ctx_(std::move(ctx)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

Result<Connection> Connection::connect(const Endpoint& endpoint,
                                       std::chrono::milliseconds timeout) {
  ignore_sigpipe_once();
  const timeval tv = to_timeval(timeout);
  std::unique_ptr<redisContext, Deleter> ctx(
      endpoint.is_unix() ? redisConnectUnixWithTimeout(endpoint.socket.c_str(), tv)
                         : redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, tv));
  if (!ctx) return unavailable("redis " + endpoint.describe() + ": cannot allocate a context");
  if (ctx->err) return unavailable("redis " + endpoint.describe() + ": " + ctx->errstr);
  // The command timeout bounds every read and write, so a hung server cannot stall a worker.
  // TCP keep-alive finds a peer that vanished; a Unix socket's peer is on this host.
  if (redisSetTimeout(ctx.get(), tv) != REDIS_OK ||
      (!endpoint.is_unix() && redisEnableKeepAlive(ctx.get()) != REDIS_OK)) {
    return unavailable("redis " + endpoint.describe() + ": " + ctx->errstr);
  }

  use_reply_objects(ctx->reader);
  Connection conn(std::move(ctx));
  const std::vector<Command> setup = endpoint.setup();
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

void Connection::defer(size_t count, std::function<Status(std::vector<Reply>)> check) {
  deferred_ = count;
  check_deferred_ = std::move(check);
}

Status Connection::settle() {
  if (deferred_ == 0) return ok_status();
  auto got = receive(std::exchange(deferred_, 0));
  auto check = std::move(check_deferred_);
  check_deferred_ = nullptr;
  if (!got.ok()) return std::move(got).take_error();
  return check ? check(std::move(*got)) : ok_status();
}

size_t Connection::take_deferred() {
  check_deferred_ = nullptr;
  return std::exchange(deferred_, 0);
}

Result<Reply> Connection::command(const Command& cmd) {
  if (auto ok = settle(); !ok.ok()) return std::move(ok).take_error();
  if (cmd.empty()) return Reply{Reply::Type::kError, "ERR empty command", 0, {}};
  std::string wire;
  append_resp(wire, cmd);
  if (auto sent = append(wire); !sent.ok()) return std::move(sent).take_error();
  return read_one();
}

Status Connection::append(const std::vector<Command>& cmds) {
  std::string wire;
  append_resp(wire, cmds);
  return append(wire);
}

Result<std::vector<Reply>> Connection::pipeline(const std::vector<Command>& cmds) {
  if (auto ok = settle(); !ok.ok()) return std::move(ok).take_error();
  if (auto sent = append(cmds); !sent.ok()) return std::move(sent).take_error();
  std::vector<Reply> out;
  out.reserve(cmds.size());
  for (const Command& cmd : cmds) {
    if (cmd.empty()) {
      out.push_back(Reply{Reply::Type::kError, "ERR empty command", 0, {}});
      continue;
    }
    auto reply = read_one();
    if (!reply.ok()) return std::move(reply).take_error();
    out.push_back(std::move(*reply));
  }
  return out;
}

Result<size_t> Connection::send(const std::vector<Command>& cmds) {
  if (auto ok = settle(); !ok.ok()) return std::move(ok).take_error();
  if (auto sent = append(cmds); !sent.ok()) return std::move(sent).take_error();
  const auto count = static_cast<size_t>(
      std::count_if(cmds.begin(), cmds.end(), [](const Command& c) { return !c.empty(); }));
  // Written out now, not at the next read. Redis never blocks on its replies, so a blocking
  // write here cannot deadlock with the replies it leaves unread.
  for (int done = 0; !done;) {
    if (redisBufferWrite(ctx_.get(), &done) != REDIS_OK) {
      broken_ = true;
      return unavailable(std::string("redis write failed: ") + ctx_->errstr);
    }
  }
  return count;
}

Result<std::vector<Reply>> Connection::receive(size_t count) {
  std::vector<Reply> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    auto reply = read_one();
    if (!reply.ok()) return std::move(reply).take_error();
    out.push_back(std::move(*reply));
  }
  return out;
}

Status Connection::append(const std::string& wire) {
  if (broken_ || !ctx_) return unavailable("redis connection is broken");
  if (!wire.empty() &&
      redisAppendFormattedCommand(ctx_.get(), wire.data(), wire.size()) != REDIS_OK) {
    broken_ = true;
    return unavailable(std::string("redis append failed: ") + ctx_->errstr);
  }
  return ok_status();
}

Result<Reply> Connection::read_one() {
  void* raw = nullptr;
  if (redisGetReply(ctx_.get(), &raw) != REDIS_OK || raw == nullptr) {
    broken_ = true;
    if (raw != nullptr) take_reply(raw);
    return unavailable(std::string("redis read failed: ") + ctx_->errstr);
  }
  return take_reply(raw);
}

}  // namespace herald::redis
