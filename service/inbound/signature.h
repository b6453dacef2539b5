#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "service/common/result.h"

// Provider webhook signatures. Both checks fail closed: a missing secret or key, a missing or
// malformed signature and a mismatch all answer false.
namespace herald::inbound {

using FormParams = std::vector<std::pair<std::string, std::string>>;

// application/x-www-form-urlencoded body -> (name, value) pairs, percent-decoded, '+' as space,
// in body order.
FormParams parse_form(std::string_view body);

// base64(HMAC-SHA1(auth_token, url + each name+value sorted by name)), as Twilio computes
// X-Twilio-Signature; `url` is the full URL Twilio requested, query string included.
std::string twilio_signature(std::string_view auth_token, std::string_view url,
                             FormParams params);

// Compares in constant time.
bool twilio_signature_valid(std::string_view auth_token, std::string_view url,
                            const FormParams& params, std::string_view signature);

// SendGrid's Event Webhook: an ECDSA P-256 / SHA-256 signature (base64 DER) over the timestamp
// header followed by the raw body, checked against the verification key as SendGrid shows it
// (base64 DER SubjectPublicKeyInfo).
class SendgridVerifier {
 public:
  // kInvalidArgument when the key is not a base64 P-256 public key.
  static Result<SendgridVerifier> from_key(std::string_view key_base64);
  bool valid(std::string_view timestamp, std::string_view body,
             std::string_view signature_base64) const;

 private:
  explicit SendgridVerifier(std::string der) : der_(std::move(der)) {}
  std::string der_;  // parsed per call, so no OpenSSL object is shared between threads
};

}  // namespace herald::inbound
