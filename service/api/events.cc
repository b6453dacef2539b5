#include <cstdlib>

#include "herald/v1/event_api.pb.h"
#include "service/api/access.h"
#include "service/api/json.h"
#include "service/api/services.h"
#include "service/core/crypto.h"
#include "service/core/validate.h"
#include "service/dispatch/queue.h"
#include "service/events/event_store.h"
#include "service/events/validate_event.h"
#include "service/http/response.h"

namespace herald::api {
namespace {

using core::Role;

constexpr size_t kMaxIdempotencyKey = 128;
constexpr int kDefaultListLimit = 100;
constexpr int kMaxListLimit = 1000;

// Optional header: empty when absent; otherwise 1..128 printable ASCII characters.
Result<std::string> idempotency_key(const http::Context& ctx) {
  std::string_view key = ctx.header("Idempotency-Key");
  bool printable = true;
  for (unsigned char c : key) printable = printable && c >= 0x20 && c < 0x7f;
  if (key.size() > kMaxIdempotencyKey || !printable) {
    return invalid("Idempotency-Key", "Idempotency-Key must be 1 to 128 printable characters");
  }
  return std::string(key);
}

// The target and the parsed body: the same JSON with other spacing or key order is the same
// request, and one key cannot stand for requests to two different events.
std::string request_hash(const http::Context& ctx, const google::protobuf::Message& body) {
  std::string canonical(ctx.request.target());
  canonical += '\n';
  canonical += body.SerializeAsString();
  return core::sha256_hex(canonical);
}

Status admit(const http::Context& ctx, Services& s, std::initializer_list<Role> roles,
             std::string_view action) {
  auto who = authenticate(ctx, s);
  if (!who.ok()) return std::move(who).take_error();
  return require_role(*who, roles, action);
}

http::Response accepted(const http::Context& ctx, Services& s, const events::Acceptance& a) {
  s.metrics.add("herald_event_revisions_total", "outcome", a.replayed ? "replayed" : "accepted");
  auto response = reply(ctx, bhttp::status::accepted, a.accepted);
  if (a.replayed) response.set("Idempotent-Replayed", "true");
  return response;
}

awaitable<http::Response> post_event(http::Context& ctx, Services& s) {
  if (auto ok = admit(ctx, s, {Role::kOperator}, "raise events"); !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  auto key = idempotency_key(ctx);
  if (!key.ok()) co_return http::error_response(key.error());
  v1::Event event;
  if (auto ok = parse_body(ctx, event); !ok.ok()) co_return http::error_response(ok.error());
  std::string hash = request_hash(ctx, event);
  if (auto ok = events::validate_new_event(event); !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  auto a = co_await s.events.create(std::move(event), std::move(*key), std::move(hash), s.now_ms());
  if (!a.ok()) co_return http::error_response(a.error());
  co_return accepted(ctx, s, *a);
}

awaitable<http::Response> post_update(http::Context& ctx, Services& s) {
  if (auto ok = admit(ctx, s, {Role::kOperator}, "update events"); !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  const std::string& id = ctx.params["id"];
  if (auto ok = core::validate_id("id", id); !ok.ok()) co_return http::error_response(ok.error());
  auto key = idempotency_key(ctx);
  if (!key.ok()) co_return http::error_response(key.error());
  v1::EventUpdate update;
  if (auto ok = parse_body(ctx, update); !ok.ok()) co_return http::error_response(ok.error());
  std::string hash = request_hash(ctx, update);
  if (auto ok = events::validate_update(update); !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  auto a =
      co_await s.events.update(id, std::move(update), std::move(*key), std::move(hash), s.now_ms());
  if (!a.ok()) co_return http::error_response(a.error());
  co_return accepted(ctx, s, *a);
}

awaitable<http::Response> get_event(http::Context& ctx, Services& s) {
  if (auto ok = admit(ctx, s, {Role::kOperator, Role::kAgent, Role::kAnalyst}, "read events");
      !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  const std::string& id = ctx.params["id"];
  if (auto ok = core::validate_id("id", id); !ok.ok()) co_return http::error_response(ok.error());
  auto found = co_await s.events.get(id);
  if (!found.ok()) co_return http::error_response(found.error());
  if (!found->has_value()) {
    co_return http::error_response(make_error(ErrorCode::kNotFound, "no event " + id));
  }
  v1::EventView view;
  *view.mutable_state() = std::move((*found)->state);
  for (auto& r : (*found)->revisions) *view.add_revisions() = std::move(r);
  auto funnel =
      co_await s.redis.exec(redis::batch(redis::cmd("HGETALL", dispatch::funnel_key(id))));
  if (!funnel.ok()) co_return http::error_response(funnel.error());
  const auto& fields = funnel->front().elements;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    (*view.mutable_funnel())[fields[i].str] = std::atoll(fields[i + 1].str.c_str());
  }
  co_return reply(ctx, bhttp::status::ok, view);
}

Result<int> list_limit(const http::Context& ctx) {
  auto text = ctx.query("limit");
  if (!text) return kDefaultListLimit;
  int limit = 0;
  for (char c : *text) {
    if (c < '0' || c > '9' || limit > kMaxListLimit) {
      limit = -1;
      break;
    }
    limit = limit * 10 + (c - '0');
  }
  if (limit < 1 || limit > kMaxListLimit) {
    return invalid("limit", "limit must be a whole number from 1 to 1000");
  }
  return limit;
}

awaitable<http::Response> list_events(http::Context& ctx, Services& s) {
  if (auto ok = admit(ctx, s, {Role::kOperator, Role::kAgent, Role::kAnalyst}, "read events");
      !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  if (auto status = ctx.query("status"); status && *status != "active") {
    co_return http::error_response(
        invalid("status", "status must be 'active' (the only listing kept)"));
  }
  auto limit = list_limit(ctx);
  if (!limit.ok()) co_return http::error_response(limit.error());
  auto active = co_await s.events.list_active(*limit);
  if (!active.ok()) co_return http::error_response(active.error());
  v1::EventList list;
  for (auto& e : *active) *list.add_events() = std::move(e);
  co_return reply(ctx, bhttp::status::ok, list);
}

}  // namespace

void add_event_routes(http::Router& router, Services& s) {
  auto bind = [&s](auto fn) {
    return [&s, fn](http::Context& ctx) -> awaitable<http::Response> { return fn(ctx, s); };
  };
  router.add(bhttp::verb::post, "/v1/events", bind(post_event));
  router.add(bhttp::verb::post, "/v1/events/{id}/updates", bind(post_update));
  router.add(bhttp::verb::get, "/v1/events/{id}", bind(get_event));
  router.add(bhttp::verb::get, "/v1/events", bind(list_events));
}

}  // namespace herald::api
