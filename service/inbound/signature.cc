#include "service/inbound/signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>

#include "service/core/crypto.h"
#include "service/http/types.h"

namespace herald::inbound {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(std::max(n, 0)));
  return out;
}

Pkey parse_p256(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Pkey key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC || EVP_PKEY_get_bits(key.get()) != 256) {
    return nullptr;
  }
  return key;
}

}  // namespace

FormParams parse_form(std::string_view body) {
  FormParams out;
  while (!body.empty()) {
    const auto amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    out.emplace_back(http::percent_decode(pair.substr(0, eq), true),
                     eq == std::string_view::npos ? std::string{}
                                                  : http::percent_decode(pair.substr(eq + 1), true));
  }
  return out;
}

std::string twilio_signature(std::string_view auth_token, std::string_view url,
                             FormParams params) {
  // Twilio sorts by name; a stable sort keeps repeated names in the order they were sent.
  std::stable_sort(params.begin(), params.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string data(url);
  for (const auto& [name, value] : params) {
    data += name;
    data += value;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), auth_token.data(), static_cast<int>(auth_token.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return base64(std::string_view(reinterpret_cast<const char*>(mac), len));
}

bool twilio_signature_valid(std::string_view auth_token, std::string_view url,
                            const FormParams& params, std::string_view signature) {
  if (auth_token.empty() || signature.empty()) return false;
  const std::string expected = twilio_signature(auth_token, url, params);
  return expected.size() == signature.size() &&
         CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0;
}

Result<SendgridVerifier> SendgridVerifier::from_key(std::string_view key_base64) {
  auto der = core::base64_decode(key_base64);
  if (!der.ok() || !parse_p256(*der)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "sendgrid.verification_key: expected the base64 P-256 public key SendGrid "
                      "shows",
                      "sendgrid.verification_key");
  }
  return SendgridVerifier(std::move(*der));
}

bool SendgridVerifier::valid(std::string_view timestamp, std::string_view body,
                             std::string_view signature_base64) const {
  if (timestamp.empty() || signature_base64.empty()) return false;
  auto sig = core::base64_decode(signature_base64);
  Pkey key = parse_p256(der_);
  if (!sig.ok() || sig->empty() || !key) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestVerifyUpdate(ctx.get(), timestamp.data(), timestamp.size()) != 1 ||
      EVP_DigestVerifyUpdate(ctx.get(), body.data(), body.size()) != 1) {
    return false;
  }
  return EVP_DigestVerifyFinal(ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()),
                               sig->size()) == 1;
}

}  // namespace herald::inbound
