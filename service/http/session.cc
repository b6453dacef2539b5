#include "service/http/session.h"

#include <spdlog/spdlog.h>

#include <array>
#include <limits>

#include "service/http/response.h"

namespace herald::http {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;
constexpr size_t kLingerBytes = 4 << 20;
constexpr std::chrono::seconds kLingerTime{2};

using Clock = std::chrono::steady_clock;

bool expects_continue(const bhttp::request_header<>& req) {
  return beast::iequals(req[bhttp::field::expect], "100-continue");
}

// A parse error deserves a 400; a peer that went away or timed out gets no answer.
bool is_malformed(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

awaitable<bool> write_continue(beast::tcp_stream& stream, unsigned version,
                               std::chrono::seconds timeout) {
  bhttp::response<bhttp::empty_body> res{bhttp::status::continue_, version};
  beast::error_code ec;
  stream.expires_after(timeout);
  co_await bhttp::async_write(stream, res, net::redirect_error(use_awaitable, ec));
  co_return !ec;
}

std::string allow_header(const std::vector<bhttp::verb>& verbs) {
  std::string out;
  for (bhttp::verb v : verbs) {
    if (!out.empty()) out += ", ";
    out += std::string_view(bhttp::to_string(v).data(), bhttp::to_string(v).size());
  }
  return out;
}

Error too_large(size_t limit) {
  return make_error(ErrorCode::kPayloadTooLarge,
                    "request body over " + std::to_string(limit) + " bytes");
}

// The body of a streaming route, read through the same parser that read the headers.
class StreamBody final : public BodyReader {
 public:
  StreamBody(beast::tcp_stream& stream, beast::flat_buffer& buffer,
             bhttp::request_parser<bhttp::buffer_body>& parser, const ServerOptions& options,
             std::optional<unsigned> continue_version)
      : stream_(stream),
        buffer_(buffer),
        parser_(parser),
        options_(options),
        continue_version_(continue_version) {}

  awaitable<Result<std::optional<std::string>>> next() override {
    using Chunk = std::optional<std::string>;
    if (broken_) co_return make_error(ErrorCode::kInvalidArgument, "request body unreadable");
    if (parser_.is_done()) co_return Chunk{};
    if (continue_version_) {
      unsigned version = *std::exchange(continue_version_, std::nullopt);
      if (!co_await write_continue(stream_, version, options_.read_timeout)) {
        broken_ = true;
        co_return make_error(ErrorCode::kInvalidArgument, "client gone before sending the body");
      }
    }
    std::string chunk(kChunkBytes, '\0');
    size_t filled = 0;
    while (filled == 0 && !parser_.is_done()) {
      auto& body = parser_.get().body();
      body.data = chunk.data();
      body.size = chunk.size();
      body.more = true;
      stream_.expires_after(options_.read_timeout);
      beast::error_code ec;
      co_await bhttp::async_read_some(stream_, buffer_, parser_,
                                      net::redirect_error(use_awaitable, ec));
      filled = chunk.size() - body.size;
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        broken_ = true;
        if (ec == bhttp::error::body_limit) co_return too_large(options_.stream_limit);
        co_return make_error(ErrorCode::kInvalidArgument, "request body: " + ec.message());
      }
    }
    if (filled == 0) co_return Chunk{};
    chunk.resize(filled);
    co_return Chunk{std::move(chunk)};
  }

  bool broken() const { return broken_; }

 private:
  beast::tcp_stream& stream_;
  beast::flat_buffer& buffer_;
  bhttp::request_parser<bhttp::buffer_body>& parser_;
  const ServerOptions& options_;
  std::optional<unsigned> continue_version_;  // 100 Continue is owed before the first read
  bool broken_ = false;
};

}  // namespace

struct Session::Exchange {
  Clock::time_point started = Clock::now();
  std::string method = "-";
  unsigned version = 11;
  bool keep_alive = false;  // the client asked for it
  bool close = false;       // the body was left unread or the request was broken
  bool abandoned = false;   // the request could not be read: nothing to answer
  Router::Match match;
  Response res;
};

Session::Session(std::shared_ptr<ServerState> state, tcp::socket socket)
    : state_(std::move(state)), stream_(std::move(socket)) {}

Session::~Session() {
  std::lock_guard lock(state_->mu);
  state_->sessions.erase(this);
  --state_->connections;
}

void Session::start(std::shared_ptr<ServerState> state, tcp::socket socket) {
  auto session = std::make_shared<Session>(state, std::move(socket));
  {
    std::lock_guard lock(state->mu);
    state->sessions.emplace(session.get(), session);
  }
  net::co_spawn(session->executor(), session->run(session), net::detached);
}

void Session::close_if_idle() {
  if (idle_) stream_.cancel();
}

// `self` keeps the session alive for as long as the coroutine runs.
awaitable<void> Session::run([[maybe_unused]] std::shared_ptr<Session> self) {
  try {
    bool first = true;
    while (co_await wait_for_request(first)) {
      first = false;
      if (!co_await serve_one()) break;
    }
  } catch (const std::exception& e) {
    spdlog::warn("http connection ended: {}", e.what());
  }
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream_.close();
}

awaitable<bool> Session::wait_for_request(bool first) {
  if (buffer_.size() > 0) co_return true;  // a pipelined request is already here
  if (state_->stopping) co_return false;
  idle_ = true;
  stream_.expires_after(first ? state_->options.read_timeout : state_->options.idle_timeout);
  beast::error_code ec;
  size_t n = co_await stream_.async_read_some(buffer_.prepare(kChunkBytes),
                                              net::redirect_error(use_awaitable, ec));
  idle_ = false;
  if (ec) co_return false;
  buffer_.commit(n);
  co_return true;
}

awaitable<bool> Session::serve_one() {
  Exchange ex;
  ex.match.route = "unmatched";
  bhttp::request_parser<bhttp::empty_body> head;
  // Each kind of route applies its own limit; boost::none would trip Beast 1.74's
  // optional comparison and reject every body.
  head.body_limit(std::numeric_limits<std::uint64_t>::max());
  stream_.expires_after(state_->options.read_timeout);
  beast::error_code ec;
  co_await bhttp::async_read_header(stream_, buffer_, head, net::redirect_error(use_awaitable, ec));
  if (ec) {
    if (!is_malformed(ec)) co_return false;
    ex.res = error_response(invalid("", "malformed HTTP request: " + ec.message()));
    ex.close = true;
    co_await send(ex);
    co_return false;
  }
  const auto& req = head.get();
  ex.method = std::string(req.method_string());
  ex.version = req.version();
  ex.keep_alive = req.keep_alive();
  beast::string_view target = req.target();
  ex.match = state_->router.match(req.method(), {target.data(), target.size()});
  if (ex.match.error) {
    bool exists = *ex.match.error == ErrorCode::kMethodNotAllowed;
    ex.res = error_response(
        make_error(*ex.match.error, exists ? "method not allowed" : "no such route"));
    if (exists) ex.res.set(bhttp::field::allow, allow_header(ex.match.allowed));
    ex.close = !head.is_done();
  } else if (ex.match.streaming) {
    co_await serve_streaming(ex, head);
  } else {
    co_await serve_buffered(ex, head);
  }
  if (ex.abandoned) co_return false;
  bool keep = co_await send(ex);
  if (ex.close) co_await linger();
  co_return keep;
}

awaitable<void> Session::serve_buffered(Exchange& ex,
                                        bhttp::request_parser<bhttp::empty_body>& head) {
  const ServerOptions& options = state_->options;
  if (head.content_length().value_or(0) > options.body_limit) {
    ex.res = error_response(too_large(options.body_limit));
    ex.close = true;
    co_return;
  }
  bool owe_continue = !head.is_done() && expects_continue(head.get());
  if (owe_continue && !co_await write_continue(stream_, ex.version, options.read_timeout)) {
    ex.abandoned = true;
    co_return;
  }
  bhttp::request_parser<bhttp::string_body> parser{std::move(head)};
  parser.body_limit(options.body_limit);
  stream_.expires_after(options.read_timeout);
  beast::error_code ec;
  co_await bhttp::async_read(stream_, buffer_, parser, net::redirect_error(use_awaitable, ec));
  if (ec == bhttp::error::body_limit) {
    ex.res = error_response(too_large(options.body_limit));
    ex.close = true;
    co_return;
  }
  if (ec) {
    ex.abandoned = !is_malformed(ec);
    ex.res = error_response(invalid("", "malformed request body: " + ec.message()));
    ex.close = true;
    co_return;
  }
  Request req = parser.release();
  Context ctx{req, std::move(ex.match.params), ex.match.route, nullptr};
  ex.res = co_await call(ex.match, ctx);
}

awaitable<void> Session::serve_streaming(Exchange& ex,
                                         bhttp::request_parser<bhttp::empty_body>& head) {
  std::optional<unsigned> owe_continue;
  if (!head.is_done() && expects_continue(head.get())) owe_continue = ex.version;
  bhttp::request_parser<bhttp::buffer_body> parser{std::move(head)};
  parser.body_limit(state_->options.stream_limit);
  Request req{parser.get().base()};
  StreamBody body(stream_, buffer_, parser, state_->options, owe_continue);
  Context ctx{req, std::move(ex.match.params), ex.match.route, &body};
  ex.res = co_await call(ex.match, ctx);
  // A body the handler left unread cannot be skipped cheaply: end the connection instead.
  ex.close = !parser.is_done() || body.broken();
}

awaitable<Response> Session::call(const Router::Match& match, Context& ctx) {
  try {
    co_return co_await (*match.handler)(ctx);
  } catch (const std::exception& e) {
    spdlog::error("http handler for {} threw: {}", match.route, e.what());
  } catch (...) {
    spdlog::error("http handler for {} threw a non-standard exception", match.route);
  }
  co_return error_response(make_error(ErrorCode::kInternal, "internal error"));
}

awaitable<bool> Session::send(Exchange& ex) {
  Response& res = ex.res;
  bool keep = ex.keep_alive && !ex.close && !state_->stopping;
  res.version(ex.version);
  res.set(bhttp::field::server, "heraldd");
  res.keep_alive(keep);
  res.prepare_payload();
  stream_.expires_after(state_->options.read_timeout);
  beast::error_code ec;
  co_await bhttp::async_write(stream_, res, net::redirect_error(use_awaitable, ec));

  double seconds = std::chrono::duration<double>(Clock::now() - ex.started).count();
  int status = res.result_int();
  state_->metrics.observe_request(ex.match.route, status, seconds);
  // The route pattern, never the raw target: query strings may carry contact details.
  spdlog::info("http {} {} {} {}B {:.1f}ms{}", ex.method, ex.match.route, status, res.body().size(),
               seconds * 1000, ec ? " (write failed: " + ec.message() + ")" : "");
  co_return !ec && keep && !res.need_eof();
}

awaitable<void> Session::linger() {
  // Closing with unread input makes the kernel send RST, which can destroy the response in
  // flight; read and drop what the client still sends, for a bounded time.
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream_.expires_after(kLingerTime);
  std::array<char, 16 * 1024> scratch;
  size_t total = 0;
  while (!ec && total < kLingerBytes) {
    total += co_await stream_.async_read_some(net::buffer(scratch),
                                              net::redirect_error(use_awaitable, ec));
  }
}

}  // namespace herald::http
