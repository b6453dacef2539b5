#include "service/core/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include "service/redis/endpoint.h"

namespace herald::core {
namespace {

[[noreturn]] void fail(std::string_view key, std::string_view message) {
  throw ConfigError(std::string(key) + ": " + std::string(message));
}

// Echoes a (non-secret) value, shortened so a pasted blob cannot flood the log.
std::string quoted(std::string_view value) {
  constexpr size_t kMax = 64;
  if (value.size() > kMax) return "'" + std::string(value.substr(0, kMax)) + "...'";
  return "'" + std::string(value) + "'";
}

int64_t parse_int(std::string_view key, std::string_view text, int64_t lo, int64_t hi) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) {
    fail(key, "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
                  ", got " + quoted(text));
  }
  return v;
}

void set_listen(Config& c, std::string_view key, std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {  // [v6addr]:port
    size_t close = text.find("]:");
    if (close != std::string_view::npos) {
      host = text.substr(1, close - 1);
      port = text.substr(close + 2);
    }
  } else if (size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) host = {};  // bare v6 needs brackets
  }
  uint16_t p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (host.empty() || port.empty() || ec != std::errc() || end != port.data() + port.size()) {
    fail(key, "expected host:port (port 0-65535), got " + quoted(text));
  }
  c.listen_host = std::string(host);
  c.listen_port = p;
}

void set_redis_url(Config& c, std::string_view key, std::string_view text) {
  auto endpoint = redis::Endpoint::parse(text);
  // The URL may hold a password, so only the parser's description of the fault is shown.
  if (!endpoint.ok()) fail(key, "invalid Redis URL: " + endpoint.error().message);
  c.redis_url = std::string(text);
}

void set_region(Config& c, std::string_view key, std::string_view text) {
  bool ok = text.size() == 2 &&
            std::all_of(text.begin(), text.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; });
  if (!ok) fail(key, "expected a two-letter uppercase region code such as US, got " + quoted(text));
  c.default_region = std::string(text);
}

void set_log_level(Config& c, std::string_view key, std::string_view text) {
  constexpr std::array<std::string_view, 5> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (std::find(kLevels.begin(), kLevels.end(), text) == kLevels.end()) {
    fail(key, "expected one of trace, debug, info, warn, error, got " + quoted(text));
  }
  c.log_level = std::string(text);
}

void set_templates_dir(Config& c, std::string_view key, std::string_view text) {
  if (text.empty()) fail(key, "expected a directory, got an empty value");
  c.templates_dir = std::string(text);
}

void set_sandbox_dir(Config& c, std::string_view key, std::string_view text) {
  if (text.empty()) fail(key, "expected a directory, got an empty value");
  c.sandbox_dir = std::string(text);
}

void set_public_url(Config& c, std::string_view key, std::string_view text) {
  if (text.rfind("http://", 0) != 0 && text.rfind("https://", 0) != 0) {
    fail(key, "expected an http:// or https:// URL, got " + quoted(text));
  }
  c.public_url = std::string(text);
}

std::string one_of(std::string_view key, std::string_view text,
                   std::initializer_list<std::string_view> allowed) {
  std::string names;
  for (std::string_view a : allowed) {
    if (a == text) return std::string(text);
    names += (names.empty() ? "" : ", ") + std::string(a);
  }
  fail(key, "expected one of " + names + ", got " + quoted(text));
}

std::string http_url(std::string_view key, std::string_view text) {
  if (text.rfind("http://", 0) != 0 && text.rfind("https://", 0) != 0) {
    fail(key, "expected an http:// or https:// URL, got " + quoted(text));
  }
  return std::string(text);
}

std::string nonempty(std::string_view key, std::string_view text) {
  if (text.empty()) fail(key, "expected a value, got an empty one");
  return std::string(text);
}

// smtp://host[:port][/ehlo-name] or smtps://...; credentials never in the URL (it is logged).
std::string smtp_url(std::string_view key, std::string_view text) {
  const bool scheme = text.rfind("smtp://", 0) == 0 || text.rfind("smtps://", 0) == 0;
  const std::string_view rest = text.substr(text.find("://") == std::string_view::npos
                                                ? 0
                                                : text.find("://") + 3);
  const std::string_view authority = rest.substr(0, rest.find('/'));
  if (scheme && authority.find('@') != std::string_view::npos) {
    fail(key, "credentials do not belong in the URL: set smtp.username and HERALD_SMTP_PASSWORD");
  }
  if (!scheme || authority.empty() || authority.front() == ':') {
    fail(key, "expected smtp://host:port or smtps://host:port, got " + quoted(text));
  }
  return std::string(text);
}

// One address: printable ASCII, a single '@' with text on both sides, no spaces or brackets.
std::string email_address(std::string_view key, std::string_view text) {
  const size_t at = text.find('@');
  bool ok = at != std::string_view::npos && at > 0 && at + 1 < text.size() &&
            text.find('@', at + 1) == std::string_view::npos;
  for (unsigned char ch : text) {
    if (ch <= ' ' || ch > '~' || ch == '<' || ch == '>' || ch == ',' || ch == '"') ok = false;
  }
  if (!ok) fail(key, "expected an email address such as alerts@example.com, got " + quoted(text));
  return std::string(text);
}

std::string display_name(std::string_view key, std::string_view text) {
  if (text.size() > 100) fail(key, "expected at most 100 characters");
  for (unsigned char ch : text) {
    if (ch < ' ' || ch == 0x7f) fail(key, "expected one line without control characters");
  }
  return std::string(text);
}

std::string domain_name(std::string_view key, std::string_view text) {
  const bool ok = !text.empty() && std::all_of(text.begin(), text.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-';
  });
  if (!ok) fail(key, "expected a domain name such as mail.example.com, got " + quoted(text));
  return std::string(text);
}

bool parse_bool(std::string_view key, std::string_view text) {
  if (text == "true" || text == "yes" || text == "1") return true;
  if (text == "false" || text == "no" || text == "0") return false;
  fail(key, "expected true or false, got " + quoted(text));
}

// "a, b ,c" -> {"a", "b", "c"}; a keyword list must not be empty.
std::vector<std::string> keyword_list(std::string_view key, std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    start = comma + 1;
  }
  if (out.empty()) fail(key, "expected at least one keyword");
  return out;
}

void append_api_keys(Config& c, std::string_view key, std::string_view text) {
  auto keys = parse_api_keys(text, key);
  if (!keys.ok()) throw ConfigError(keys.error().message);
  c.api_keys.insert(c.api_keys.end(), keys->begin(), keys->end());
}

// An integer dispatch.* setting within [Lo, Hi].
template <int DispatchSettings::*Field, int64_t Lo, int64_t Hi>
void set_dispatch(Config& c, std::string_view key, std::string_view text) {
  c.dispatch.*Field = static_cast<int>(parse_int(key, text, Lo, Hi));
}

using Apply = void (*)(Config&, std::string_view key, std::string_view text);

struct Setting {
  std::string_view path;  // key in the file, dotted
  const char* env;        // overriding environment variable, or nullptr
  Apply apply;
};

// One row per setting: the file key, its environment override, and how to apply a value.
const Setting kSettings[] = {
    {"listen", "HERALD_LISTEN", set_listen},
    {"redis.url", "HERALD_REDIS_URL", set_redis_url},
    {"redis.connections", "HERALD_REDIS_CONNECTIONS",
     [](Config& c, std::string_view k, std::string_view t) {
       c.redis_connections = static_cast<int>(parse_int(k, t, 1, 64));
     }},
    {"redis.timeout_ms", "HERALD_REDIS_TIMEOUT_MS",
     [](Config& c, std::string_view k, std::string_view t) {
       c.redis_timeout_ms = static_cast<int>(parse_int(k, t, 1, 60'000));
     }},
    {"redis.worker_links", "HERALD_REDIS_WORKER_LINKS",
     [](Config& c, std::string_view k, std::string_view t) {
       c.redis_worker_links = parse_bool(k, t);
     }},
    {"http.io_threads", "HERALD_IO_THREADS",
     [](Config& c, std::string_view k, std::string_view t) {
       c.io_threads = static_cast<int>(parse_int(k, t, 1, 64));
     }},
    {"http.body_limit_bytes", "HERALD_BODY_LIMIT_BYTES",
     [](Config& c, std::string_view k, std::string_view t) {
       c.body_limit = static_cast<size_t>(parse_int(k, t, 1024, int64_t{1} << 30));
     }},
    {"http.read_timeout_s", "HERALD_READ_TIMEOUT_S",
     [](Config& c, std::string_view k, std::string_view t) {
       c.read_timeout_s = static_cast<int>(parse_int(k, t, 1, 3600));
     }},
    {"http.idle_timeout_s", "HERALD_IDLE_TIMEOUT_S",
     [](Config& c, std::string_view k, std::string_view t) {
       c.idle_timeout_s = static_cast<int>(parse_int(k, t, 1, 86'400));
     }},
    {"customers.default_phone_region", "HERALD_DEFAULT_REGION", set_region},
    {"auth.customer_token_ttl_s", "HERALD_TOKEN_TTL_S",
     [](Config& c, std::string_view k, std::string_view t) {
       c.token_ttl_s = static_cast<int>(parse_int(k, t, 60, 366 * 86'400));
     }},
    {"log.level", "HERALD_LOG_LEVEL", set_log_level},
    {"templates.dir", "HERALD_TEMPLATES_DIR", set_templates_dir},
    {"channels.sandbox_dir", "HERALD_SANDBOX_DIR", set_sandbox_dir},
    {"fanout.public_url", "HERALD_PUBLIC_URL", set_public_url},
    {"callbacks.horizon_days", "HERALD_CALLBACK_HORIZON_DAYS",
     [](Config& c, std::string_view k, std::string_view t) {
       c.callback_horizon_days = static_cast<int>(parse_int(k, t, 1, 366));
     }},
    {"fanout.etr_threshold_min", "HERALD_ETR_THRESHOLD_MIN",
     [](Config& c, std::string_view k, std::string_view t) {
       c.etr_threshold_min = static_cast<int>(parse_int(k, t, 1, 24 * 60));
     }},
    {"fanout.reminder_lead_min", "HERALD_REMINDER_LEAD_MIN",
     [](Config& c, std::string_view k, std::string_view t) {
       c.reminder_lead_min = static_cast<int>(parse_int(k, t, 1, 30 * 24 * 60));
     }},
    {"fanout.planner_lanes", "HERALD_PLANNER_LANES",
     [](Config& c, std::string_view k, std::string_view t) {
       c.planner_lanes = static_cast<int>(parse_int(k, t, 1, 16));
     }},
    {"fanout.planner_shards", "HERALD_PLANNER_SHARDS",
     [](Config& c, std::string_view k, std::string_view t) {
       c.planner_shards = static_cast<int>(parse_int(k, t, 1, 64));
     }},
    {"fanout.planner_shard_min", "HERALD_PLANNER_SHARD_MIN",
     [](Config& c, std::string_view k, std::string_view t) {
       c.planner_shard_min = static_cast<int>(parse_int(k, t, 0, 100'000'000));
     }},
    {"fanout.planner_bulk_nice", "HERALD_PLANNER_BULK_NICE",
     [](Config& c, std::string_view k, std::string_view t) {
       c.planner_bulk_nice = static_cast<int>(parse_int(k, t, 0, 19));
     }},
    {"fanout.planner_batch", "HERALD_PLANNER_BATCH",
     [](Config& c, std::string_view k, std::string_view t) {
       c.planner_batch = static_cast<int>(parse_int(k, t, 10, 5000));
     }},
    {"fanout.planner_chunk", "HERALD_PLANNER_CHUNK",
     [](Config& c, std::string_view k, std::string_view t) {
       c.planner_chunk = static_cast<int>(parse_int(k, t, 10, 5000));
     }},
    {"fanout.planner_read_ahead", "HERALD_PLANNER_READ_AHEAD",
     [](Config& c, std::string_view k, std::string_view t) {
       c.planner_read_ahead = parse_bool(k, t);
     }},
    {"fanout.planner_claim_idle_ms", "HERALD_PLANNER_CLAIM_IDLE_MS",
     [](Config& c, std::string_view k, std::string_view t) {
       c.planner_claim_idle_ms = static_cast<int>(parse_int(k, t, 100, 3'600'000));
     }},
    {"complaints.keywords_en", "HERALD_COMPLAINT_KEYWORDS_EN",
     [](Config& c, std::string_view k, std::string_view t) {
       c.complaint_keywords_en = keyword_list(k, t);
     }},
    {"complaints.keywords_es", "HERALD_COMPLAINT_KEYWORDS_ES",
     [](Config& c, std::string_view k, std::string_view t) {
       c.complaint_keywords_es = keyword_list(k, t);
     }},
    {"retention.touchpoint_days", "HERALD_RETENTION_DAYS",
     [](Config& c, std::string_view k, std::string_view t) {
       c.touchpoint_retention_days = static_cast<int>(parse_int(k, t, 1, 3650));
     }},
    {"retention.sweep_interval_s", "HERALD_RETENTION_SWEEP_S",
     [](Config& c, std::string_view k, std::string_view t) {
       c.retention_sweep_s = static_cast<int>(parse_int(k, t, 1, 86'400));
     }},
    {"channels.sms.provider", "HERALD_SMS_PROVIDER",
     [](Config& c, std::string_view k, std::string_view t) {
       c.sms_provider = one_of(k, t, {"sandbox", "twilio"});
     }},
    {"channels.voice.provider", "HERALD_VOICE_PROVIDER",
     [](Config& c, std::string_view k, std::string_view t) {
       c.voice_provider = one_of(k, t, {"sandbox", "twilio"});
     }},
    {"channels.email.provider", "HERALD_EMAIL_PROVIDER",
     [](Config& c, std::string_view k, std::string_view t) {
       c.email_provider = one_of(k, t, {"sandbox", "smtp"});
     }},
    {"smtp.url", "HERALD_SMTP_URL",
     [](Config& c, std::string_view k, std::string_view t) { c.smtp.url = smtp_url(k, t); }},
    {"smtp.from", "HERALD_SMTP_FROM",
     [](Config& c, std::string_view k, std::string_view t) { c.smtp.from = email_address(k, t); }},
    {"smtp.from_name", "HERALD_SMTP_FROM_NAME",
     [](Config& c, std::string_view k, std::string_view t) {
       c.smtp.from_name = display_name(k, t);
     }},
    {"smtp.username", "HERALD_SMTP_USERNAME",
     [](Config& c, std::string_view k, std::string_view t) { c.smtp.username = nonempty(k, t); }},
    {"smtp.starttls", "HERALD_SMTP_STARTTLS",
     [](Config& c, std::string_view k, std::string_view t) { c.smtp.starttls = parse_bool(k, t); }},
    {"smtp.connections", "HERALD_SMTP_CONNECTIONS",
     [](Config& c, std::string_view k, std::string_view t) {
       c.smtp.connections = static_cast<int>(parse_int(k, t, 1, 64));
     }},
    {"smtp.timeout_ms", "HERALD_SMTP_TIMEOUT_MS",
     [](Config& c, std::string_view k, std::string_view t) {
       c.smtp.timeout_ms = static_cast<int>(parse_int(k, t, 100, 600'000));
     }},
    {"smtp.message_id_domain", "HERALD_SMTP_MESSAGE_ID_DOMAIN",
     [](Config& c, std::string_view k, std::string_view t) {
       c.smtp.message_id_domain = domain_name(k, t);
     }},
    {"smtp.unsubscribe_mailto", "HERALD_SMTP_UNSUBSCRIBE_MAILTO",
     [](Config& c, std::string_view k, std::string_view t) {
       c.smtp.unsubscribe_mailto = email_address(k, t);
     }},
    {"channels.webhook.provider", "HERALD_WEBHOOK_PROVIDER",
     [](Config& c, std::string_view k, std::string_view t) {
       c.webhook_provider = one_of(k, t, {"sandbox", "http"});
     }},
    {"twilio.base_url", "HERALD_TWILIO_BASE_URL",
     [](Config& c, std::string_view k, std::string_view t) { c.twilio.base_url = http_url(k, t); }},
    {"twilio.account_sid", "HERALD_TWILIO_ACCOUNT_SID",
     [](Config& c, std::string_view k, std::string_view t) {
       c.twilio.account_sid = nonempty(k, t);
     }},
    {"twilio.sms_from", "HERALD_TWILIO_SMS_FROM",
     [](Config& c, std::string_view k, std::string_view t) { c.twilio.sms_from = nonempty(k, t); }},
    {"twilio.messaging_service_sid", "HERALD_TWILIO_MESSAGING_SERVICE_SID",
     [](Config& c, std::string_view k, std::string_view t) {
       c.twilio.messaging_service_sid = nonempty(k, t);
     }},
    {"twilio.voice_from", "HERALD_TWILIO_VOICE_FROM",
     [](Config& c, std::string_view k, std::string_view t) {
       c.twilio.voice_from = nonempty(k, t);
     }},
    {"twilio.max_connections", "HERALD_TWILIO_MAX_CONNECTIONS",
     [](Config& c, std::string_view k, std::string_view t) {
       c.twilio.max_connections = static_cast<int>(parse_int(k, t, 1, 1024));
     }},
    {"twilio.max_in_flight", "HERALD_TWILIO_MAX_IN_FLIGHT",
     [](Config& c, std::string_view k, std::string_view t) {
       c.twilio.max_in_flight = static_cast<int>(parse_int(k, t, 1, 100'000));
     }},
    {"twilio.engine_threads", "HERALD_TWILIO_ENGINE_THREADS",
     [](Config& c, std::string_view k, std::string_view t) {
       c.twilio.engine_threads = static_cast<int>(parse_int(k, t, 1, 16));
     }},
    {"twilio.timeout_ms", "HERALD_TWILIO_TIMEOUT_MS",
     [](Config& c, std::string_view k, std::string_view t) {
       c.twilio.timeout_ms = static_cast<int>(parse_int(k, t, 100, 600'000));
     }},
    {"sendgrid.verification_key", "HERALD_SENDGRID_VERIFICATION_KEY",
     [](Config& c, std::string_view k, std::string_view t) {
       c.sendgrid_verification_key = nonempty(k, t);
     }},
    {"webhook.url", "HERALD_WEBHOOK_URL",
     [](Config& c, std::string_view k, std::string_view t) { c.webhook.url = http_url(k, t); }},
    {"webhook.max_connections", "HERALD_WEBHOOK_MAX_CONNECTIONS",
     [](Config& c, std::string_view k, std::string_view t) {
       c.webhook.max_connections = static_cast<int>(parse_int(k, t, 1, 1024));
     }},
    {"webhook.timeout_ms", "HERALD_WEBHOOK_TIMEOUT_MS",
     [](Config& c, std::string_view k, std::string_view t) {
       c.webhook.timeout_ms = static_cast<int>(parse_int(k, t, 100, 600'000));
     }},
    {"dispatch.enabled", "HERALD_DISPATCH_ENABLED",
     [](Config& c, std::string_view k, std::string_view t) {
       c.dispatch.enabled = parse_bool(k, t);
     }},
    {"dispatch.consumer", "HERALD_DISPATCH_CONSUMER",
     [](Config& c, std::string_view k, std::string_view t) {
       if (t.empty() || t.find_first_of(" /") != std::string_view::npos) {
         fail(k, "expected a name without spaces or slashes, got " + quoted(t));
       }
       c.dispatch.consumer = std::string(t);
     }},
    {"dispatch.threads_per_channel", "HERALD_DISPATCH_THREADS_PER_CHANNEL",
     set_dispatch<&DispatchSettings::threads_per_channel, 1, 64>},
    {"dispatch.batch", "HERALD_DISPATCH_BATCH", set_dispatch<&DispatchSettings::batch, 1, 1000>},
    {"dispatch.bulk_nice", "HERALD_DISPATCH_BULK_NICE",
     set_dispatch<&DispatchSettings::bulk_nice, 0, 19>},
    {"dispatch.claim_idle_ms", "HERALD_DISPATCH_CLAIM_IDLE_MS",
     set_dispatch<&DispatchSettings::claim_idle_ms, 1000, 86'400'000>},
    {"dispatch.max_attempts", "HERALD_DISPATCH_MAX_ATTEMPTS",
     set_dispatch<&DispatchSettings::max_attempts, 1, 100>},
    {"dispatch.max_age_s", "HERALD_DISPATCH_MAX_AGE_S",
     set_dispatch<&DispatchSettings::max_age_s, 1, 7 * 86'400>},
    {"dispatch.backoff_base_ms", "HERALD_DISPATCH_BACKOFF_BASE_MS",
     set_dispatch<&DispatchSettings::backoff_base_ms, 1, 3'600'000>},
    {"dispatch.backoff_cap_ms", "HERALD_DISPATCH_BACKOFF_CAP_MS",
     set_dispatch<&DispatchSettings::backoff_cap_ms, 1, 86'400'000>},
    {"dispatch.sms.rate_per_s", "HERALD_DISPATCH_SMS_RATE_PER_S",
     set_dispatch<&DispatchSettings::sms_rate_per_s, 0, 100'000>},
    {"dispatch.email.rate_per_s", "HERALD_DISPATCH_EMAIL_RATE_PER_S",
     set_dispatch<&DispatchSettings::email_rate_per_s, 0, 100'000>},
    {"dispatch.voice.rate_per_s", "HERALD_DISPATCH_VOICE_RATE_PER_S",
     set_dispatch<&DispatchSettings::voice_rate_per_s, 0, 100'000>},
    {"dispatch.webhook.rate_per_s", "HERALD_DISPATCH_WEBHOOK_RATE_PER_S",
     set_dispatch<&DispatchSettings::webhook_rate_per_s, 0, 100'000>},
    {"dispatch.voice.max_concurrent_calls", "HERALD_DISPATCH_VOICE_MAX_CONCURRENT_CALLS",
     set_dispatch<&DispatchSettings::voice_max_concurrent_calls, 0, 100'000>},
    {"dispatch.voice.call_ceiling_s", "HERALD_DISPATCH_VOICE_CALL_CEILING_S",
     set_dispatch<&DispatchSettings::voice_call_ceiling_s, 10, 86'400>},
};

constexpr std::string_view kSections[] = {
    "redis",    "http",    "customers", "auth",      "log",        "templates", "channels",
    "fanout",   "dispatch", "twilio",   "smtp",      "webhook",    "sendgrid",  "inbound",
    "callbacks", "journeys", "complaints", "retention"};

const Setting* find_setting(std::string_view path) {
  for (const auto& s : kSettings) {
    if (s.path == path) return &s;
  }
  return nullptr;
}

bool is_secret_name(std::string_view name) {
  std::string lower(name);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (lower.rfind("herald_", 0) == 0) lower.erase(0, 7);
  auto ends_with = [&](std::string_view tail) { return std::string_view(lower).ends_with(tail); };
  return lower == "pii_key" || lower == "token_key" || lower == "api_key" ||
         ends_with("password") || ends_with("secret") || ends_with("auth_token");
}

std::string scalar(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) fail(path, "expected a single value");
  return node.Scalar();
}

void apply_file_entry(Config& c, const std::string& path, const YAML::Node& value) {
  if (path == "auth.keys") {
    if (value.IsNull()) return;
    if (!value.IsSequence()) fail(path, "expected a list of \"role:sha256hex\" entries");
    std::string joined;
    for (const auto& item : value) joined += scalar(item, path) + ",";
    append_api_keys(c, path, joined);
    return;
  }
  const Setting* setting = find_setting(path);
  if (setting == nullptr) fail(path, "unknown key");
  if (value.IsSequence() && path.rfind("complaints.keywords_", 0) == 0) {
    std::string joined;
    for (const auto& item : value) joined += scalar(item, path) + ",";
    setting->apply(c, path, joined);
    return;
  }
  setting->apply(c, path, scalar(value, path));
}

// A section may nest ("channels: {sms: {provider: twilio}}" is "channels.sms.provider").
void apply_section(Config& c, const std::string& section, const YAML::Node& node) {
  if (node.IsNull()) return;
  if (!node.IsMap()) fail(section, "expected a mapping");
  for (const auto& entry : node) {
    std::string name = entry.first.as<std::string>();
    std::string path = section + "." + name;
    if (is_secret_name(name)) {
      fail(path, "secrets come from the environment, never the config file");
    }
    if (entry.second.IsMap() && find_setting(path) == nullptr) {
      apply_section(c, path, entry.second);
    } else {
      apply_file_entry(c, path, entry.second);
    }
  }
}

YAML::Node read_yaml(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("config file " + quoted(path) + ": cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    throw ConfigError("config file " + quoted(path) + ": " + e.what());
  }
}

void apply_file(Config& c, const std::string& path) {
  YAML::Node root = read_yaml(path);
  if (root.IsNull()) return;
  if (!root.IsMap()) throw ConfigError("config file " + quoted(path) + ": expected a mapping");
  for (const auto& entry : root) {
    std::string name = entry.first.as<std::string>();
    if (is_secret_name(name))
      fail(name, "secrets come from the environment, never the config file");
    bool is_section =
        std::find(std::begin(kSections), std::end(kSections), name) != std::end(kSections);
    if (is_section) {
      apply_section(c, name, entry.second);
    } else {
      apply_file_entry(c, name, entry.second);
    }
  }
}

std::optional<std::string> env_value(const Getenv& getenv, const char* name) {
  const char* v = getenv(name);
  // An empty variable (e.g. "FOO=" in a compose file) means unset.
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

std::string required_key(const Getenv& getenv, const char* name) {
  auto value = env_value(getenv, name);
  if (!value) {
    fail(name,
         "required; set it in the environment (generate one with: head -c 32 "
         "/dev/urandom | base64)");
  }
  auto decoded = decode_key(*value, name);
  if (!decoded.ok()) throw ConfigError(decoded.error().message);
  return *value;
}

// A provider chosen without what it needs stops start-up, naming the missing setting.
void require(bool present, std::string_view setting, std::string_view env, std::string_view why) {
  if (!present) {
    fail(setting, "required when " + std::string(why) + " (or set " + std::string(env) + ")");
  }
}

void apply_channel_secrets(Config& c, const Getenv& getenv) {
  c.twilio.auth_token = env_value(getenv, "HERALD_TWILIO_AUTH_TOKEN").value_or("");
  c.webhook.secret = env_value(getenv, "HERALD_WEBHOOK_SECRET").value_or("");
  for (auto [provider, name] : {std::pair{&c.sms_provider, "channels.sms.provider is twilio"},
                                std::pair{&c.voice_provider, "channels.voice.provider is twilio"}}) {
    if (*provider != "twilio") continue;
    require(!c.twilio.account_sid.empty(), "twilio.account_sid", "HERALD_TWILIO_ACCOUNT_SID", name);
    if (c.twilio.auth_token.empty()) {
      fail("HERALD_TWILIO_AUTH_TOKEN", std::string("required in the environment when ") + name);
    }
  }
  if (c.sms_provider == "twilio") {
    require(!c.twilio.sms_from.empty() || !c.twilio.messaging_service_sid.empty(),
            "twilio.sms_from", "HERALD_TWILIO_SMS_FROM, or twilio.messaging_service_sid",
            "channels.sms.provider is twilio");
  }
  if (c.voice_provider == "twilio") {
    require(!c.twilio.voice_from.empty(), "twilio.voice_from", "HERALD_TWILIO_VOICE_FROM",
            "channels.voice.provider is twilio");
  }
  if (c.webhook_provider == "http") {
    require(!c.webhook.url.empty(), "webhook.url", "HERALD_WEBHOOK_URL",
            "channels.webhook.provider is http");
    if (c.webhook.secret.empty()) {
      fail("HERALD_WEBHOOK_SECRET", "required in the environment when channels.webhook.provider is http");
    }
  }
}

// The SMTP password comes only from the environment; smtp needs somewhere to send and a sender.
void apply_smtp(Config& c, const Getenv& getenv) {
  c.smtp.password = env_value(getenv, "HERALD_SMTP_PASSWORD").value_or("");
  if (c.email_provider != "smtp") return;
  const char* why = "channels.email.provider is smtp";
  require(!c.smtp.url.empty(), "smtp.url", "HERALD_SMTP_URL", why);
  require(!c.smtp.from.empty(), "smtp.from", "HERALD_SMTP_FROM", why);
  if (!c.smtp.username.empty() && c.smtp.password.empty()) {
    fail("HERALD_SMTP_PASSWORD", "required in the environment when smtp.username is set");
  }
}

}  // namespace

Config load_config(const std::string& path, const Getenv& getenv) {
  Config c;
  if (!path.empty()) apply_file(c, path);
  for (const auto& s : kSettings) {
    if (s.env == nullptr) continue;
    if (auto value = env_value(getenv, s.env)) s.apply(c, s.env, *value);
  }
  if (auto keys = env_value(getenv, "HERALD_AUTH_KEYS")) {
    append_api_keys(c, "HERALD_AUTH_KEYS", *keys);
  }
  c.pii_key = required_key(getenv, "HERALD_PII_KEY");
  c.token_key = required_key(getenv, "HERALD_TOKEN_KEY");
  apply_channel_secrets(c, getenv);
  apply_smtp(c, getenv);
  return c;
}

}  // namespace herald::core
