#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "channels/channel.h"
#include "channels/http_engine.h"

namespace herald::channels {

struct WebhookOptions {
  std::string url;     // the CRM / CCM endpoint
  std::string secret;  // HERALD_WEBHOOK_SECRET: the HMAC-SHA256 key
};

// Hands each message to the utility's own system as signed JSON (docs/architecture.md,
// "Delivery: channels", documents the body and how a receiver verifies the signature).
class WebhookChannel : public Channel {
 public:
  WebhookChannel(WebhookOptions options, std::shared_ptr<HttpEngine> engine);

  v1::Channel kind() const override { return v1::WEBHOOK; }
  SendResult send(const v1::OutboundMessage& msg, const v1::MessageContent& content) override;
  std::vector<SendResult> send_batch(std::span<const Outgoing> batch) override;
  std::string budget_key() const override { return "webhook:" + host_; }

  // The signed request for one message at `unix_seconds`.
  HttpRequest request(const v1::OutboundMessage& msg, const v1::MessageContent& content,
                      int64_t unix_seconds) const;

 private:
  WebhookOptions options_;
  std::shared_ptr<HttpEngine> engine_;
  std::string host_;
};

// The JSON document for one message (no newline).
std::string webhook_body(const v1::OutboundMessage& msg, const v1::MessageContent& content);

// "sha256=" + lower-case hex HMAC-SHA256(secret, timestamp + "." + body): the value of
// X-Herald-Signature, with X-Herald-Timestamp carrying `timestamp`.
std::string webhook_signature(std::string_view secret, std::string_view timestamp,
                              std::string_view body);

// 2xx sent, 429 and 5xx retried, any other status a permanent rejection.
SendResult webhook_result(const HttpReply& reply, std::string_view message_id);

// The host of an http(s) URL ("" when it does not parse).
std::string url_host(const std::string& url);

}  // namespace herald::channels
