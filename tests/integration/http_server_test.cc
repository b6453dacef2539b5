#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "service/common/metrics.h"
#include "service/http/response.h"
#include "service/http/server.h"

namespace herald::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Reply {
  beast::error_code ec;
  bhttp::response<bhttp::string_body> res;
};

// A blocking HTTP client on its own io_context; every call is bounded by a deadline.
class Client {
 public:
  explicit Client(const tcp::endpoint& at) : stream_(io_) {
    stream_.socket().connect(at, connect_error_);
  }

  bool connected() const { return !connect_error_; }

  beast::error_code write_raw(const std::string& bytes) {
    beast::error_code result = net::error::timed_out;
    stream_.expires_after(10s);
    net::async_write(stream_, net::buffer(bytes),
                     [&](beast::error_code ec, size_t) { result = ec; });
    run();
    return result;
  }

  Reply read(std::chrono::seconds timeout = 10s) {
    Reply reply;
    reply.ec = net::error::timed_out;
    stream_.expires_after(timeout);
    bhttp::async_read(stream_, buffer_, reply.res,
                      [&](beast::error_code ec, size_t) { reply.ec = ec; });
    run();
    return reply;
  }

  Reply send(bhttp::verb method, const std::string& target, std::string body = "") {
    Request req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!body.empty()) req.body() = std::move(body);
    req.prepare_payload();
    beast::error_code result = net::error::timed_out;
    stream_.expires_after(10s);
    bhttp::async_write(stream_, req, [&](beast::error_code ec, size_t) { result = ec; });
    run();
    if (result) return Reply{result, {}};
    return read();
  }

 private:
  void run() {
    io_.restart();
    io_.run();
  }

  net::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  beast::error_code connect_error_;
};

uint64_t fnv1a(uint64_t hash, std::string_view bytes) {
  for (unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}
constexpr uint64_t kFnvBasis = 14695981039346656037ull;

std::string test_payload(size_t size) {
  std::string out(size, '\0');
  uint32_t x = 12345;
  for (char& c : out) c = static_cast<char>((x = x * 1103515245 + 12345) >> 16);
  return out;
}

std::string digest_json(size_t bytes, uint64_t hash) {
  return fmt::format(R"({{"bytes":{},"fnv":"{:x}"}})", bytes, hash);
}

awaitable<Response> upload(Context& ctx) {
  size_t bytes = 0;
  uint64_t hash = kFnvBasis;
  for (;;) {
    auto chunk = co_await ctx.body->next();
    if (!chunk.ok()) co_return error_response(chunk.error());
    if (!chunk.value()) break;
    bytes += chunk.value()->size();
    hash = fnv1a(hash, *chunk.value());
  }
  co_return json(bhttp::status::ok, digest_json(bytes, hash));
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() {
    router_.add(bhttp::verb::get, "/hello/{name}", [](Context& ctx) -> awaitable<Response> {
      co_return json(bhttp::status::ok, R"({"hello":")" + ctx.params.at("name") + "\"}");
    });
    router_.add(bhttp::verb::post, "/echo", [](Context& ctx) -> awaitable<Response> {
      co_return json(bhttp::status::ok,
                     digest_json(ctx.request.body().size(), fnv1a(kFnvBasis, ctx.request.body())));
    });
    router_.add(bhttp::verb::get, "/boom", [](Context&) -> awaitable<Response> {
      throw std::runtime_error("handler bug");
      co_return json(bhttp::status::ok, "{}");
    });
    router_.add(bhttp::verb::get, "/slow", [this](Context&) -> awaitable<Response> {
      slow_started_ = true;
      net::steady_timer timer(co_await net::this_coro::executor, 300ms);
      co_await timer.async_wait(use_awaitable);
      co_return json(bhttp::status::ok, R"({"slow":true})");
    });
    router_.add(bhttp::verb::post, "/upload", upload, {.streaming = true});
  }

  void start(ServerOptions options) {
    // As heraldd runs it: two workers, one thread each.
    server_ = std::make_unique<Server>(std::vector<net::io_context*>{&io_, &io2_}, router_,
                                       metrics_, options);
    auto bound = server_->listen(tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    ASSERT_TRUE(bound.ok()) << bound.error().message;
    endpoint_ = *bound;
    for (net::io_context* io : {&io_, &io2_}) {
      threads_.emplace_back([this, io] {
        io->run();
        ++finished_;
      });
    }
  }

  static ServerOptions small_options() {
    ServerOptions o;
    o.body_limit = 1024;
    o.read_timeout = 5s;
    o.idle_timeout = 1s;
    return o;
  }

  bool run_returned_within(std::chrono::milliseconds limit) {
    auto deadline = Clock::now() + limit;
    while (finished_ < threads_.size() && Clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    return finished_ == threads_.size();
  }

  void TearDown() override {
    if (server_) server_->stop();
    if (!run_returned_within(5s)) {
      ADD_FAILURE() << "io_context::run() did not return after stop()";
      io_.stop();
      io2_.stop();
    }
    for (auto& t : threads_) t.join();
  }

  net::io_context io_;   // also runs the acceptor
  net::io_context io2_;
  Router router_;
  Metrics metrics_;
  std::unique_ptr<Server> server_;
  tcp::endpoint endpoint_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> finished_{0};
  std::atomic<bool> slow_started_{false};
};

std::string chunked_request(const std::string& target, const std::string& body) {
  std::string out =
      "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  size_t sizes[] = {1, 1000, 70000, 65536, 3};  // uneven chunks, cycled
  for (size_t at = 0, i = 0; at < body.size(); ++i) {
    size_t n = std::min(sizes[i % std::size(sizes)], body.size() - at);
    out += fmt::format("{:x}\r\n", n);
    out.append(body, at, n);
    out += "\r\n";
    at += n;
  }
  return out + "0\r\n\r\n";
}

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  start(small_options());
  Client client(endpoint_);
  ASSERT_TRUE(client.connected());
  Reply first = client.send(bhttp::verb::get, "/hello/ann");
  ASSERT_FALSE(first.ec) << first.ec.message();
  EXPECT_EQ(first.res.result(), bhttp::status::ok);
  EXPECT_EQ(first.res.body(), R"({"hello":"ann"})");
  EXPECT_TRUE(first.res.keep_alive());
  EXPECT_EQ(first.res[bhttp::field::server], "heraldd");
  Reply second = client.send(bhttp::verb::get, "/hello/bob%20lee");
  ASSERT_FALSE(second.ec) << second.ec.message();
  EXPECT_EQ(second.res.body(), R"({"hello":"bob lee"})");
}

TEST_F(HttpServerTest, UnknownRouteIs404AndWrongMethodIs405) {
  start(small_options());
  Client client(endpoint_);
  Reply missing = client.send(bhttp::verb::get, "/nope?email=a@b.com");
  ASSERT_FALSE(missing.ec);
  EXPECT_EQ(missing.res.result(), bhttp::status::not_found);
  EXPECT_EQ(missing.res[bhttp::field::content_type], "application/json");
  EXPECT_NE(missing.res.body().find(R"("code":"not_found")"), std::string::npos);
  Reply wrong = client.send(bhttp::verb::delete_, "/hello/ann");
  ASSERT_FALSE(wrong.ec);
  EXPECT_EQ(wrong.res.result(), bhttp::status::method_not_allowed);
  EXPECT_EQ(wrong.res[bhttp::field::allow], "GET");
  EXPECT_NE(wrong.res.body().find(R"("code":"method_not_allowed")"), std::string::npos);
}

TEST_F(HttpServerTest, BodyWithinLimitArrivesWhole) {
  start(small_options());
  Client client(endpoint_);
  std::string body = test_payload(1000);
  Reply reply = client.send(bhttp::verb::post, "/echo", body);
  ASSERT_FALSE(reply.ec);
  EXPECT_EQ(reply.res.result(), bhttp::status::ok);
  EXPECT_EQ(reply.res.body(), digest_json(body.size(), fnv1a(kFnvBasis, body)));
}

TEST_F(HttpServerTest, BodyOverLimitIs413AndConnectionCloses) {
  start(small_options());
  Client client(endpoint_);
  Reply reply = client.send(bhttp::verb::post, "/echo", std::string(2048, 'x'));
  ASSERT_FALSE(reply.ec) << reply.ec.message();
  EXPECT_EQ(reply.res.result(), bhttp::status::payload_too_large);
  EXPECT_NE(reply.res.body().find(R"("code":"payload_too_large")"), std::string::npos);
  EXPECT_FALSE(reply.res.keep_alive());
  EXPECT_TRUE(client.read(3s).ec);

  Client chunked(endpoint_);
  ASSERT_FALSE(chunked.write_raw(chunked_request("/echo", std::string(4096, 'y'))));
  Reply over = chunked.read();
  ASSERT_FALSE(over.ec) << over.ec.message();
  EXPECT_EQ(over.res.result(), bhttp::status::payload_too_large);
}

TEST_F(HttpServerTest, StreamingRouteReceivesLargeChunkedBodyIntact) {
  start(small_options());
  std::string body = test_payload(5 << 20);
  Client client(endpoint_);
  ASSERT_FALSE(client.write_raw(chunked_request("/upload", body)));
  Reply reply = client.read();
  ASSERT_FALSE(reply.ec) << reply.ec.message();
  EXPECT_EQ(reply.res.result(), bhttp::status::ok);
  EXPECT_EQ(reply.res.body(), digest_json(body.size(), fnv1a(kFnvBasis, body)));
  EXPECT_TRUE(reply.res.keep_alive());
  EXPECT_EQ(client.send(bhttp::verb::get, "/hello/again").res.result(), bhttp::status::ok);
}

TEST_F(HttpServerTest, StreamingRouteHonoursExpectContinueWithContentLength) {
  start(small_options());
  std::string body = test_payload(5 << 20);
  Client client(endpoint_);
  ASSERT_FALSE(
      client.write_raw(fmt::format("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
                                   "{}\r\nExpect: 100-continue\r\n\r\n",
                                   body.size())));
  Reply interim = client.read();
  ASSERT_FALSE(interim.ec) << interim.ec.message();
  EXPECT_EQ(interim.res.result(), bhttp::status::continue_);
  ASSERT_FALSE(client.write_raw(body));
  Reply reply = client.read();
  ASSERT_FALSE(reply.ec) << reply.ec.message();
  EXPECT_EQ(reply.res.body(), digest_json(body.size(), fnv1a(kFnvBasis, body)));
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndServerKeepsServing) {
  start(small_options());
  Client client(endpoint_);
  Reply boom = client.send(bhttp::verb::get, "/boom");
  ASSERT_FALSE(boom.ec);
  EXPECT_EQ(boom.res.result(), bhttp::status::internal_server_error);
  EXPECT_NE(boom.res.body().find(R"("code":"internal")"), std::string::npos);
  Client next(endpoint_);
  Reply ok = next.send(bhttp::verb::get, "/hello/ann");
  ASSERT_FALSE(ok.ec);
  EXPECT_EQ(ok.res.result(), bhttp::status::ok);
}

TEST_F(HttpServerTest, IdleConnectionIsClosedAfterIdleTimeout) {
  start(small_options());
  Client client(endpoint_);
  ASSERT_EQ(client.send(bhttp::verb::get, "/hello/ann").res.result(), bhttp::status::ok);
  auto before = Clock::now();
  Reply silent = client.read(5s);
  auto waited = Clock::now() - before;
  EXPECT_EQ(silent.ec, bhttp::error::end_of_stream) << silent.ec.message();
  EXPECT_GE(waited, 800ms);
  EXPECT_LT(waited, 3s);
}

TEST_F(HttpServerTest, StopFinishesInFlightRequestAndClosesTheRest) {
  ServerOptions options = small_options();
  options.idle_timeout = 30s;
  start(options);
  Client idle(endpoint_);
  ASSERT_EQ(idle.send(bhttp::verb::get, "/hello/ann").res.result(), bhttp::status::ok);

  Client busy(endpoint_);
  ASSERT_FALSE(busy.write_raw("GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  for (int i = 0; i < 200 && !slow_started_; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(slow_started_);
  net::post(io_, [this] { server_->stop(); });  // as a signal handler on the io_context would

  Reply slow = busy.read();
  ASSERT_FALSE(slow.ec) << slow.ec.message();
  EXPECT_EQ(slow.res.result(), bhttp::status::ok);
  EXPECT_FALSE(slow.res.keep_alive());

  auto before = Clock::now();
  EXPECT_TRUE(idle.read(5s).ec);
  EXPECT_LT(Clock::now() - before, 2s);

  EXPECT_TRUE(run_returned_within(5s));
  Client late(endpoint_);
  EXPECT_FALSE(late.connected());
}

TEST_F(HttpServerTest, ConnectionsPastTheLimitAreClosed) {
  ServerOptions options = small_options();
  options.max_connections = 1;
  start(options);
  Client first(endpoint_);
  ASSERT_EQ(first.send(bhttp::verb::get, "/hello/ann").res.result(), bhttp::status::ok);
  Client second(endpoint_);
  EXPECT_TRUE(second.send(bhttp::verb::get, "/hello/bob").ec);
  EXPECT_EQ(first.send(bhttp::verb::get, "/hello/ann").res.result(), bhttp::status::ok);
}

TEST_F(HttpServerTest, MetricsCarryRoutePatterns) {
  start(small_options());
  Client client(endpoint_);
  client.send(bhttp::verb::get, "/hello/ann");
  client.send(bhttp::verb::get, "/nope");
  // The server counts a request once its response is written, just after the client has it.
  const std::string unmatched = R"(herald_http_requests_total{route="unmatched",status="404"} 1)";
  std::string text = metrics_.render();
  for (int i = 0; i < 100 && text.find(unmatched) == std::string::npos; ++i) {
    std::this_thread::sleep_for(10ms);
    text = metrics_.render();
  }
  EXPECT_NE(text.find(unmatched), std::string::npos) << text;
  EXPECT_NE(text.find(R"(herald_http_requests_total{route="/hello/{name}",status="200"} 1)"),
            std::string::npos);
  EXPECT_EQ(text.find("ann"), std::string::npos);
}

}  // namespace
}  // namespace herald::http
