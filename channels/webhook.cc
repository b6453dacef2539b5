#include "channels/webhook.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>

#include "channels/form.h"
#include "service/common/json_string.h"

namespace herald::channels {
namespace {

using google::protobuf::util::TimeUtil;

void member(std::string& out, std::string_view name, std::string_view value) {
  out += out.size() > 1 ? "," : "";
  append_json_string(out, name);
  out += ':';
  append_json_string(out, value);
}

void member_if(std::string& out, std::string_view name, std::string_view value) {
  if (!value.empty()) member(out, name, value);
}

}  // namespace

std::string webhook_body(const v1::OutboundMessage& msg, const v1::MessageContent& content) {
  std::string out = "{";
  member(out, "id", msg.id());
  member(out, "customerId", msg.customer_id());
  member(out, "eventId", msg.event_id());
  out += fmt::format(",\"revision\":{}", msg.revision());
  member(out, "channel", v1::Channel_Name(msg.channel()));
  member(out, "priority", v1::Priority_Name(msg.priority()));
  member(out, "language", msg.language());
  member_if(out, "to", content.to());
  member_if(out, "sms", content.sms());
  member_if(out, "subject", content.subject());
  member_if(out, "text", content.text());
  member_if(out, "html", content.html());
  member_if(out, "voice", content.voice());
  if (msg.has_queued_at()) member(out, "queuedAt", TimeUtil::ToString(msg.queued_at()));
  if (msg.has_valid_until()) member(out, "validUntil", TimeUtil::ToString(msg.valid_until()));
  out += '}';
  return out;
}

std::string webhook_signature(std::string_view secret, std::string_view timestamp,
                              std::string_view body) {
  std::string signed_text;
  signed_text.reserve(timestamp.size() + 1 + body.size());
  signed_text.append(timestamp).append(".").append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac, &len);
  std::string out = "sha256=";
  constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 0x0F];
  }
  return out;
}

SendResult webhook_result(const HttpReply& reply, std::string_view message_id) {
  SendResult result;
  if (reply.status >= 200 && reply.status < 300) {
    result.provider_id = json_member(reply.body, "id").value_or(std::string(message_id));
    return result;
  }
  if (transient_failure(reply, result)) return result;
  result.status = SendResult::Status::kPermanent;
  result.failure = SendResult::Failure::kRejected;
  result.error_code = std::to_string(reply.status);
  result.detail = fmt::format("HTTP {}: {}", reply.status,
                              redact_numbers(std::string_view(reply.body).substr(0, 200)));
  return result;
}

std::string url_host(const std::string& url) {
  std::string host;
  CURLU* u = curl_url();
  if (u == nullptr) return host;
  char* part = nullptr;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &part, 0) == CURLUE_OK) {
    host = part;
    curl_free(part);
  }
  curl_url_cleanup(u);
  return host;
}

WebhookChannel::WebhookChannel(WebhookOptions options, std::shared_ptr<HttpEngine> engine)
    : options_(std::move(options)), engine_(std::move(engine)), host_(url_host(options_.url)) {}

HttpRequest WebhookChannel::request(const v1::OutboundMessage& msg,
                                    const v1::MessageContent& content,
                                    int64_t unix_seconds) const {
  HttpRequest req;
  req.url = options_.url;
  req.body = webhook_body(msg, content);
  const std::string timestamp = std::to_string(unix_seconds);
  req.headers.emplace_back("Content-Type: application/json");
  req.headers.emplace_back("X-Herald-Timestamp: " + timestamp);
  req.headers.emplace_back("X-Herald-Signature: " +
                           webhook_signature(options_.secret, timestamp, req.body));
  return req;
}

SendResult WebhookChannel::send(const v1::OutboundMessage& msg,
                                const v1::MessageContent& content) {
  Outgoing one{&msg, &content};
  return send_batch(std::span<const Outgoing>(&one, 1)).front();
}

std::vector<SendResult> WebhookChannel::send_batch(std::span<const Outgoing> batch) {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::vector<HttpRequest> requests;
  requests.reserve(batch.size());
  for (const auto& out : batch) requests.push_back(request(*out.msg, *out.content, now));
  std::vector<HttpReply> replies = engine_->perform(std::move(requests));
  std::vector<SendResult> results;
  results.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    results.push_back(webhook_result(replies[i], batch[i].msg->id()));
  }
  return results;
}

}  // namespace herald::channels
