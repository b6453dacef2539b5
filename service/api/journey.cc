#include <charconv>

#include "herald/v1/report.pb.h"
#include "service/api/access.h"
#include "service/api/json.h"
#include "service/api/services.h"
#include "service/api/touchpoint_json.h"
#include "service/core/validate.h"
#include "service/http/response.h"
#include "service/journey/reader.h"
#include "service/store/keys.h"
#include "service/store/touchpoints.h"

namespace herald::api {
namespace {

using core::Role;

std::vector<v1::Touchpoint> take_touchpoints(std::vector<journey::Entry>& entries) {
  std::vector<v1::Touchpoint> out;
  out.reserve(entries.size());
  for (auto& e : entries) out.push_back(std::move(e.tp));
  return out;
}

journey::Query query_of(const http::Context& ctx) {
  return [&ctx](std::string_view name) { return ctx.query(name); };
}

// The customer's internal number (the cid value); nullopt when unknown.
awaitable<Result<std::optional<uint64_t>>> customer_number(Services& s, std::string id) {
  auto r = co_await s.redis.exec(redis::batch(redis::cmd("HGET", store::customer_id_key(id), id)));
  if (!r.ok()) co_return std::move(r).take_error();
  const redis::Reply& v = r->front();
  uint64_t n = 0;
  if (v.type != redis::Reply::Type::kString) co_return std::optional<uint64_t>{};
  std::from_chars(v.str.data(), v.str.data() + v.str.size(), n);
  co_return std::optional<uint64_t>{n};
}

// Contact details only for those who may call or write to the customer, and the customer.
awaitable<Status> fill_header(Services& s, const core::Principal& who, const std::string& id,
                              v1::JourneyCustomer& out) {
  out.set_id(id);
  auto found = co_await s.customers.get(id);
  if (!found.ok()) co_return std::move(found).take_error();
  if (!found->has_value()) co_return ok_status();
  const v1::Customer& c = **found;
  out.set_language(c.language());
  out.set_time_zone(c.time_zone());
  if (who.role == Role::kAnalyst) co_return ok_status();
  out.set_name(c.name());
  out.set_phone(c.phone());
  out.set_email(c.email());
  co_return ok_status();
}

awaitable<http::Response> get_journey(http::Context& ctx, Services& s) {
  auto who = authenticate(ctx, s);
  if (!who.ok()) co_return http::error_response(who.error());
  const std::string id = ctx.params["id"];
  if (auto ok = require_customer_access(*who, id, {Role::kAgent, Role::kAnalyst}, "read journeys");
      !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  if (auto ok = core::validate_id("id", id); !ok.ok()) co_return http::error_response(ok.error());
  auto filter = journey::parse_filter(query_of(ctx));
  if (!filter.ok()) co_return http::error_response(filter.error());
  auto page = journey::parse_page(query_of(ctx));
  if (!page.ok()) co_return http::error_response(page.error());
  auto num = co_await customer_number(s, id);
  if (!num.ok()) co_return http::error_response(num.error());
  if (!num->has_value()) {
    co_return http::error_response(make_error(ErrorCode::kNotFound, "no customer " + id));
  }
  auto read = co_await journey::read_journey(s.redis, **num, std::move(*filter), std::move(*page));
  if (!read.ok()) co_return http::error_response(read.error());
  v1::Journey out;
  auto header = co_await fill_header(s, *who, id, *out.mutable_customer());
  if (!header.ok()) co_return http::error_response(header.error());
  out.set_next_cursor(read->next_cursor);
  co_return reply_with_touchpoints(ctx, out, take_touchpoints(read->entries));
}

awaitable<http::Response> search_touchpoints(http::Context& ctx, Services& s) {
  auto who = authenticate(ctx, s);
  if (!who.ok()) co_return http::error_response(who.error());
  if (auto ok = require_role(*who, {Role::kAgent, Role::kAnalyst}, "search touchpoints"); !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  auto filter = journey::parse_filter(query_of(ctx));
  if (!filter.ok()) co_return http::error_response(filter.error());
  auto page = journey::parse_page(query_of(ctx));
  if (!page.ok()) co_return http::error_response(page.error());
  auto found = co_await journey::search(s.redis, std::move(*filter), std::move(*page));
  if (!found.ok()) co_return http::error_response(found.error());
  auto resolved = co_await journey::resolve_customers(s.redis, found->entries);
  if (!resolved.ok()) co_return http::error_response(resolved.error());
  v1::TouchpointPage out;
  out.set_next_cursor(found->next_cursor);
  co_return reply_with_touchpoints(ctx, out, take_touchpoints(found->entries));
}

}  // namespace

void add_journey_routes(http::Router& router, Services& s) {
  auto bind = [&s](auto fn) {
    return [&s, fn](http::Context& ctx) -> awaitable<http::Response> { return fn(ctx, s); };
  };
  router.add(bhttp::verb::get, "/v1/customers/{id}/journey", bind(get_journey));
  router.add(bhttp::verb::get, "/v1/touchpoints", bind(search_touchpoints));
}

}  // namespace herald::api
