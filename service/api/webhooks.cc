#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <optional>

#include "service/api/services.h"
#include "service/http/response.h"
#include "service/inbound/delivery_status.h"
#include "service/inbound/email_events.h"
#include "service/inbound/inbound_sms.h"
#include "service/inbound/keywords.h"
#include "service/inbound/signature.h"

// g++ 12 inlines Asio's recycling frame allocator into the coroutines' frame deallocation
// here (a false -Wmismatched-new-delete); the code allocates nothing itself.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Provider webhooks: no API key, each request proves itself by its provider's signature, and
// one that does not gets 403 before anything is read or written.
namespace herald::api {
namespace {

using inbound::FormParams;

constexpr std::string_view kTwilioError21610 = "21610";  // the recipient replied STOP

std::string param(const FormParams& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

http::Response forbidden(std::string message) {
  return http::error_response(make_error(ErrorCode::kPermissionDenied, std::move(message)));
}

// The form parameters of a request Twilio signed, or nullopt (answer 403).
std::optional<FormParams> twilio_params(const http::Context& ctx, const Services& s) {
  if (s.config.twilio.auth_token.empty()) return std::nullopt;
  FormParams params = inbound::parse_form(ctx.request.body());
  // Twilio signs the URL it was given: the public base plus the path and query as requested.
  const std::string url = s.config.public_url + std::string(ctx.request.target());
  if (!inbound::twilio_signature_valid(s.config.twilio.auth_token, url, params,
                                       ctx.header("X-Twilio-Signature"))) {
    return std::nullopt;
  }
  return params;
}

constexpr std::string_view kTwilioForbidden =
    "X-Twilio-Signature is missing or does not match (or HERALD_TWILIO_AUTH_TOKEN is not set)";

awaitable<http::Response> twilio_status(http::Context& ctx, Services& s) {
  auto params = twilio_params(ctx, s);
  if (!params) co_return forbidden(std::string(kTwilioForbidden));
  const auto m = ctx.query("m");
  const auto ref = m ? inbound::parse_message_id(*m) : std::nullopt;
  if (!ref) {
    co_return http::error_response(invalid("m", "expected the message id Herald sent"));
  }
  inbound::StatusUpdate u;
  u.message = *ref;
  const std::string message_status = param(*params, "MessageStatus");
  u.channel = message_status.empty() ? v1::VOICE : v1::SMS;
  u.status = message_status.empty() ? param(*params, "CallStatus") : message_status;
  u.provider_id = param(*params, u.channel == v1::SMS ? "MessageSid" : "CallSid");
  u.error_code = param(*params, "ErrorCode");
  u.at_ms = s.now_ms();
  if (u.error_code == kTwilioError21610) {
    auto stopped = co_await s.redis.exec(
        redis::batch(redis::cmd("SADD", inbound::kStopAllKey, std::to_string(ref->num))));
    if (!stopped.ok()) co_return http::error_response(stopped.error());
  }
  auto merged = co_await inbound::merge_status(s.redis, std::move(u));
  if (!merged.ok()) co_return http::error_response(merged.error());
  s.metrics.add("herald_webhook_status_total", "outcome", *merged ? "advanced" : "kept");
  co_return http::Response{bhttp::status::no_content, 11};
}

awaitable<http::Response> twilio_inbound(http::Context& ctx, Services& s) {
  auto params = twilio_params(ctx, s);
  if (!params) co_return forbidden(std::string(kTwilioForbidden));
  if (!s.catalog || !s.contacts) {
    co_return http::error_response(
        make_error(ErrorCode::kUnavailable, "inbound SMS is not set up in this process"));
  }
  inbound::InboundDeps deps{s.redis, s.customers, s.sealer, *s.catalog, *s.contacts};
  inbound::InboundSms sms;
  sms.from = param(*params, "From");
  sms.body = param(*params, "Body");
  sms.now_ms = s.now_ms();
  auto handled = co_await inbound::handle_inbound_sms(deps, std::move(sms));
  if (!handled.ok()) co_return http::error_response(handled.error());
  if (*handled == inbound::InboundResult::kUnknownNumber) {
    spdlog::info("inbound SMS {} from a number no customer has; ignored",
                 param(*params, "MessageSid"));
  }
  s.metrics.add("herald_inbound_sms_total", "outcome",
                *handled == inbound::InboundResult::kHandled ? "handled" : "unknown_number");
  // Replies go through the dispatch queue (rate limits, receipts), never inline TwiML.
  http::Response r{bhttp::status::ok, 11};
  r.set(bhttp::field::content_type, "text/xml");
  r.body() = R"(<?xml version="1.0" encoding="UTF-8"?><Response/>)";
  r.prepare_payload();
  co_return r;
}

awaitable<http::Response> sendgrid_events(http::Context& ctx, Services& s,
                                          std::optional<inbound::SendgridVerifier> v) {
  if (!v || !v->valid(ctx.header("X-Twilio-Email-Event-Webhook-Timestamp"), ctx.request.body(),
                      ctx.header("X-Twilio-Email-Event-Webhook-Signature"))) {
    co_return forbidden(
        "X-Twilio-Email-Event-Webhook-Signature is missing or does not verify (or "
        "sendgrid.verification_key is not set)");
  }
  if (!s.contacts) {
    co_return http::error_response(
        make_error(ErrorCode::kUnavailable, "email events are not set up in this process"));
  }
  auto events = inbound::parse_email_events(ctx.request.body());
  if (!events.ok()) co_return http::error_response(events.error());
  auto counts = co_await inbound::apply_email_events(s.redis, s.customers, *s.contacts,
                                                     std::move(*events), s.now_ms());
  if (!counts.ok()) co_return http::error_response(counts.error());
  co_return http::json(bhttp::status::ok,
                       fmt::format(R"({{"applied":{},"skipped":{}}})", counts->applied,
                                   counts->skipped));
}

// RFC 8058 one-click: mail clients POST "List-Unsubscribe=One-Click" to the List-Unsubscribe
// URL, which carries the customer's signed token.
awaitable<http::Response> email_unsubscribe(http::Context& ctx, Services& s) {
  const std::string& id = ctx.params["id"];
  const auto token = ctx.query("token");
  auto claims = s.tokens.verify(token.value_or(""), s.now_ms() / 1000);
  if (!claims.ok() || claims->customer_id != id) {
    co_return forbidden("the unsubscribe link is not valid for this customer (or has expired)");
  }
  auto num = co_await inbound::number_of(s.redis, id);
  if (!num.ok()) co_return http::error_response(num.error());
  if (!num->has_value()) {
    co_return http::error_response(make_error(ErrorCode::kNotFound, "no customer " + id));
  }
  auto done = co_await inbound::unsubscribe_email(s.redis, s.customers, id, **num,
                                                  "one-click unsubscribe", s.now_ms());
  if (!done.ok()) co_return http::error_response(done.error());
  co_return http::json(bhttp::status::ok, R"({"email":"unsubscribed"})");
}

}  // namespace

void add_webhook_routes(http::Router& router, Services& s) {
  std::optional<inbound::SendgridVerifier> verifier;
  if (!s.config.sendgrid_verification_key.empty()) {
    auto v = inbound::SendgridVerifier::from_key(s.config.sendgrid_verification_key);
    if (v.ok()) {
      verifier = std::move(*v);
    } else {
      spdlog::warn("{}: SendGrid event posts will get 403", v.error().message);
    }
  }
  auto bind = [&s](auto fn) {
    return [&s, fn](http::Context& ctx) -> awaitable<http::Response> { return fn(ctx, s); };
  };
  router.add(bhttp::verb::post, "/v1/webhooks/twilio/status", bind(twilio_status));
  router.add(bhttp::verb::post, "/v1/webhooks/twilio/inbound", bind(twilio_inbound));
  router.add(bhttp::verb::post, "/v1/webhooks/sendgrid/events",
             [&s, verifier](http::Context& ctx) { return sendgrid_events(ctx, s, verifier); });
  router.add(bhttp::verb::post, "/v1/customers/{id}/email-unsubscribe", bind(email_unsubscribe));
}

}  // namespace herald::api
