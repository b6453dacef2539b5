#include "herald/v1/report.pb.h"
#include "service/api/access.h"
#include "service/api/json.h"
#include "service/api/services.h"
#include "service/core/validate.h"
#include "service/http/response.h"
#include "service/journey/filter.h"
#include "service/journey/report.h"

namespace herald::api {
namespace {

using core::Role;

constexpr int64_t kDefaultWindowMs = int64_t{30} * 86'400'000;

Status admit(const http::Context& ctx, Services& s) {
  auto who = authenticate(ctx, s);
  if (!who.ok()) return std::move(who).take_error();
  return require_role(*who, {Role::kOperator, Role::kAnalyst}, "read reports");
}

awaitable<http::Response> event_report(http::Context& ctx, Services& s) {
  if (auto ok = admit(ctx, s); !ok.ok()) co_return http::error_response(ok.error());
  const std::string id = ctx.params["id"];
  if (auto ok = core::validate_id("id", id); !ok.ok()) co_return http::error_response(ok.error());
  std::vector<std::string> ids;
  ids.push_back(id);
  auto loaded = co_await journey::load_events(s.redis, std::move(ids));
  if (!loaded.ok()) co_return http::error_response(loaded.error());
  if (loaded->empty() || !loaded->front().state) {
    co_return http::error_response(make_error(ErrorCode::kNotFound, "no event " + id));
  }
  co_return reply(ctx, bhttp::status::ok, journey::event_report(loaded->front()));
}

awaitable<http::Response> summary(http::Context& ctx, Services& s) {
  if (auto ok = admit(ctx, s); !ok.ok()) co_return http::error_response(ok.error());
  const int64_t now = s.now_ms();
  int64_t since = now - kDefaultWindowMs;
  int64_t until = 0;
  if (auto v = ctx.query("since")) {
    auto ms = journey::parse_time_ms("since", *v);
    if (!ms.ok()) co_return http::error_response(ms.error());
    since = *ms;
  }
  if (auto v = ctx.query("until")) {
    auto ms = journey::parse_time_ms("until", *v);
    if (!ms.ok()) co_return http::error_response(ms.error());
    until = *ms;
    if (until < since) co_return http::error_response(invalid("until", "'until' is before 'since'"));
  }
  auto report = co_await journey::summary_report(s.redis, since, until, now);
  if (!report.ok()) co_return http::error_response(report.error());
  co_return reply(ctx, bhttp::status::ok, *report);
}

}  // namespace

void add_report_routes(http::Router& router, Services& s) {
  auto bind = [&s](auto fn) {
    return [&s, fn](http::Context& ctx) -> awaitable<http::Response> { return fn(ctx, s); };
  };
  router.add(bhttp::verb::get, "/v1/reports/events/{id}", bind(event_report));
  router.add(bhttp::verb::get, "/v1/reports/summary", bind(summary));
}

}  // namespace herald::api
