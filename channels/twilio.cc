#include "channels/twilio.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "channels/form.h"

namespace herald::channels {
namespace {

constexpr size_t kMaxTwiml = 4000;  // the Calls contract's limit for Twiml
constexpr std::chrono::seconds kAuthRetry{60};
constexpr std::chrono::seconds kQueueFullRetry{30};

SendResult permanent(SendResult::Failure failure, std::string code, std::string detail) {
  SendResult r;
  r.status = SendResult::Status::kPermanent;
  r.failure = failure;
  r.error_code = std::move(code);
  r.detail = std::move(detail);
  return r;
}

int parse_code(const std::string& text) {
  int code = 0;
  std::from_chars(text.data(), text.data() + text.size(), code);
  return code;
}

}  // namespace

std::string twilio_status_callback(std::string_view public_url, std::string_view message_id) {
  while (public_url.ends_with('/')) public_url.remove_suffix(1);
  return fmt::format("{}/v1/webhooks/twilio/status?m={}", public_url, percent_encode(message_id));
}

std::string twiml_say(std::string_view text, std::string_view language) {
  const char* voice_language = language.starts_with("es") ? "es-US" : "en-US";
  return fmt::format(R"(<Response><Say language="{}">{}</Say></Response>)", voice_language,
                     xml_escape(text));
}

SendResult::Failure twilio_failure(int code) {
  switch (code) {
    case 21610:  // attempt to send to an unsubscribed recipient
      return SendResult::Failure::kOptedOut;
    case 21211:  // invalid 'To' number
    case 21214:  // 'To' number cannot be reached
    case 21217:  // number does not appear to be valid
    case 21401:  // invalid phone number
    case 21407:  // number type does not support SMS
    case 21421:  // phone number is invalid
    case 21612:  // 'To' number not currently reachable via SMS
    case 21614:  // 'To' number is not a valid mobile number
      return SendResult::Failure::kInvalidContact;
    default:
      return SendResult::Failure::kRejected;
  }
}

SendResult twilio_result(const HttpReply& reply) {
  SendResult result;
  if (reply.status == 201 || reply.status == 200) {
    result.provider_id = json_member(reply.body, "sid").value_or("");
    if (result.provider_id.empty()) {
      // Accepted, but without an id the status callbacks cannot be matched: say so, still sent.
      result.detail = "accepted without a sid";
    }
    return result;
  }
  const std::string code_text = json_member(reply.body, "code").value_or("");
  const int code = parse_code(code_text);
  const std::string message = redact_numbers(json_member(reply.body, "message").value_or(""));
  if (transient_failure(reply, result)) {
    if (code != 0) result.error_code = code_text;
    if (!message.empty()) result.detail = message;
    return result;
  }
  if (reply.status == 401 || code == 20003) {
    result.status = SendResult::Status::kRetry;
    result.error_code = code != 0 ? code_text : "401";
    result.detail =
        "authentication failed: check twilio.account_sid and HERALD_TWILIO_AUTH_TOKEN";
    result.retry_after = kAuthRetry;
    return result;
  }
  if (code == 21611) {  // the sender's queue is full: Twilio asks to slow down
    result.status = SendResult::Status::kRetry;
    result.error_code = code_text;
    result.detail = message;
    result.retry_after = kQueueFullRetry;
    return result;
  }
  return permanent(twilio_failure(code), code != 0 ? code_text : std::to_string(reply.status),
                   message.empty() ? fmt::format("HTTP {}", reply.status) : message);
}

TwilioChannel::TwilioChannel(v1::Channel kind, TwilioOptions options,
                             std::shared_ptr<HttpEngine> engine)
    : kind_(kind), options_(std::move(options)), engine_(std::move(engine)) {
  std::string_view base = options_.base_url;
  while (base.ends_with('/')) base.remove_suffix(1);
  endpoint_ = fmt::format("{}/2010-04-01/Accounts/{}/{}", base, percent_encode(options_.account_sid),
                          kind_ == v1::VOICE ? "Calls.json" : "Messages.json");
}

std::string TwilioChannel::budget_key() const {
  if (kind_ == v1::VOICE) return fmt::format("twilio:{}:voice:{}", options_.account_sid, options_.voice_from);
  const std::string& sender =
      options_.sms_from.empty() ? options_.messaging_service_sid : options_.sms_from;
  return fmt::format("twilio:{}:sms:{}", options_.account_sid, sender);
}

HttpRequest TwilioChannel::request(const v1::OutboundMessage& msg,
                                   const v1::MessageContent& content) const {
  HttpRequest req;
  req.url = endpoint_;
  req.basic_auth = options_.account_sid + ":" + options_.auth_token;
  req.headers.emplace_back("Content-Type: application/x-www-form-urlencoded");
  req.headers.emplace_back("Accept: application/json");
  const std::string callback = twilio_status_callback(options_.public_url, msg.id());
  if (kind_ == v1::VOICE) {
    const std::string twiml = twiml_say(content.voice(), msg.language());
    req.body = form_encode({{"To", content.to()},
                            {"From", options_.voice_from},
                            {"Twiml", twiml},
                            {"StatusCallback", callback}});
  } else {
    req.body = form_encode({{"To", content.to()},
                            {"From", options_.sms_from},
                            {"MessagingServiceSid", options_.messaging_service_sid},
                            {"Body", content.sms()},
                            {"StatusCallback", callback}});
  }
  return req;
}

bool TwilioChannel::refuse(const v1::OutboundMessage& msg, const v1::MessageContent& content,
                           SendResult& result) const {
  if (msg.channel() != kind_) {
    result = permanent(SendResult::Failure::kRejected, "wrong_channel",
                       fmt::format("message {} is for {}, this channel sends {}", msg.id(),
                                   channel_key(msg.channel()), channel_key(kind_)));
    return true;
  }
  if (content.to().empty()) {
    result = permanent(SendResult::Failure::kInvalidContact, "no_contact",
                       fmt::format("message {} has no phone number", msg.id()));
    return true;
  }
  const bool voice = kind_ == v1::VOICE;
  if (voice ? content.voice().empty() : content.sms().empty()) {
    result = permanent(SendResult::Failure::kRejected, "empty_content",
                       fmt::format("message {} has no {} text", msg.id(), channel_key(kind_)));
    return true;
  }
  if (voice && twiml_say(content.voice(), msg.language()).size() > kMaxTwiml) {
    result = permanent(SendResult::Failure::kRejected, "twiml_too_long",
                       fmt::format("message {}: TwiML over {} characters", msg.id(), kMaxTwiml));
    return true;
  }
  return false;
}

SendResult TwilioChannel::send(const v1::OutboundMessage& msg,
                               const v1::MessageContent& content) {
  Outgoing one{&msg, &content};
  return send_batch(std::span<const Outgoing>(&one, 1)).front();
}

std::vector<SendResult> TwilioChannel::send_batch(std::span<const Outgoing> batch) {
  std::vector<SendResult> results(batch.size());
  std::vector<HttpRequest> requests;
  std::vector<size_t> index;  // requests[k] is for batch[index[k]]
  requests.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (refuse(*batch[i].msg, *batch[i].content, results[i])) continue;
    requests.push_back(request(*batch[i].msg, *batch[i].content));
    index.push_back(i);
  }
  std::vector<HttpReply> replies;
  if (!requests.empty()) replies = engine_->perform(std::move(requests));
  bool auth_failed = false;
  for (size_t k = 0; k < replies.size(); ++k) {
    results[index[k]] = twilio_result(replies[k]);
    auth_failed = auth_failed || replies[k].status == 401;
  }
  if (auth_failed) {
    spdlog::error("twilio {}: authentication failed: check twilio.account_sid and "
                  "HERALD_TWILIO_AUTH_TOKEN; messages are retried",
                  channel_key(kind_));
  }
  return results;
}

}  // namespace herald::channels
