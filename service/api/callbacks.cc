#include <google/protobuf/util/time_util.h>

#include <charconv>
#include <memory>

#include "herald/v1/callback.pb.h"
#include "service/api/access.h"
#include "service/api/json.h"
#include "service/api/services.h"
#include "service/callbacks/desk.h"
#include "service/core/validate.h"
#include "service/http/response.h"

namespace herald::api {
namespace {

using callbacks::Desk;
using core::Role;
using google::protobuf::util::TimeUtil;

constexpr size_t kMaxReason = 500;
constexpr size_t kMaxListLimit = 200;

using DeskPtr = std::shared_ptr<Desk>;

Status staff(const http::Context& ctx, Services& s, std::initializer_list<Role> roles,
             std::string_view action) {
  auto who = authenticate(ctx, s);
  if (!who.ok()) return std::move(who).take_error();
  return require_role(*who, roles, action);
}

// An RFC 3339 query parameter in milliseconds, or `fallback` when absent.
Result<int64_t> time_param(const http::Context& ctx, const char* name, int64_t fallback) {
  auto text = ctx.query(name);
  if (!text) return fallback;
  google::protobuf::Timestamp t;
  if (!TimeUtil::FromString(*text, &t)) {
    return invalid(name, std::string(name) + " must be an RFC 3339 time such as "
                                             "2026-11-23T18:00:00Z");
  }
  return TimeUtil::TimestampToMilliseconds(t);
}

Result<size_t> count_param(const http::Context& ctx, const char* name, size_t fallback,
                           size_t max) {
  auto text = ctx.query(name);
  if (!text) return fallback;
  size_t v = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (text->empty() || ec != std::errc() || end != text->data() + text->size() || v > max) {
    return invalid(name, std::string(name) + " must be a whole number from 0 to " +
                             std::to_string(max));
  }
  return v;
}

http::Response answer(const http::Context& ctx, bhttp::status status, const v1::Callback& c) {
  return reply(ctx, status, callbacks::public_view(c));
}

awaitable<http::Response> put_capacity(http::Context& ctx, Services& s, DeskPtr desk) {
  if (auto ok = staff(ctx, s, {Role::kAgent}, "publish callback capacity"); !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  v1::CallbackCapacity body;
  if (auto ok = parse_body(ctx, body); !ok.ok()) co_return http::error_response(ok.error());
  auto out = co_await desk->put_capacity(std::move(body));
  if (!out.ok()) co_return http::error_response(out.error());
  co_return reply(ctx, bhttp::status::ok, *out);
}

awaitable<http::Response> get_capacity(http::Context& ctx, Services& s, DeskPtr desk) {
  if (auto ok = staff(ctx, s, {Role::kAgent}, "read callback capacity"); !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  const int64_t now = s.now_ms();
  auto from = time_param(ctx, "from", now);
  if (!from.ok()) co_return http::error_response(from.error());
  auto to = time_param(ctx, "to", *from + int64_t{s.config.callback_horizon_days} * 86'400'000);
  if (!to.ok()) co_return http::error_response(to.error());
  auto out = co_await desk->capacity(*from / 1000, *to / 1000);
  if (!out.ok()) co_return http::error_response(out.error());
  co_return reply(ctx, bhttp::status::ok, *out);
}

awaitable<http::Response> post_callback(http::Context& ctx, Services& s, DeskPtr desk) {
  auto who = authenticate(ctx, s);
  if (!who.ok()) co_return http::error_response(who.error());
  v1::CallbackRequest req;
  if (auto ok = parse_body(ctx, req); !ok.ok()) co_return http::error_response(ok.error());
  const bool customer = who->role == Role::kCustomer;
  if (customer && req.customer_id().empty()) req.set_customer_id(who->customer_id);
  if (auto ok = require_customer_access(*who, req.customer_id(), {Role::kAgent},
                                        "request callbacks");
      !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  if (auto ok = core::validate_id("customerId", req.customer_id()); !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  if (req.reason().empty() || req.reason().size() > kMaxReason) {
    co_return http::error_response(invalid("reason", "reason is required, at most 500 characters"));
  }
  if (!req.event_id().empty()) {
    if (auto ok = core::validate_id("eventId", req.event_id()); !ok.ok()) {
      co_return http::error_response(ok.error());
    }
  } else if (req.when_restored()) {
    co_return http::error_response(
        invalid("whenRestored", "whenRestored needs the eventId of the outage"));
  }
  auto booked = co_await desk->request(std::move(req), customer ? "customer" : "api");
  if (!booked.ok()) co_return http::error_response(booked.error());
  s.metrics.add("herald_callback_requests_total", "outcome",
                booked->existing ? "existing"
                : booked->callback.status() == v1::Callback::BOOKED ? "booked"
                                                                     : "waiting");
  co_return answer(ctx, booked->existing ? bhttp::status::ok : bhttp::status::created,
                   booked->callback);
}

// The callback of the path, if the caller may see it: staff, or the customer it belongs to.
awaitable<Result<v1::Callback>> reachable(http::Context& ctx, Services& s, DeskPtr desk,
                                          std::string action) {
  auto who = authenticate(ctx, s);
  if (!who.ok()) co_return std::move(who).take_error();
  if (who->role != Role::kCustomer) {
    if (auto ok = require_role(*who, {Role::kAgent}, action); !ok.ok()) {
      co_return std::move(ok).take_error();
    }
  }
  const std::string& id = ctx.params["id"];
  if (auto ok = core::validate_id("id", id); !ok.ok()) co_return std::move(ok).take_error();
  auto found = co_await desk->get(id);
  if (!found.ok()) co_return std::move(found).take_error();
  if (!found->has_value()) co_return make_error(ErrorCode::kNotFound, "no callback " + id);
  if (who->role == Role::kCustomer && (*found)->customer_id() != who->customer_id) {
    co_return make_error(ErrorCode::kPermissionDenied,
                         "a customer token reaches only its own customer");
  }
  co_return std::move(**found);
}

awaitable<http::Response> get_callback(http::Context& ctx, Services& s, DeskPtr desk) {
  auto found = co_await reachable(ctx, s, desk, "read callbacks");
  if (!found.ok()) co_return http::error_response(found.error());
  co_return answer(ctx, bhttp::status::ok, *found);
}

awaitable<http::Response> cancel_callback(http::Context& ctx, Services& s, DeskPtr desk) {
  auto found = co_await reachable(ctx, s, desk, "cancel callbacks");
  if (!found.ok()) co_return http::error_response(found.error());
  auto canceled = co_await desk->cancel(found->id());
  if (!canceled.ok()) co_return http::error_response(canceled.error());
  co_return answer(ctx, bhttp::status::ok, *canceled);
}

awaitable<http::Response> post_outcome(http::Context& ctx, Services& s, DeskPtr desk) {
  if (auto ok = staff(ctx, s, {Role::kAgent}, "record callback outcomes"); !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  const std::string& id = ctx.params["id"];
  if (auto ok = core::validate_id("id", id); !ok.ok()) co_return http::error_response(ok.error());
  v1::CallbackOutcome body;
  if (auto ok = parse_body(ctx, body); !ok.ok()) co_return http::error_response(ok.error());
  auto out = co_await desk->record_outcome(id, std::move(body));
  if (!out.ok()) co_return http::error_response(out.error());
  *out->mutable_callback() = callbacks::public_view(out->callback());
  if (out->has_rescheduled()) *out->mutable_rescheduled() = callbacks::public_view(out->rescheduled());
  co_return reply(ctx, bhttp::status::ok, *out);
}

awaitable<http::Response> list_callbacks(http::Context& ctx, Services& s, DeskPtr desk) {
  if (auto ok = staff(ctx, s, {Role::kAgent}, "list callbacks"); !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  callbacks::ListQuery q;
  if (auto status = ctx.query("status")) {
    v1::Callback::Status parsed;
    if (!v1::Callback::Status_Parse(*status, &parsed) ||
        parsed == v1::Callback::STATUS_UNSPECIFIED) {
      co_return http::error_response(
          invalid("status", "status must be one of REQUESTED, BOOKED, COMPLETED, NO_ANSWER, "
                            "RESCHEDULED, CANCELED"));
    }
    q.status = parsed;
  }
  auto from = time_param(ctx, "from", 0);
  if (!from.ok()) co_return http::error_response(from.error());
  auto to = time_param(ctx, "to", INT64_MAX);
  if (!to.ok()) co_return http::error_response(to.error());
  auto limit = count_param(ctx, "limit", 50, kMaxListLimit);
  if (!limit.ok()) co_return http::error_response(limit.error());
  auto offset = count_param(ctx, "pageToken", 0, SIZE_MAX / 2);
  if (!offset.ok()) co_return http::error_response(offset.error());
  if (*limit == 0) co_return http::error_response(invalid("limit", "limit must be at least 1"));
  q.from_ms = *from;
  q.to_ms = *to;
  q.limit = *limit;
  q.offset = *offset;
  auto out = co_await desk->list(q);
  if (!out.ok()) co_return http::error_response(out.error());
  co_return reply(ctx, bhttp::status::ok, *out);
}

awaitable<http::Response> report(http::Context& ctx, Services& s, DeskPtr desk) {
  if (auto ok = staff(ctx, s, {Role::kAgent, Role::kAnalyst}, "read callback reports"); !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  const int64_t now = s.now_ms();
  auto until = time_param(ctx, "until", now);
  if (!until.ok()) co_return http::error_response(until.error());
  auto since = time_param(ctx, "since", *until - 30LL * 86'400'000);
  if (!since.ok()) co_return http::error_response(since.error());
  if (*since >= *until) {
    co_return http::error_response(invalid("since", "since must be before until"));
  }
  auto out = co_await desk->summary(*since, *until);
  if (!out.ok()) co_return http::error_response(out.error());
  co_return reply(ctx, bhttp::status::ok, *out);
}

}  // namespace

void add_callback_routes(http::Router& router, Services& s) {
  callbacks::DeskOptions options;
  options.horizon_days = s.config.callback_horizon_days;
  auto desk = std::make_shared<Desk>(s.redis, s.customers, options, s.now_ms);
  auto bind = [&s, desk](auto fn) {
    return [&s, desk, fn](http::Context& ctx) -> awaitable<http::Response> {
      return fn(ctx, s, desk);
    };
  };
  router.add(bhttp::verb::put, "/v1/callback-capacity", bind(put_capacity));
  router.add(bhttp::verb::get, "/v1/callback-capacity", bind(get_capacity));
  router.add(bhttp::verb::post, "/v1/callbacks", bind(post_callback));
  router.add(bhttp::verb::get, "/v1/callbacks", bind(list_callbacks));
  router.add(bhttp::verb::get, "/v1/callbacks/{id}", bind(get_callback));
  router.add(bhttp::verb::delete_, "/v1/callbacks/{id}", bind(cancel_callback));
  router.add(bhttp::verb::post, "/v1/callbacks/{id}/cancel", bind(cancel_callback));
  router.add(bhttp::verb::post, "/v1/callbacks/{id}/outcome", bind(post_outcome));
  router.add(bhttp::verb::get, "/v1/reports/callbacks", bind(report));
}

}  // namespace herald::api
