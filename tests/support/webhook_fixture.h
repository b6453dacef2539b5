#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "service/inbound/signature.h"
#include "tests/support/heraldd_process.h"
#include "tests/support/http_client.h"
#include "tests/support/redis_server.h"

namespace herald::testing {

// A redis-server and a heraldd with the webhooks' secrets set (per test: the state they
// change is global), and helpers that sign requests the way Twilio and SendGrid do.
class WebhookFixture : public ::testing::Test {
 protected:
  static constexpr const char* kPublicUrl = "https://herald.example.test";
  static constexpr const char* kTwilioToken = "twilio-test-auth-token";

  void SetUp() override;
  void TearDown() override;

  // Stores a customer (201) and returns their internal number.
  uint64_t put_customer(const std::string& id, const std::string& phone,
                        const std::string& language = "en",
                        const std::string& channels = R"(["SMS","EMAIL"])");
  // Posts form parameters to `target` (path and query) signed with the test auth token.
  HttpResponse twilio_post(const std::string& target, const inbound::FormParams& params);
  // Posts a SendGrid event batch signed with the private half of SendGrid's test key.
  HttpResponse sendgrid_post(const std::string& body, const std::string& timestamp = "1700000000");
  // Raises an outage on feeder F-1 as operator (202).
  void raise_outage(const std::string& id, const std::string& stage = "DETECTED");

  redis::Connection redis();
  // Sandbox lines for `channel` ("sms", "email") holding `needle`, waited for (bounded).
  std::vector<std::string> sandbox_lines(const std::string& channel, const std::string& needle,
                                         size_t at_least = 1);

  std::filesystem::path dir_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<HeralddProcess> heraldd_;
  std::unique_ptr<HttpClient> http_;
};

}  // namespace herald::testing
