#include "service/daemon/outlets.h"

#include <spdlog/spdlog.h>

#include <functional>

#include "channels/http_engine.h"
#include "channels/sandbox.h"
#include "channels/smtp.h"
#include "channels/twilio.h"
#include "channels/webhook.h"

namespace herald {
namespace {

using channels::Channel;
using channels::HttpEngine;
using EngineFactory = std::function<std::shared_ptr<HttpEngine>()>;

std::shared_ptr<HttpEngine> engine(long max_connections, size_t max_in_flight, int timeout_ms,
                                   int threads = 1) {
  channels::HttpEngineOptions options;
  options.threads = threads;
  options.max_connections = max_connections;
  options.max_in_flight = max_in_flight;
  options.timeout = std::chrono::milliseconds(timeout_ms);
  options.connect_timeout = std::min(options.connect_timeout, options.timeout);
  return std::make_shared<HttpEngine>(options);
}

channels::TwilioOptions twilio_options(const core::Config& config) {
  channels::TwilioOptions o;
  o.base_url = config.twilio.base_url;
  o.account_sid = config.twilio.account_sid;
  o.auth_token = config.twilio.auth_token;
  o.sms_from = config.twilio.sms_from;
  o.messaging_service_sid = config.twilio.messaging_service_sid;
  o.voice_from = config.twilio.voice_from;
  o.public_url = config.public_url;
  return o;
}

channels::SmtpOptions smtp_options(const core::SmtpSettings& smtp) {
  channels::SmtpOptions o;
  o.url = smtp.url;
  o.from = smtp.from;
  o.from_name = smtp.from_name;
  o.username = smtp.username;
  o.password = smtp.password;
  o.starttls = smtp.starttls;
  o.connections = smtp.connections;
  o.timeout = std::chrono::milliseconds(smtp.timeout_ms);
  o.message_id_domain = smtp.message_id_domain;
  o.unsubscribe_mailto = smtp.unsubscribe_mailto;
  return o;
}

// One branch per channel and provider; the sandbox when none matches.
std::shared_ptr<Channel> build_outlet(const core::Config& config, v1::Channel kind,
                                      const EngineFactory& twilio_engine) {
  if (kind == v1::SMS && config.sms_provider == "twilio") {
    return std::make_shared<channels::TwilioChannel>(v1::SMS, twilio_options(config),
                                                     twilio_engine());
  }
  if (kind == v1::VOICE && config.voice_provider == "twilio") {
    return std::make_shared<channels::TwilioChannel>(v1::VOICE, twilio_options(config),
                                                     twilio_engine());
  }
  if (kind == v1::WEBHOOK && config.webhook_provider == "http") {
    channels::WebhookOptions o{config.webhook.url, config.webhook.secret};
    return std::make_shared<channels::WebhookChannel>(
        std::move(o), engine(config.webhook.max_connections,
                             static_cast<size_t>(config.webhook.max_connections) * 4,
                             config.webhook.timeout_ms));
  }
  if (kind == v1::EMAIL && config.email_provider == "smtp") {
    return std::make_shared<channels::SmtpChannel>(smtp_options(config.smtp));
  }
  return std::make_shared<channels::SandboxChannel>(config.sandbox_dir, kind);
}

}  // namespace

std::vector<std::shared_ptr<Channel>> build_outlets(const core::Config& config) {
  std::shared_ptr<HttpEngine> shared_twilio;
  EngineFactory twilio_engine = [&] {
    if (!shared_twilio) {
      shared_twilio = engine(config.twilio.max_connections,
                             static_cast<size_t>(config.twilio.max_in_flight),
                             config.twilio.timeout_ms, config.twilio.engine_threads);
    }
    return shared_twilio;
  };
  std::vector<std::shared_ptr<Channel>> outlets;
  for (v1::Channel kind : {v1::SMS, v1::EMAIL, v1::VOICE, v1::WEBHOOK}) {
    outlets.push_back(build_outlet(config, kind, twilio_engine));
    const std::string budget = outlets.back()->budget_key();
    spdlog::info("channel {}: {}", channels::channel_key(kind),
                 budget.empty() ? "sandbox (" + config.sandbox_dir + ")" : budget);
  }
  return outlets;
}

}  // namespace herald
