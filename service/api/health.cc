#include "service/api/services.h"
#include "service/http/response.h"

namespace herald::api {
namespace {

// Handlers are named functions: g++ 12 mis-compiles string literals in coroutine lambdas.
awaitable<http::Response> healthz(http::Context&) {
  co_return http::json(bhttp::status::ok, std::string(R"({"status":"ok"})"));
}

awaitable<http::Response> readyz(Services& s) {
  auto pong = co_await s.redis.exec(redis::batch(redis::cmd("PING")));
  if (!pong.ok() || pong->front().is_error()) {
    co_return http::error_response(make_error(ErrorCode::kUnavailable, "redis is unreachable"));
  }
  co_return http::json(bhttp::status::ok, std::string(R"({"status":"ready","redis":"ok"})"));
}

awaitable<http::Response> metrics(Services& s) {
  http::Response res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "text/plain; version=0.0.4");
  res.body() = s.metrics.render();
  res.prepare_payload();
  co_return res;
}

}  // namespace

void add_health_routes(http::Router& router, Services& s) {
  router.add(bhttp::verb::get, "/healthz", healthz);
  router.add(bhttp::verb::get, "/readyz", [&s](http::Context&) { return readyz(s); });
  router.add(bhttp::verb::get, "/metrics", [&s](http::Context&) { return metrics(s); });
}

}  // namespace herald::api
