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
  int engine_threads = 2;             // twilio.engine_threads: HTTP engine threads, 1..16
  std::string auth_token;             // env HERALD_TWILIO_AUTH_TOKEN only
};

// webhook.*: the signed-JSON channel to a CRM / CCM; HERALD_WEBHOOK_... twins.
struct WebhookSettings {
  std::string url;           // webhook.url (http:// or https://)
  int max_connections = 8;   // webhook.max_connections, 1..1024
  int timeout_ms = 10'000;   // webhook.timeout_ms, 100..600000
  std::string secret;        // env HERALD_WEBHOOK_SECRET only: the HMAC-SHA256 key
};

// dispatch.*: the dispatcher (README "Dispatch settings"); every key has a HERALD_DISPATCH_... twin.
struct DispatchSettings {
  // dispatch.enabled: false runs this process without sending threads; it plans and queues,
  // and other heraldd processes with it true send (docs/architecture.md, "Planning-only
  // processes").
  bool enabled = true;
  std::string consumer;        // dispatch.consumer: stable consumer name; empty: the host name
  int threads_per_channel = 1;   // dispatch.threads_per_channel, 1..64
  int batch = 64;                // dispatch.batch, 1..1000
  int claim_idle_ms = 60'000;    // dispatch.claim_idle_ms: a dead process's entries after this
  int max_attempts = 6;          // dispatch.max_attempts, 1..100
  int max_age_s = 3600;          // dispatch.max_age_s: older messages are expired
  int backoff_base_ms = 1000;    // dispatch.backoff_base_ms
  int backoff_cap_ms = 300'000;  // dispatch.backoff_cap_ms
  int sms_rate_per_s = 0;        // dispatch.<channel>.rate_per_s; 0: no limit
  int email_rate_per_s = 0;
  int voice_rate_per_s = 0;
  int webhook_rate_per_s = 0;
  int voice_max_concurrent_calls = 0;  // dispatch.voice.max_concurrent_calls; 0: no limit
  int voice_call_ceiling_s = 900;      // dispatch.voice.call_ceiling_s
  // dispatch.bulk_nice, 0..19: a sending thread's nice value during a round of NORMAL messages
  // only (0: the same as EMERGENCY and MEDICAL ones).
  int bulk_nice = 19;
};

// smtp.*: the email channel over SMTP (docs/architecture.md, "Email (SMTP)");
// every key has a HERALD_SMTP_... twin.
struct SmtpSettings {
  std::string url;                 // smtp.url: smtp://host:port, or smtps:// for implicit TLS
  std::string from;                // smtp.from: MAIL FROM and the From address
  std::string from_name;           // smtp.from_name: the From display name
  std::string username;            // smtp.username: log in when set
  bool starttls = false;           // smtp.starttls: require STARTTLS on smtp://
  int connections = 4;             // smtp.connections: per sending thread, 1..64
  int timeout_ms = 10'000;         // smtp.timeout_ms: connect, and each message, 100..600000
  std::string message_id_domain;   // smtp.message_id_domain; empty: the domain of smtp.from
  std::string unsubscribe_mailto;  // smtp.unsubscribe_mailto: mailto: List-Unsubscribe address
  std::string password;            // env HERALD_SMTP_PASSWORD only
};

struct Config {
  std::string listen_host = "127.0.0.1";  // listen / HERALD_LISTEN ("host:port", port 0 allowed)
  uint16_t listen_port = 8080;
  std::string redis_url = "redis://127.0.0.1:6379/0";  // redis.url / HERALD_REDIS_URL
  int redis_connections = 4;          // redis.connections / HERALD_REDIS_CONNECTIONS, 1..64
  int redis_timeout_ms = 2000;        // redis.timeout_ms
  bool redis_worker_links = true;     // redis.worker_links / HERALD_REDIS_WORKER_LINKS
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
  int reminder_lead_min = 1440;  // fanout.reminder_lead_min / HERALD_REMINDER_LEAD_MIN
  int planner_lanes = 3;         // fanout.planner_lanes / HERALD_PLANNER_LANES, 1..16
  int planner_shards = 2;        // fanout.planner_shards / HERALD_PLANNER_SHARDS, 1..64
  // fanout.planner_shard_min / HERALD_PLANNER_SHARD_MIN, 0..100000000: the estimated audience
  // from which a revision is split into planner_shards parts.
  int planner_shard_min = 2000;
  // fanout.planner_bulk_nice / HERALD_PLANNER_BULK_NICE, 0..19: a lane's nice value while it
  // plans a bulk batch (0: the same as urgent work).
  int planner_bulk_nice = 19;
  int planner_batch = 400;  // fanout.planner_batch / HERALD_PLANNER_BATCH, 10..5000
  int planner_chunk = 100;  // fanout.planner_chunk / HERALD_PLANNER_CHUNK, 10..5000
  // fanout.planner_read_ahead / HERALD_PLANNER_READ_AHEAD: a lane planning one revision reads
  // its next batch while it writes the current one.
  bool planner_read_ahead = true;
  // fanout.planner_claim_idle_ms / HERALD_PLANNER_CLAIM_IDLE_MS, 100..3600000: an intake entry
  // untouched this long (its planner died) is taken over by another planner.
  int planner_claim_idle_ms = 30000;
  // complaints.keywords_en / _es (a list, or comma-separated in HERALD_COMPLAINT_KEYWORDS_EN /
  // _ES); empty: the built-in lists of service/journey/keywords.cc.
  std::vector<std::string> complaint_keywords_en;
  std::vector<std::string> complaint_keywords_es;
  int touchpoint_retention_days = 395;  // retention.touchpoint_days / HERALD_RETENTION_DAYS
  int retention_sweep_s = 3600;         // retention.sweep_interval_s
  DispatchSettings dispatch;
  std::string sms_provider = "sandbox";      // channels.sms.provider: sandbox | twilio
  std::string voice_provider = "sandbox";    // channels.voice.provider: sandbox | twilio
  std::string webhook_provider = "sandbox";  // channels.webhook.provider: sandbox | http
  std::string email_provider = "sandbox";    // channels.email.provider: sandbox | smtp
  SmtpSettings smtp;
  TwilioSettings twilio;
  // sendgrid.verification_key / HERALD_SENDGRID_VERIFICATION_KEY: the Event Webhook's public
  // key as SendGrid shows it (base64 DER); unset, every SendGrid event post gets 403.
  std::string sendgrid_verification_key;
  WebhookSettings webhook;
  int callback_horizon_days = 14;  // callbacks.horizon_days / HERALD_CALLBACK_HORIZON_DAYS
};

using Getenv = std::function<const char*(const char*)>;

// Reads the YAML file (an empty path means defaults only), then applies environment
// overrides. Throws ConfigError on unknown keys, bad values or missing secrets; messages
// never contain secret values.
Config load_config(const std::string& path, const Getenv& getenv = ::getenv);

}  // namespace herald::core
