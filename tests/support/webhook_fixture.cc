#include "tests/support/webhook_fixture.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "service/core/crypto.h"
#include "service/store/keys.h"

namespace herald::testing {
namespace {

namespace fs = std::filesystem;

// SendGrid's test key pair (sendgrid-go's eventwebhook tests): the public half is what the
// console would show; the private half lets the tests sign like SendGrid does.
constexpr const char* kSendgridPublicKey =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGh"
    "HPTnlvFYPAZFceEu/1FwCM/QmGUhA==";
constexpr const char* kSendgridPrivateKey =
    "MHcCAQEEIEQmZgBEh9DcU9zMl34czK3xov4AYvm9P3r7rNB2dNXtoAoGCCqGSM49AwEHoUQDQgAEEDr2LjtURuePQzpl"
    "ybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==";

std::string sign_p256(const std::string& data) {
  const std::string der = *core::base64_decode(kSendgridPrivateKey);
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EVP_PKEY* key = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  std::string sig;
  if (key && ctx && EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) == 1) {
    sig.resize(len);
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(data.data()), data.size());
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  std::string b64(4 * ((sig.size() + 2) / 3), '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                  reinterpret_cast<const unsigned char*>(sig.data()), static_cast<int>(sig.size()));
  return b64;
}

std::string form_encode(const inbound::FormParams& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += k + '=';
    for (const unsigned char c : v) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", c);
        out += buf;
      }
    }
  }
  return out;
}

}  // namespace

void WebhookFixture::SetUp() {
  dir_ = fs::temp_directory_path() / ("herald-webhooks-" + std::to_string(::getpid()));
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  redis_ = std::make_unique<RedisServer>(RedisServerOptions{.aof = false, .extra_args = {}});
  HeralddOptions options;
  options.redis_url = redis_->url();
  options.extra_env = {{"HERALD_SANDBOX_DIR", dir_.string()},
                       {"HERALD_PUBLIC_URL", kPublicUrl},
                       {"HERALD_TWILIO_AUTH_TOKEN", kTwilioToken},
                       {"HERALD_SENDGRID_VERIFICATION_KEY", kSendgridPublicKey}};
  heraldd_ = std::make_unique<HeralddProcess>(options);
  http_ = std::make_unique<HttpClient>(heraldd_->base_url(), std::chrono::seconds(10));
}

void WebhookFixture::TearDown() {
  http_.reset();
  heraldd_.reset();
  redis_.reset();
  fs::remove_all(dir_);
}

redis::Connection WebhookFixture::redis() {
  auto conn = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
  if (!conn.ok()) throw std::runtime_error("cannot connect to the test redis-server");
  return std::move(*conn);
}

uint64_t WebhookFixture::put_customer(const std::string& id, const std::string& phone,
                                      const std::string& language, const std::string& channels) {
  const std::string body =
      R"({"name":"Grace Hopper","phone":")" + phone + R"(","email":")" + id +
      R"(@example.net","timeZone":"America/New_York","language":")" + language +
      R"(","premises":[{"id":"P-)" + id +
      R"(","address":"7 Harbor Rd","feeder":"F-1","zip":"10009"}],"preferences":{"channels":)"
      R"({"OUTAGE":)" + channels + R"(,"PLANNED_MAINTENANCE":)" + channels +
      R"(},"cadence":"EVERY_UPDATE"}})";
  auto r = http_->request("PUT", "/v1/customers/" + id, body, bearer(heraldd_->admin_key()));
  EXPECT_TRUE(r.status == 201 || r.status == 200) << r.body;
  auto conn = redis();
  auto cid = conn.command(redis::cmd("HGET", store::customer_id_key(id), id));
  return cid.ok() ? std::stoull(cid->str) : 0;
}

HttpResponse WebhookFixture::twilio_post(const std::string& target,
                                         const inbound::FormParams& params) {
  const std::string sig =
      inbound::twilio_signature(kTwilioToken, std::string(kPublicUrl) + target, params);
  return http_->request("POST", target, form_encode(params),
                        {{"Content-Type", "application/x-www-form-urlencoded"},
                         {"X-Twilio-Signature", sig}});
}

HttpResponse WebhookFixture::sendgrid_post(const std::string& body, const std::string& timestamp) {
  return http_->request("POST", "/v1/webhooks/sendgrid/events", body,
                        {{"Content-Type", "application/json"},
                         {"X-Twilio-Email-Event-Webhook-Timestamp", timestamp},
                         {"X-Twilio-Email-Event-Webhook-Signature", sign_p256(timestamp + body)}});
}

void WebhookFixture::raise_outage(const std::string& id, const std::string& stage) {
  const bool create = stage == "DETECTED";
  const std::string body =
      create ? R"({"id":")" + id +
                   R"(","kind":"OUTAGE","stage":"DETECTED","severity":"URGENT",)"
                   R"("area":{"feeders":["F-1"]},"cause":"storm",)"
                   R"("estimatedRestoration":"2030-01-01T23:00:00Z"})"
             : R"({"stage":")" + stage + R"("})";
  const std::string path = create ? "/v1/events" : "/v1/events/" + id + "/updates";
  auto r = http_->request("POST", path, body, bearer(heraldd_->operator_key()));
  ASSERT_EQ(r.status, 202) << r.body;
}

std::vector<std::string> WebhookFixture::sandbox_lines(const std::string& channel,
                                                       const std::string& needle,
                                                       size_t at_least) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  std::vector<std::string> out;
  while (true) {
    out.clear();
    std::ifstream in(dir_ / (channel + ".jsonl"));
    for (std::string line; std::getline(in, line);) {
      if (line.find(needle) != std::string::npos) out.push_back(line);
    }
    if (out.size() >= at_least || std::chrono::steady_clock::now() > until) return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace herald::testing
