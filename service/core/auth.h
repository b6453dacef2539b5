#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "service/common/result.h"
#include "service/core/crypto.h"

namespace herald::core {

enum class Role { kAdmin, kOperator, kAgent, kAnalyst, kCustomer };

const char* role_name(Role role);  // "admin", "operator", "agent", "analyst", "customer"
// Roles an API key may carry; "customer" is only ever granted by a signed token.
std::optional<Role> parse_role(std::string_view name);

// A configured API key: only the SHA-256 of the key is stored, never the key.
struct ApiKey {
  Role role;
  std::string sha256_hex;  // 64 lowercase hex characters
};

// Parses "admin:ab12...,operator:cd34..." (comma or whitespace separated). Errors name
// `source` and the 1-based entry, and never echo the entry (it may be a pasted key).
Result<std::vector<ApiKey>> parse_api_keys(std::string_view list, std::string_view source);

struct Principal {
  Role role = Role::kCustomer;
  std::string customer_id;  // set for kCustomer only
};

class Authenticator {
 public:
  Authenticator(std::vector<ApiKey> keys, std::optional<TokenSigner> tokens);

  // `authorization` is the Authorization header value ("Bearer <api key | customer token>");
  // every failure is kUnauthenticated with a message safe to return to the caller.
  Result<Principal> authenticate(std::string_view authorization, int64_t now) const;

 private:
  std::unordered_map<std::string, Role> roles_by_hash_;
  std::optional<TokenSigner> tokens_;
};

// Admins may act on any customer's profile; a customer only on their own.
bool may_access_customer(const Principal& principal, std::string_view customer_id);

// A fresh API key for `heraldctl key new --role ROLE`: {key, "role:sha256hex"}.
std::pair<std::string, std::string> new_api_key(Role role);

}  // namespace herald::core
