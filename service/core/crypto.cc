#include "service/core/crypto.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace herald::core {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr size_t kMacBytes = crypto_auth_hmacsha256_BYTES;

static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == kKeyBytes);

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool is_hex(std::string_view s) {
  for (char c : s) {
    bool digit = c >= '0' && c <= '9';
    bool lower = c >= 'a' && c <= 'f';
    bool upper = c >= 'A' && c <= 'F';
    if (!digit && !lower && !upper) return false;
  }
  return true;
}

Error unauthenticated(std::string message) {
  return Error{ErrorCode::kUnauthenticated, std::move(message), {}};
}

std::vector<std::string_view> split_dots(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, dot - start));
    start = dot + 1;
  }
}

// Tokens accept exactly one encoding, so a token has one spelling.
Result<std::string> decode_base64url_strict(std::string_view text) {
  std::string out(text.size() * 3 / 4 + 1, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(bytes(out), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return invalid("", "not valid base64url");
  }
  out.resize(len);
  return out;
}

}  // namespace

void init_crypto() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium failed to initialise");
}

std::string base64url(std::string_view data) {
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_encoded_len(data.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes(data), data.size(), kVariant);
  out.resize(out.size() - 1);  // drop the terminating NUL libsodium writes
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  bool url_safe = text.find_first_of("-_") != std::string_view::npos;
  int variant = url_safe ? sodium_base64_VARIANT_URLSAFE_NO_PADDING
                         : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
  std::string out(text.size() * 3 / 4 + 1, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(bytes(out), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        variant) != 0 ||
      end != text.data() + text.size()) {
    return invalid("", "not valid base64");
  }
  out.resize(len);
  return out;
}

Result<std::string> decode_key(std::string_view key_text, std::string_view name) {
  std::string_view text = trim(key_text);
  std::string field(name);
  if (text.empty()) return invalid(field, field + " is empty");
  if (text.size() == 2 * kKeyBytes && is_hex(text)) {
    std::string raw(kKeyBytes, '\0');
    size_t len = 0;
    int rc =
        sodium_hex2bin(bytes(raw), raw.size(), text.data(), text.size(), nullptr, &len, nullptr);
    if (rc == 0 && len == kKeyBytes) return raw;
  }
  auto decoded = base64_decode(text);
  if (!decoded.ok()) {
    return invalid(field, field + ": expected 32 bytes as base64 or 64 hex characters");
  }
  if (decoded->size() != kKeyBytes) {
    std::string raw = std::move(decoded).value();
    std::string message = field + ": expected 32 bytes, got " + std::to_string(raw.size()) +
                          " (generate one with: head -c 32 /dev/urandom | base64)";
    sodium_memzero(raw.data(), raw.size());
    return invalid(field, std::move(message));
  }
  return std::move(decoded).value();
}

std::string to_hex(std::string_view raw) {
  std::string hex(2 * raw.size() + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes(raw), raw.size());
  hex.pop_back();  // the terminating NUL sodium writes
  return hex;
}

std::string sha256_hex(std::string_view data) {
  init_crypto();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, bytes(data), data.size());
  return to_hex(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  return HmacSha256(key).mac(data);
}

HmacSha256::HmacSha256(std::string_view key) {
  init_crypto();
  crypto_auth_hmacsha256_init(&keyed_, bytes(key), key.size());
}

HmacSha256::~HmacSha256() { sodium_memzero(&keyed_, sizeof keyed_); }

std::string HmacSha256::mac(std::string_view data) const {
  crypto_auth_hmacsha256_state state = keyed_;
  crypto_auth_hmacsha256_update(&state, bytes(data), data.size());
  std::string out(kMacBytes, '\0');
  crypto_auth_hmacsha256_final(&state, bytes(out));
  sodium_memzero(&state, sizeof state);
  return out;
}

std::string random_token(size_t n) {
  init_crypto();
  std::string raw(n, '\0');
  randombytes_buf(raw.data(), raw.size());
  return base64url(raw);
}

Sealer::Sealer(std::string_view raw_key) {
  std::copy(raw_key.begin(), raw_key.end(), key_.begin());
}

Sealer::~Sealer() { sodium_memzero(key_.data(), key_.size()); }

Result<Sealer> Sealer::from_key(std::string_view key_text) {
  init_crypto();
  auto raw = decode_key(key_text, "HERALD_PII_KEY");
  if (!raw.ok()) return std::move(raw).take_error();
  Sealer sealer(*raw);
  sodium_memzero(raw->data(), raw->size());
  return sealer;
}

namespace {

// A random nonce from this thread's pool of the system's randomness, refilled 170 nonces at a
// time: libsodium's randombytes_buf is a getrandom(2) call each, which in a fan-out cost as
// much as a seal's cipher. Every byte is handed out once and wiped. Herald's processes never
// fork, so no two processes can hold a copy of the same pool.
void next_nonce(unsigned char* nonce) {
  struct Pool {
    std::array<unsigned char, 170 * kNonceBytes> bytes;
    size_t used = sizeof bytes;
    ~Pool() { sodium_memzero(bytes.data(), bytes.size()); }
  };
  thread_local Pool pool;
  if (pool.used + kNonceBytes > pool.bytes.size()) {
    randombytes_buf(pool.bytes.data(), pool.bytes.size());
    pool.used = 0;
  }
  std::memcpy(nonce, pool.bytes.data() + pool.used, kNonceBytes);
  sodium_memzero(pool.bytes.data() + pool.used, kNonceBytes);
  pool.used += kNonceBytes;
}

}  // namespace

std::string Sealer::seal(std::string_view plaintext, std::string_view associated_data) const {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  unsigned char* nonce = bytes(out);
  next_nonce(nonce);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + kNonceBytes, &written, bytes(plaintext), plaintext.size(),
      associated_data.empty() ? nullptr : bytes(associated_data), associated_data.size(), nullptr,
      nonce, key_.data());
  out.resize(kNonceBytes + written);
  return out;
}

Result<std::string> Sealer::open(std::string_view sealed, std::string_view associated_data) const {
  if (sealed.size() < kNonceBytes + kTagBytes) {
    return Error{ErrorCode::kInternal, "sealed value is truncated", {}};
  }
  const unsigned char* nonce = bytes(sealed);
  std::string_view cipher = sealed.substr(kNonceBytes);
  std::string out(cipher.size() - kTagBytes, '\0');
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          bytes(out), &len, nullptr, bytes(cipher), cipher.size(),
          associated_data.empty() ? nullptr : bytes(associated_data), associated_data.size(), nonce,
          key_.data()) != 0) {
    return Error{ErrorCode::kInternal,
                 "sealed value failed authentication (tampered, wrong key or wrong owner)",
                 {}};
  }
  out.resize(len);
  return out;
}

Result<TokenSigner> TokenSigner::from_key(std::string_view key_text) {
  init_crypto();
  auto raw = decode_key(key_text, "HERALD_TOKEN_KEY");
  if (!raw.ok()) return std::move(raw).take_error();
  TokenSigner signer(*raw);
  sodium_memzero(raw->data(), raw->size());
  return signer;
}

std::string TokenSigner::mint(std::string_view customer_id, int64_t expires_at) const {
  std::string token(kTokenPrefix);
  token += base64url(customer_id);
  token += '.';
  token += std::to_string(expires_at);
  std::string mac = mac_.mac(token);
  token += '.';
  token += base64url(mac);
  return token;
}

Result<TokenClaims> TokenSigner::verify(std::string_view token, int64_t now) const {
  auto parts = split_dots(token);
  if (parts.size() != 4 || parts[0] != kTokenPrefix.substr(0, kTokenPrefix.size() - 1) ||
      parts[1].empty() || parts[2].empty()) {
    return unauthenticated("malformed customer token");
  }
  auto mac = decode_base64url_strict(parts[3]);
  if (!mac.ok() || mac->size() != kMacBytes) return unauthenticated("malformed customer token");

  std::string_view signed_part = token.substr(0, token.size() - parts[3].size() - 1);
  std::string expected = mac_.mac(signed_part);
  if (crypto_verify_32(bytes(*mac), bytes(expected)) != 0) {
    return unauthenticated("invalid customer token signature");
  }

  TokenClaims claims;
  auto [end, ec] =
      std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(), claims.expires_at);
  auto id = decode_base64url_strict(parts[1]);
  if (ec != std::errc() || end != parts[2].data() + parts[2].size() || !id.ok() || id->empty()) {
    return unauthenticated("malformed customer token");
  }
  if (now >= claims.expires_at) return unauthenticated("token expired");
  claims.customer_id = std::move(id).value();
  return claims;
}

}  // namespace herald::core
