#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <sodium/crypto_auth_hmacsha256.h>

#include "service/common/result.h"

namespace herald::core {

// Initialises libsodium once; safe to call from any thread, any number of times.
void init_crypto();

// Seals contact details at rest with XChaCha20-Poly1305; the random nonce is prepended.
class Sealer {
 public:
  static Result<Sealer> from_key(std::string_view key_text);  // errors name HERALD_PII_KEY
  Sealer(const Sealer&) = default;
  Sealer& operator=(const Sealer&) = default;
  ~Sealer();  // wipes the key

  // associated_data binds a blob to its owner (the customer id): it must match on open.
  std::string seal(std::string_view plaintext, std::string_view associated_data = {}) const;
  Result<std::string> open(std::string_view sealed, std::string_view associated_data = {}) const;

 private:
  explicit Sealer(std::string_view raw_key);
  std::array<unsigned char, 32> key_{};
};

struct TokenClaims {
  std::string customer_id;
  int64_t expires_at = 0;  // unix seconds
};

// HMAC-SHA256 under one key, with the key's two padded blocks hashed once up front: each
// mac() then hashes the data alone (about half the work for short data).
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  HmacSha256(const HmacSha256&) = default;
  HmacSha256& operator=(const HmacSha256&) = default;
  ~HmacSha256();  // wipes the keyed state
  std::string mac(std::string_view data) const;  // raw 32 bytes, as hmac_sha256(key, data)

 private:
  crypto_auth_hmacsha256_state keyed_{};
};

// Customer-scoped tokens: "hct1.<b64url(customer_id)>.<expires_at>.<b64url(HMAC-SHA256)>".
class TokenSigner {
 public:
  static Result<TokenSigner> from_key(std::string_view key_text);  // errors name HERALD_TOKEN_KEY
  TokenSigner(const TokenSigner&) = default;
  TokenSigner& operator=(const TokenSigner&) = default;

  std::string mint(std::string_view customer_id, int64_t expires_at) const;
  // kUnauthenticated when malformed, signed by another key, tampered with or expired.
  Result<TokenClaims> verify(std::string_view token, int64_t now) const;

 private:
  explicit TokenSigner(std::string_view raw_key) : mac_(raw_key) {}
  HmacSha256 mac_;
};

inline constexpr std::string_view kTokenPrefix = "hct1.";

std::string sha256_hex(std::string_view data);
// Lower-case hex of raw bytes.
std::string to_hex(std::string_view bytes);
// Raw 32-byte HMAC-SHA256 with a key of any length (RFC 2104).
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string random_token(size_t bytes);         // url-safe base64 of `bytes` random bytes
std::string base64url(std::string_view bytes);  // url-safe alphabet, no padding
// Accepts either base64 alphabet, padded or not, for tolerance of hand-typed input.
Result<std::string> base64_decode(std::string_view text);
// 32 raw bytes from base64 (standard or url-safe, padding optional) or 64 hex characters.
Result<std::string> decode_key(std::string_view key_text, std::string_view name);

}  // namespace herald::core
