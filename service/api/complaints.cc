#include "herald/v1/report.pb.h"
#include "service/api/access.h"
#include "service/api/json.h"
#include "service/api/services.h"
#include "service/core/validate.h"
#include "service/http/response.h"
#include "service/journey/complaints.h"
#include "service/journey/filter.h"

namespace herald::api {
namespace {

using core::Role;

constexpr size_t kMaxNote = 2000;

awaitable<http::Response> list(http::Context& ctx, Services& s) {
  auto who = authenticate(ctx, s);
  if (!who.ok()) co_return http::error_response(who.error());
  if (auto ok = require_role(*who, {Role::kAgent, Role::kAnalyst}, "read complaints"); !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  const std::string status = ctx.query("status").value_or("open");
  if (status != "open" && status != "resolved") {
    co_return http::error_response(invalid("status", "'status' must be open or resolved"));
  }
  auto page = journey::parse_page([&ctx](std::string_view n) { return ctx.query(n); });
  if (!page.ok()) co_return http::error_response(page.error());
  // What the customer wrote is for those who answer it, not for analysts.
  const bool with_text = who->role == Role::kAgent || who->role == Role::kAdmin;
  auto found = co_await journey::list_complaints(s.redis, s.sealer, status == "open", with_text, page->limit);
  if (!found.ok()) co_return http::error_response(found.error());
  co_return reply(ctx, bhttp::status::ok, *found);
}

awaitable<http::Response> resolve(http::Context& ctx, Services& s) {
  auto who = authenticate(ctx, s);
  if (!who.ok()) co_return http::error_response(who.error());
  if (auto ok = require_role(*who, {Role::kAgent}, "resolve complaints"); !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  const std::string id = ctx.params["id"];
  if (auto ok = core::validate_id("id", id); !ok.ok()) co_return http::error_response(ok.error());
  v1::ComplaintResolution body;
  if (auto ok = parse_body(ctx, body); !ok.ok()) co_return http::error_response(ok.error());
  if (body.note().empty() || body.note().size() > kMaxNote) {
    co_return http::error_response(invalid("note", "'note' must be 1 to 2000 characters"));
  }
  auto done = co_await journey::resolve_complaint(s.redis, id, body.note(), s.now_ms());
  if (!done.ok()) co_return http::error_response(done.error());
  co_return reply(ctx, bhttp::status::ok, *done);
}

}  // namespace

void add_complaint_routes(http::Router& router, Services& s) {
  auto bind = [&s](auto fn) {
    return [&s, fn](http::Context& ctx) -> awaitable<http::Response> { return fn(ctx, s); };
  };
  router.add(bhttp::verb::get, "/v1/complaints", bind(list));
  router.add(bhttp::verb::post, "/v1/complaints/{id}/resolve", bind(resolve));
}

}  // namespace herald::api
