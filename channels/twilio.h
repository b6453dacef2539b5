#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "channels/channel.h"
#include "channels/http_engine.h"

namespace herald::channels {

struct TwilioOptions {
  std::string base_url = "https://api.twilio.com";  // a Twilio-compatible API, or a test peer
  std::string account_sid;                          // AC…
  std::string auth_token;                           // HERALD_TWILIO_AUTH_TOKEN
  std::string sms_from;                             // E.164 sender for SMS, or empty
  std::string messaging_service_sid;                // MG…, or empty (one of the two is needed)
  std::string voice_from;                           // E.164 caller id for voice
  std::string public_url;  // heraldd's public base URL, for StatusCallback
};

// SMS through Twilio's Messages API or voice through its Calls API (one instance per channel),
// every message of a batch on the shared HttpEngine at once. See docs/architecture.md,
// "Delivery: channels", for the request, StatusCallback and error mapping.
class TwilioChannel : public Channel {
 public:
  // kind is v1::SMS or v1::VOICE.
  TwilioChannel(v1::Channel kind, TwilioOptions options, std::shared_ptr<HttpEngine> engine);

  v1::Channel kind() const override { return kind_; }
  SendResult send(const v1::OutboundMessage& msg, const v1::MessageContent& content) override;
  std::vector<SendResult> send_batch(std::span<const Outgoing> batch) override;
  std::string budget_key() const override;

  // The request send_batch() submits for one message.
  HttpRequest request(const v1::OutboundMessage& msg, const v1::MessageContent& content) const;

 private:
  bool refuse(const v1::OutboundMessage& msg, const v1::MessageContent& content,
              SendResult& result) const;

  v1::Channel kind_;
  TwilioOptions options_;
  std::shared_ptr<HttpEngine> engine_;
  std::string endpoint_;  // …/Messages.json or …/Calls.json
};

// `{public_url}/v1/webhooks/twilio/status?m=<percent-encoded message id>`, the URL Twilio
// calls and signs; the status route verifies X-Twilio-Signature over exactly this.
std::string twilio_status_callback(std::string_view public_url, std::string_view message_id);

// <Response><Say language="en-US">…</Say></Response>, the text XML-escaped; "es…" languages
// speak es-US, everything else en-US.
std::string twiml_say(std::string_view text, std::string_view language);

// What a Twilio error code means for the message.
SendResult::Failure twilio_failure(int code);

// Maps Twilio's reply (201 body or error body) to a SendResult; detail carries no phone number.
SendResult twilio_result(const HttpReply& reply);

}  // namespace herald::channels
