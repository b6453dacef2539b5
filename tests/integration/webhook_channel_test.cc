#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "channels/http_engine.h"
#include "channels/webhook.h"
#include "tests/support/http_client.h"
#include "tests/support/twilio_peer.h"

namespace herald::testing {
namespace {

using channels::SendResult;
using Status = SendResult::Status;

constexpr const char* kSecret = "whsec-integration";

class WebhookChannelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TwilioPeerOptions o;
    o.webhook_secret = kSecret;
    peer_ = std::make_unique<TwilioPeer>(o);
  }
  static void TearDownTestSuite() { peer_.reset(); }
  void SetUp() override { peer_->set_mode(R"({"mode":"ok"})"); }

  channels::WebhookChannel channel(const std::string& secret = kSecret) {
    return channels::WebhookChannel({peer_->base_url() + "/hook/herald", secret},
                                    std::make_shared<channels::HttpEngine>(
                                        channels::HttpEngineOptions{}));
  }
  static v1::OutboundMessage message() {
    v1::OutboundMessage m;
    m.set_id("OUT-3:1:WEBHOOK:12");
    m.set_customer_id("C-12");
    m.set_event_id("OUT-3");
    m.set_revision(1);
    m.set_channel(v1::WEBHOOK);
    m.set_language("es");
    return m;
  }
  static v1::MessageContent content() {
    v1::MessageContent c;
    c.set_to("+12014316859");
    c.set_sms("Corte de luz en su zona");
    return c;
  }

  static std::unique_ptr<TwilioPeer> peer_;
};

std::unique_ptr<TwilioPeer> WebhookChannelTest::peer_;

TEST_F(WebhookChannelTest, TheReceiverVerifiesTheSignatureAndGetsTheMessage) {
  const size_t before = peer_->requests().size();
  auto ch = channel();
  SendResult r = ch.send(message(), content());
  ASSERT_EQ(r.status, Status::kSent) << r.detail;
  EXPECT_EQ(r.provider_id.rfind("crm-", 0), 0u) << r.provider_id;
  auto seen = peer_->requests();
  ASSERT_EQ(seen.size(), before + 1);
  const auto& hook = seen.back();
  EXPECT_EQ(hook.get("signature_ok"), "true");
  EXPECT_EQ(hook.get("content_type"), "application/json");
  const std::string body = hook.get("body").value_or("");
  EXPECT_EQ(json_at(body, "id"), "OUT-3:1:WEBHOOK:12");
  EXPECT_EQ(json_at(body, "customerId"), "C-12");
  EXPECT_EQ(json_at(body, "language"), "es");
  EXPECT_EQ(json_at(body, "sms"), "Corte de luz en su zona");
}

TEST_F(WebhookChannelTest, AWrongSecretIsRejectedByTheReceiver) {
  auto ch = channel("not-the-secret");
  SendResult r = ch.send(message(), content());
  EXPECT_EQ(r.status, Status::kPermanent);
  EXPECT_EQ(r.error_code, "401");
}

TEST_F(WebhookChannelTest, RateLimitsAndServerErrorsAreRetriedClientErrorsAreNot) {
  auto ch = channel();
  peer_->set_mode(R"({"mode":"429","retry_after":3,"count":1})");
  SendResult limited = ch.send(message(), content());
  EXPECT_EQ(limited.status, Status::kRetry);
  EXPECT_EQ(limited.retry_after, std::chrono::seconds(3));
  peer_->set_mode(R"({"mode":"500","count":1})");
  EXPECT_EQ(ch.send(message(), content()).status, Status::kRetry);
  peer_->set_mode(R"({"mode":"error","status":422,"count":1})");
  SendResult rejected = ch.send(message(), content());
  EXPECT_EQ(rejected.status, Status::kPermanent);
  EXPECT_EQ(rejected.failure, SendResult::Failure::kRejected);
  EXPECT_EQ(ch.send(message(), content()).status, Status::kSent);
}

}  // namespace
}  // namespace herald::testing
