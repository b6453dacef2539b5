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

void append_api_keys(Config& c, std::string_view key, std::string_view text) {
  auto keys = parse_api_keys(text, key);
  if (!keys.ok()) throw ConfigError(keys.error().message);
  c.api_keys.insert(c.api_keys.end(), keys->begin(), keys->end());
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
    {"fanout.etr_threshold_min", "HERALD_ETR_THRESHOLD_MIN",
     [](Config& c, std::string_view k, std::string_view t) {
       c.etr_threshold_min = static_cast<int>(parse_int(k, t, 1, 24 * 60));
     }},
    {"channels.sms.provider", "HERALD_SMS_PROVIDER",
     [](Config& c, std::string_view k, std::string_view t) {
       c.sms_provider = one_of(k, t, {"sandbox", "twilio"});
     }},
    {"channels.voice.provider", "HERALD_VOICE_PROVIDER",
     [](Config& c, std::string_view k, std::string_view t) {
       c.voice_provider = one_of(k, t, {"sandbox", "twilio"});
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
    {"twilio.timeout_ms", "HERALD_TWILIO_TIMEOUT_MS",
     [](Config& c, std::string_view k, std::string_view t) {
       c.twilio.timeout_ms = static_cast<int>(parse_int(k, t, 100, 600'000));
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
  return c;
}

}  // namespace herald::core
