#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/time_util.h>

#include "service/api/access.h"
#include "service/api/customer_json.h"
#include "service/api/json.h"
#include "service/api/preferences_patch.h"
#include "service/api/services.h"
#include "service/core/validate.h"
#include "service/http/response.h"
#include "service/journey/record.h"

namespace herald::api {
namespace {

using core::Role;
using google::protobuf::util::TimeUtil;

// Runs the usual prologue: who is calling, may they touch this customer, is the id sane.
Result<core::Principal> admit(http::Context& ctx, Services& s, std::initializer_list<Role> roles,
                              std::string_view action) {
  auto who = authenticate(ctx, s);
  if (!who.ok()) return who;
  const std::string& id = ctx.params["id"];
  if (auto ok = require_customer_access(*who, id, roles, action); !ok.ok()) {
    return std::move(ok).take_error();
  }
  if (auto ok = core::validate_id("id", id); !ok.ok()) return std::move(ok).take_error();
  return who;
}

awaitable<http::Response> put_customer(http::Context& ctx, Services& s) {
  auto who = admit(ctx, s, {}, "write customer profiles");
  if (!who.ok()) co_return http::error_response(who.error());
  v1::Customer customer;
  if (auto ok = parse_body(ctx, customer); !ok.ok()) co_return http::error_response(ok.error());
  const std::string& id = ctx.params["id"];
  if (auto ok = core::validate_customer(customer, id, s.config.default_region); !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  customer.set_id(id);
  const int64_t now = s.now_ms();
  auto put = co_await s.customers.put(customer, now);
  if (!put.ok()) co_return http::error_response(put.error());
  *customer.mutable_created_at() = TimeUtil::MillisecondsToTimestamp(put->created_ms);
  *customer.mutable_updated_at() = TimeUtil::MillisecondsToTimestamp(now);
  s.metrics.add("herald_customers_written_total", "outcome", put->created ? "created" : "updated");
  co_return reply(ctx, put->created ? bhttp::status::created : bhttp::status::ok, customer);
}

awaitable<http::Response> get_customer(http::Context& ctx, Services& s) {
  auto who = admit(ctx, s, {Role::kAgent}, "read customer profiles");
  if (!who.ok()) co_return http::error_response(who.error());
  auto found = co_await s.customers.get(ctx.params["id"]);
  if (!found.ok()) co_return http::error_response(found.error());
  if (!found->has_value()) {
    co_return http::error_response(
        make_error(ErrorCode::kNotFound, "no customer " + ctx.params["id"]));
  }
  co_return reply(ctx, bhttp::status::ok, **found);
}

awaitable<http::Response> delete_customer(http::Context& ctx, Services& s) {
  auto who = admit(ctx, s, {}, "erase customers");
  if (!who.ok()) co_return http::error_response(who.error());
  if (who->role == Role::kCustomer) {
    co_return http::error_response(
        make_error(ErrorCode::kPermissionDenied, "erasure is done by the utility on request"));
  }
  auto erased = co_await s.customers.erase(ctx.params["id"]);
  if (!erased.ok()) co_return http::error_response(erased.error());
  if (!*erased) {
    co_return http::error_response(
        make_error(ErrorCode::kNotFound, "no customer " + ctx.params["id"]));
  }
  co_return http::Response{bhttp::status::no_content, 11};
}

awaitable<http::Response> patch_preferences(http::Context& ctx, Services& s) {
  auto who = admit(ctx, s, {}, "change preferences");
  if (!who.ok()) co_return http::error_response(who.error());
  auto patch = PreferencesPatch::parse(ctx);
  if (!patch.ok()) co_return http::error_response(patch.error());
  // The journey's PREFERENCE_CHANGE touchpoint is written with the change, atomically.
  const int64_t now = s.now_ms();
  const std::string by = who->role == Role::kCustomer ? "customer" : "admin";
  auto updated = co_await s.customers.update(
      ctx.params["id"],
      [&patch](v1::Customer& c) -> Status {
        patch->apply(*c.mutable_preferences());
        return core::validate_preference_change(c);
      },
      now,
      [&by, now](const v1::Customer& c, uint64_t num) {
        redis::Batch writes;
        journey::append_preference_change(writes, num, preferences_to_json(c.preferences()), by,
                                          now);
        return writes;
      });
  if (!updated.ok()) co_return http::error_response(updated.error());
  co_return reply(ctx, bhttp::status::ok, updated->customer.preferences());
}

awaitable<http::Response> mint_token(http::Context& ctx, Services& s) {
  auto who = admit(ctx, s, {}, "mint customer tokens");
  if (!who.ok()) co_return http::error_response(who.error());
  if (who->role == Role::kCustomer) {
    co_return http::error_response(
        make_error(ErrorCode::kPermissionDenied, "customers cannot mint tokens"));
  }
  auto found = co_await s.customers.get(ctx.params["id"]);
  if (!found.ok()) co_return http::error_response(found.error());
  if (!found->has_value()) {
    co_return http::error_response(
        make_error(ErrorCode::kNotFound, "no customer " + ctx.params["id"]));
  }
  const int64_t expires = s.now_ms() / 1000 + s.config.token_ttl_s;
  v1::CustomerToken token;
  token.set_token(s.tokens.mint(ctx.params["id"], expires));
  *token.mutable_expires_at() = TimeUtil::SecondsToTimestamp(expires);
  co_return reply(ctx, bhttp::status::created, token);
}

}  // namespace

void add_customer_routes(http::Router& router, Services& s) {
  auto bind = [&s](auto fn) {
    return [&s, fn](http::Context& ctx) -> awaitable<http::Response> { return fn(ctx, s); };
  };
  router.add(bhttp::verb::put, "/v1/customers/{id}", bind(put_customer));
  router.add(bhttp::verb::get, "/v1/customers/{id}", bind(get_customer));
  router.add(bhttp::verb::delete_, "/v1/customers/{id}", bind(delete_customer));
  router.add(bhttp::verb::patch, "/v1/customers/{id}/preferences", bind(patch_preferences));
  router.add(bhttp::verb::post, "/v1/customers/{id}/token", bind(mint_token));
}

}  // namespace herald::api
