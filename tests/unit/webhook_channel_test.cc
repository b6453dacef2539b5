#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <string>

#include "channels/webhook.h"
#include "tests/support/http_client.h"

namespace herald::channels {
namespace {

using Status = SendResult::Status;
using testing::json_at;

HttpReply reply(long status, std::string body = {}) {
  HttpReply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

v1::OutboundMessage message() {
  v1::OutboundMessage m;
  m.set_id("E-9:2:WEBHOOK:5");
  m.set_customer_id("C-5");
  m.set_event_id("E-9");
  m.set_revision(2);
  m.set_channel(v1::WEBHOOK);
  m.set_priority(v1::PRIORITY_EMERGENCY);
  m.set_language("es");
  *m.mutable_queued_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1'700'000'000);
  return m;
}

TEST(WebhookSignatureTest, IsHmacSha256OfTimestampDotBodyInHex) {
  // Reference value: Python's hmac.new(b"whsec-test", b'1700000000.{"id":"m1"}', sha256).
  EXPECT_EQ(webhook_signature("whsec-test", "1700000000", R"({"id":"m1"})"),
            "sha256=d68e9129e4c26858a7502ccedea45e92f571ea7d39dd79ad2e6bc77ae768ebfe");
  EXPECT_NE(webhook_signature("other", "1700000000", R"({"id":"m1"})"),
            webhook_signature("whsec-test", "1700000000", R"({"id":"m1"})"));
  EXPECT_NE(webhook_signature("whsec-test", "1700000001", R"({"id":"m1"})"),
            webhook_signature("whsec-test", "1700000000", R"({"id":"m1"})"));
}

TEST(WebhookBodyTest, CarriesTheMessageAndItsContent) {
  v1::MessageContent content;
  content.set_to("+12014316859");
  content.set_sms("Corte de luz \"F-1\"");
  content.set_voice("Aviso");
  std::string body = webhook_body(message(), content);
  EXPECT_EQ(json_at(body, "id"), "E-9:2:WEBHOOK:5");
  EXPECT_EQ(json_at(body, "customerId"), "C-5");
  EXPECT_EQ(json_at(body, "eventId"), "E-9");
  EXPECT_EQ(json_at(body, "revision"), "2");
  EXPECT_EQ(json_at(body, "channel"), "WEBHOOK");
  EXPECT_EQ(json_at(body, "priority"), "PRIORITY_EMERGENCY");
  EXPECT_EQ(json_at(body, "language"), "es");
  EXPECT_EQ(json_at(body, "sms"), "Corte de luz \"F-1\"");
  EXPECT_EQ(json_at(body, "voice"), "Aviso");
  EXPECT_EQ(json_at(body, "queuedAt"), "2023-11-14T22:13:20Z");
  EXPECT_EQ(json_at(body, "subject"), std::nullopt);  // absent content is left out
}

TEST(WebhookRequestTest, IsSignedOverTheExactBodySent) {
  WebhookChannel channel({"https://crm.example.com:8443/herald", "s3cret"}, nullptr);
  v1::MessageContent content;
  content.set_sms("x");
  auto req = channel.request(message(), content, 1'700'000'123);
  EXPECT_EQ(req.url, "https://crm.example.com:8443/herald");
  std::string signature;
  std::string timestamp;
  for (const auto& h : req.headers) {
    if (h.rfind("X-Herald-Signature: ", 0) == 0) signature = h.substr(20);
    if (h.rfind("X-Herald-Timestamp: ", 0) == 0) timestamp = h.substr(20);
  }
  EXPECT_EQ(timestamp, "1700000123");
  EXPECT_EQ(signature, webhook_signature("s3cret", "1700000123", req.body));
  EXPECT_EQ(channel.budget_key(), "webhook:crm.example.com");
}

TEST(WebhookResultTest, MapsStatusesToSentRetryAndRejected) {
  auto ok = webhook_result(reply(202, R"({"id": "crm-77"})"), "m1");
  EXPECT_EQ(ok.status, Status::kSent);
  EXPECT_EQ(ok.provider_id, "crm-77");
  EXPECT_EQ(webhook_result(reply(204), "m1").provider_id, "m1");
  EXPECT_EQ(webhook_result(reply(429), "m1").status, Status::kRetry);
  EXPECT_EQ(webhook_result(reply(502), "m1").status, Status::kRetry);
  EXPECT_EQ(webhook_result(HttpReply{}, "m1").status, Status::kRetry);
  auto bad = webhook_result(reply(422, "customer +12014316859 unknown"), "m1");
  EXPECT_EQ(bad.status, Status::kPermanent);
  EXPECT_EQ(bad.failure, SendResult::Failure::kRejected);
  EXPECT_EQ(bad.error_code, "422");
  EXPECT_EQ(bad.detail.find("4316859"), std::string::npos) << bad.detail;
}

}  // namespace
}  // namespace herald::channels
