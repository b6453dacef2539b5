#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "service/core/config.h"
#include "tests/support/config_fixture.h"

namespace herald::core {
namespace {

class ChannelConfigTest : public testing::ConfigFixture {};

TEST_F(ChannelConfigTest, EveryChannelIsTheSandboxByDefault) {
  Config c = load("");
  EXPECT_EQ(c.sms_provider, "sandbox");
  EXPECT_EQ(c.voice_provider, "sandbox");
  EXPECT_EQ(c.webhook_provider, "sandbox");
  EXPECT_EQ(c.twilio.base_url, "https://api.twilio.com");
  EXPECT_EQ(c.twilio.max_connections, 16);
  EXPECT_EQ(c.twilio.engine_threads, 2);
}

TEST_F(ChannelConfigTest, TwilioFromTheFileWithTheTokenFromTheEnvironment) {
  env_["HERALD_TWILIO_AUTH_TOKEN"] = "tok-123";
  Config c = load(yaml(R"(
channels:
  sms: {provider: twilio}
  voice: {provider: twilio}
twilio:
  base_url: http://127.0.0.1:9999
  account_sid: AC0123456789abcdef0123456789abcdef
  sms_from: "+15550001111"
  voice_from: "+15550002222"
  max_connections: 4
  max_in_flight: 32
  timeout_ms: 1500
  engine_threads: 3
)"));
  EXPECT_EQ(c.sms_provider, "twilio");
  EXPECT_EQ(c.voice_provider, "twilio");
  EXPECT_EQ(c.twilio.base_url, "http://127.0.0.1:9999");
  EXPECT_EQ(c.twilio.account_sid, "AC0123456789abcdef0123456789abcdef");
  EXPECT_EQ(c.twilio.sms_from, "+15550001111");
  EXPECT_EQ(c.twilio.voice_from, "+15550002222");
  EXPECT_EQ(c.twilio.max_connections, 4);
  EXPECT_EQ(c.twilio.max_in_flight, 32);
  EXPECT_EQ(c.twilio.timeout_ms, 1500);
  EXPECT_EQ(c.twilio.engine_threads, 3);
  EXPECT_EQ(c.twilio.auth_token, "tok-123");
}

TEST_F(ChannelConfigTest, EverySettingHasAnEnvironmentTwin) {
  env_ = {{"HERALD_PII_KEY", kPiiKey},
          {"HERALD_TOKEN_KEY", kTokenKey},
          {"HERALD_SMS_PROVIDER", "twilio"},
          {"HERALD_TWILIO_ACCOUNT_SID", "AC1"},
          {"HERALD_TWILIO_AUTH_TOKEN", "t"},
          {"HERALD_TWILIO_MESSAGING_SERVICE_SID", "MG1"},
          {"HERALD_TWILIO_BASE_URL", "https://api.example.test"},
          {"HERALD_TWILIO_MAX_IN_FLIGHT", "8"},
          {"HERALD_TWILIO_ENGINE_THREADS", "4"},
          {"HERALD_WEBHOOK_PROVIDER", "http"},
          {"HERALD_WEBHOOK_URL", "https://crm.example.com/hook"},
          {"HERALD_WEBHOOK_SECRET", "whsec"},
          {"HERALD_WEBHOOK_TIMEOUT_MS", "2500"}};
  Config c = load("");
  EXPECT_EQ(c.sms_provider, "twilio");
  EXPECT_EQ(c.twilio.messaging_service_sid, "MG1");
  EXPECT_EQ(c.twilio.base_url, "https://api.example.test");
  EXPECT_EQ(c.twilio.max_in_flight, 8);
  EXPECT_EQ(c.twilio.engine_threads, 4);
  EXPECT_EQ(c.webhook_provider, "http");
  EXPECT_EQ(c.webhook.url, "https://crm.example.com/hook");
  EXPECT_EQ(c.webhook.secret, "whsec");
  EXPECT_EQ(c.webhook.timeout_ms, 2500);
}

TEST_F(ChannelConfigTest, TwilioWithoutItsSettingsStopsStartUpNamingWhatIsMissing) {
  env_["HERALD_SMS_PROVIDER"] = "twilio";
  EXPECT_NE(error("").find("twilio.account_sid"), std::string::npos);
  env_["HERALD_TWILIO_ACCOUNT_SID"] = "AC1";
  EXPECT_NE(error("").find("HERALD_TWILIO_AUTH_TOKEN"), std::string::npos);
  env_["HERALD_TWILIO_AUTH_TOKEN"] = "t";
  EXPECT_NE(error("").find("twilio.sms_from"), std::string::npos);
  env_["HERALD_TWILIO_SMS_FROM"] = "+15550001111";
  EXPECT_NO_THROW(load(""));
  env_["HERALD_VOICE_PROVIDER"] = "twilio";
  EXPECT_NE(error("").find("twilio.voice_from"), std::string::npos);
}

TEST_F(ChannelConfigTest, WebhookWithoutUrlOrSecretStopsStartUp) {
  env_["HERALD_WEBHOOK_PROVIDER"] = "http";
  EXPECT_NE(error("").find("webhook.url"), std::string::npos);
  env_["HERALD_WEBHOOK_URL"] = "https://crm.example.com/hook";
  EXPECT_NE(error("").find("HERALD_WEBHOOK_SECRET"), std::string::npos);
}

TEST_F(ChannelConfigTest, SecretsAndUnknownProvidersAreRefused) {
  EXPECT_NE(error(yaml("twilio:\n  auth_token: abc\n")).find("environment"), std::string::npos);
  EXPECT_NE(error(yaml("webhook:\n  secret: abc\n")).find("environment"), std::string::npos);
  std::string bad = error(yaml("channels:\n  sms:\n    provider: nexmo\n"));
  EXPECT_NE(bad.find("channels.sms.provider"), std::string::npos);
  EXPECT_NE(bad.find("sandbox, twilio"), std::string::npos);
  EXPECT_NE(error(yaml("webhook:\n  url: crm.example.com\n")).find("webhook.url"),
            std::string::npos);
}

}  // namespace
}  // namespace herald::core
