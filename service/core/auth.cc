#include "service/core/auth.h"

#include <sodium.h>

#include <cctype>

namespace herald::core {
namespace {

constexpr size_t kApiKeyBytes = 32;

Error unauthenticated(std::string message) {
  return Error{ErrorCode::kUnauthenticated, std::move(message), {}};
}

bool is_separator(char c) { return c == ',' || std::isspace(static_cast<unsigned char>(c)); }

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Auth schemes are case-insensitive (RFC 7235), so "bearer" is accepted too.
std::optional<std::string_view> bearer_credential(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() < kScheme.size() || to_lower(header.substr(0, kScheme.size())) != kScheme) {
    return std::nullopt;
  }
  std::string_view credential = header.substr(kScheme.size());
  while (!credential.empty() && credential.front() == ' ') credential.remove_prefix(1);
  while (!credential.empty() && credential.back() == ' ') credential.remove_suffix(1);
  if (credential.empty() || credential.find(' ') != std::string_view::npos) return std::nullopt;
  return credential;
}

Result<ApiKey> parse_entry(std::string_view entry, std::string_view source, size_t index) {
  std::string where = std::string(source) + " entry " + std::to_string(index);
  size_t colon = entry.find(':');
  if (colon == std::string_view::npos) {
    return invalid(std::string(source), where + ": expected role:sha256hex");
  }
  auto role = parse_role(entry.substr(0, colon));
  if (!role) {
    return invalid(std::string(source),
                   where + ": unknown role (expected admin, operator, agent or analyst)");
  }
  std::string hash = to_lower(entry.substr(colon + 1));
  if (hash.size() != 64 || !is_lower_hex(hash)) {
    return invalid(std::string(source),
                   where +
                       ": expected the key's SHA-256 as 64 hex characters, not the key "
                       "itself (heraldctl key new prints it)");
  }
  return ApiKey{*role, std::move(hash)};
}

}  // namespace

const char* role_name(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kOperator:
      return "operator";
    case Role::kAgent:
      return "agent";
    case Role::kAnalyst:
      return "analyst";
    case Role::kCustomer:
      return "customer";
  }
  return "unknown";
}

std::optional<Role> parse_role(std::string_view name) {
  for (Role role : {Role::kAdmin, Role::kOperator, Role::kAgent, Role::kAnalyst}) {
    if (name == role_name(role)) return role;
  }
  return std::nullopt;
}

Result<std::vector<ApiKey>> parse_api_keys(std::string_view list, std::string_view source) {
  std::vector<ApiKey> keys;
  size_t index = 0;
  size_t pos = 0;
  while (pos < list.size()) {
    if (is_separator(list[pos])) {
      ++pos;
      continue;
    }
    size_t end = pos;
    while (end < list.size() && !is_separator(list[end])) ++end;
    auto key = parse_entry(list.substr(pos, end - pos), source, ++index);
    if (!key.ok()) return std::move(key).take_error();
    keys.push_back(std::move(key).value());
    pos = end;
  }
  return keys;
}

Authenticator::Authenticator(std::vector<ApiKey> keys, std::optional<TokenSigner> tokens)
    : tokens_(std::move(tokens)) {
  for (auto& key : keys) roles_by_hash_.emplace(std::move(key.sha256_hex), key.role);
}

Result<Principal> Authenticator::authenticate(std::string_view authorization, int64_t now) const {
  if (authorization.empty()) return unauthenticated("missing Authorization header");
  auto credential = bearer_credential(authorization);
  if (!credential) {
    return unauthenticated("malformed Authorization header: expected 'Bearer <key or token>'");
  }
  if (credential->starts_with(kTokenPrefix)) {
    if (!tokens_) return unauthenticated("customer tokens are not enabled");
    auto claims = tokens_->verify(*credential, now);
    if (!claims.ok()) return std::move(claims).take_error();
    return Principal{Role::kCustomer, std::move(claims->customer_id)};
  }
  std::string presented = sha256_hex(*credential);
  auto it = roles_by_hash_.find(presented);
  // The map lookup narrows to one candidate; the final comparison does not leak by timing.
  if (it == roles_by_hash_.end() ||
      sodium_memcmp(it->first.data(), presented.data(), presented.size()) != 0) {
    return unauthenticated("unknown API key");
  }
  return Principal{it->second, {}};
}

bool may_access_customer(const Principal& principal, std::string_view customer_id) {
  switch (principal.role) {
    case Role::kAdmin:
      return true;
    case Role::kCustomer:
      return !customer_id.empty() && principal.customer_id == customer_id;
    default:
      return false;
  }
}

std::pair<std::string, std::string> new_api_key(Role role) {
  // A recognisable prefix lets secret scanners spot leaked keys.
  std::string key = "hk_" + random_token(kApiKeyBytes);
  std::string entry = std::string(role_name(role)) + ":" + sha256_hex(key);
  return {std::move(key), std::move(entry)};
}

}  // namespace herald::core
