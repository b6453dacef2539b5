#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "service/core/auth.h"

namespace herald::core {

// Start-up only: the message names the offending key, e.g. "listen: expected host:port, ...".
struct ConfigError : std::runtime_error {
  using runtime_error::runtime_error;
};

// twilio.*: the Twilio SMS and voice channels (docs/architecture.md, "Delivery: channels");
// every key has a HERALD_TWILIO_... twin.
struct TwilioSettings {
  std::string base_url = "https://api.twilio.com";  // twilio.base_url: any Twilio-compatible API
  std::string account_sid;                          // twilio.account_sid (AC...)
  std::string sms_from;                             // twilio.sms_from (E.164)
  std::string messaging_service_sid;  // twilio.messaging_service_sid (MG...), or sms_from
  std::string voice_from;             // twilio.voice_from (E.164), for voice
  int max_connections = 16;           // twilio.max_connections, 1..1024
  int max_in_flight = 64;             // twilio.max_in_flight, 1..100000
  int timeout_ms = 10'000;            // twilio.timeout_ms: one request, 100..600000
  std::string auth_token;             // env HERALD_TWILIO_AUTH_TOKEN only
};

// webhook.*: the signed-JSON channel to a CRM / CCM; HERALD_WEBHOOK_... twins.
struct WebhookSettings {
  std::string url;           // webhook.url (http:// or https://)
  int max_connections = 8;   // webhook.max_connections, 1..1024
  int timeout_ms = 10'000;   // webhook.timeout_ms, 100..600000
  std::string secret;        // env HERALD_WEBHOOK_SECRET only: the HMAC-SHA256 key
};

struct Config {
  std::string listen_host = "127.0.0.1";  // listen / HERALD_LISTEN ("host:port", port 0 allowed)
  uint16_t listen_port = 8080;
  std::string redis_url = "redis://127.0.0.1:6379/0";  // redis.url / HERALD_REDIS_URL
  int redis_connections = 4;          // redis.connections / HERALD_REDIS_CONNECTIONS, 1..64
  int redis_timeout_ms = 2000;        // redis.timeout_ms
  int io_threads = 2;                 // http.io_threads / HERALD_IO_THREADS, 1..64
  size_t body_limit = 1 << 20;        // http.body_limit_bytes
  int read_timeout_s = 15;            // http.read_timeout_s
  int idle_timeout_s = 60;            // http.idle_timeout_s
  std::string default_region = "US";  // customers.default_phone_region / HERALD_DEFAULT_REGION
  int token_ttl_s = 30 * 24 * 3600;   // auth.customer_token_ttl_s
  std::vector<ApiKey> api_keys;       // auth.keys, then HERALD_AUTH_KEYS appended
  std::string pii_key;                // env HERALD_PII_KEY only (required)
  std::string token_key;              // env HERALD_TOKEN_KEY only (required)
  std::string log_level = "info";     // log.level / HERALD_LOG_LEVEL
  std::string templates_dir = "templates";  // templates.dir / HERALD_TEMPLATES_DIR
  std::string sandbox_dir = "var/sandbox";  // channels.sandbox_dir / HERALD_SANDBOX_DIR
  std::string public_url = "http://127.0.0.1:8080";  // fanout.public_url / HERALD_PUBLIC_URL
  int etr_threshold_min = 30;  // fanout.etr_threshold_min / HERALD_ETR_THRESHOLD_MIN
  std::string sms_provider = "sandbox";      // channels.sms.provider: sandbox | twilio
  std::string voice_provider = "sandbox";    // channels.voice.provider: sandbox | twilio
  std::string webhook_provider = "sandbox";  // channels.webhook.provider: sandbox | http
  TwilioSettings twilio;
  WebhookSettings webhook;
};

using Getenv = std::function<const char*(const char*)>;

// Reads the YAML file (an empty path means defaults only), then applies environment
// overrides. Throws ConfigError on unknown keys, bad values or missing secrets; messages
// never contain secret values.
Config load_config(const std::string& path, const Getenv& getenv = ::getenv);

}  // namespace herald::core
