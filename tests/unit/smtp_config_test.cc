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

class SmtpConfig : public testing::ConfigFixture {};

TEST_F(SmtpConfig, EmailStaysInTheSandboxByDefault) {
  const Config c = load();
  EXPECT_EQ(c.email_provider, "sandbox");
  EXPECT_EQ(c.smtp.connections, 4);
  EXPECT_EQ(c.smtp.timeout_ms, 10000);
  EXPECT_FALSE(c.smtp.starttls);
}

TEST_F(SmtpConfig, EverySettingFromTheFile) {
  env_["HERALD_SMTP_PASSWORD"] = "s3cret";
  const Config c = load(yaml(R"(
channels:
  email:
    provider: smtp
smtp:
  url: smtp://smtp.sendgrid.net:587
  from: alerts@metro-power.example
  from_name: Metro Power Alerts
  username: apikey
  starttls: true
  connections: 8
  timeout_ms: 15000
  message_id_domain: mail.metro-power.example
  unsubscribe_mailto: unsubscribe@metro-power.example
)"));
  EXPECT_EQ(c.email_provider, "smtp");
  EXPECT_EQ(c.smtp.url, "smtp://smtp.sendgrid.net:587");
  EXPECT_EQ(c.smtp.from, "alerts@metro-power.example");
  EXPECT_EQ(c.smtp.from_name, "Metro Power Alerts");
  EXPECT_EQ(c.smtp.username, "apikey");
  EXPECT_EQ(c.smtp.password, "s3cret");
  EXPECT_TRUE(c.smtp.starttls);
  EXPECT_EQ(c.smtp.connections, 8);
  EXPECT_EQ(c.smtp.timeout_ms, 15000);
  EXPECT_EQ(c.smtp.message_id_domain, "mail.metro-power.example");
  EXPECT_EQ(c.smtp.unsubscribe_mailto, "unsubscribe@metro-power.example");
}

TEST_F(SmtpConfig, EnvironmentOverridesTheFile) {
  env_["HERALD_EMAIL_PROVIDER"] = "smtp";
  env_["HERALD_SMTP_URL"] = "smtps://mail.example.com:465";
  env_["HERALD_SMTP_FROM"] = "alerts@example.com";
  env_["HERALD_SMTP_FROM_NAME"] = "Compañía Eléctrica";
  env_["HERALD_SMTP_STARTTLS"] = "false";
  env_["HERALD_SMTP_CONNECTIONS"] = "2";
  env_["HERALD_SMTP_TIMEOUT_MS"] = "500";
  env_["HERALD_SMTP_MESSAGE_ID_DOMAIN"] = "example.com";
  env_["HERALD_SMTP_UNSUBSCRIBE_MAILTO"] = "leave@example.com";
  const Config c = load(yaml("smtp:\n  url: smtp://other:25\n  connections: 9\n"));
  EXPECT_EQ(c.email_provider, "smtp");
  EXPECT_EQ(c.smtp.url, "smtps://mail.example.com:465");
  EXPECT_EQ(c.smtp.from_name, "Compañía Eléctrica");
  EXPECT_EQ(c.smtp.connections, 2);
  EXPECT_EQ(c.smtp.timeout_ms, 500);
  EXPECT_EQ(c.smtp.unsubscribe_mailto, "leave@example.com");
  EXPECT_TRUE(c.smtp.password.empty()) << "no login configured, no password needed";
}

TEST_F(SmtpConfig, SmtpWithoutUrlOrSenderStopsStartUpNamingIt) {
  env_["HERALD_EMAIL_PROVIDER"] = "smtp";
  EXPECT_NE(error().find("smtp.url"), std::string::npos);
  env_["HERALD_SMTP_URL"] = "smtp://127.0.0.1:2525";
  EXPECT_NE(error().find("smtp.from"), std::string::npos);
  env_["HERALD_SMTP_FROM"] = "alerts@example.com";
  EXPECT_EQ(load().email_provider, "smtp");
}

TEST_F(SmtpConfig, ALoginNeedsThePasswordFromTheEnvironment) {
  env_["HERALD_EMAIL_PROVIDER"] = "smtp";
  env_["HERALD_SMTP_URL"] = "smtp://127.0.0.1:2525";
  env_["HERALD_SMTP_FROM"] = "alerts@example.com";
  env_["HERALD_SMTP_USERNAME"] = "apikey";
  EXPECT_NE(error().find("HERALD_SMTP_PASSWORD"), std::string::npos);
  const std::string msg = error(yaml("smtp:\n  password: hunter2\n"));
  EXPECT_NE(msg.find("environment"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("hunter2"), std::string::npos) << "a secret is never echoed";
}

TEST_F(SmtpConfig, BadValuesAreRefusedNamingTheKey) {
  EXPECT_NE(error(yaml("channels:\n  email:\n    provider: sendmail\n")).find("channels.email.provider"),
            std::string::npos);
  EXPECT_NE(error(yaml("smtp:\n  url: http://mail.example.com\n")).find("smtp.url"),
            std::string::npos);
  const std::string creds = error(yaml("smtp:\n  url: smtp://user:pw@mail.example.com:587\n"));
  EXPECT_NE(creds.find("smtp.username"), std::string::npos) << creds;
  EXPECT_EQ(creds.find("pw@"), std::string::npos) << "the URL with its password is not echoed";
  EXPECT_NE(error(yaml("smtp:\n  from: not-an-address\n")).find("smtp.from"), std::string::npos);
  EXPECT_NE(error(yaml("smtp:\n  starttls: maybe\n")).find("smtp.starttls"), std::string::npos);
  EXPECT_NE(error(yaml("smtp:\n  connections: 0\n")).find("smtp.connections"), std::string::npos);
  EXPECT_NE(error(yaml("smtp:\n  timeout_ms: 10\n")).find("smtp.timeout_ms"), std::string::npos);
  EXPECT_NE(error(yaml("smtp:\n  message_id_domain: a b\n")).find("smtp.message_id_domain"),
            std::string::npos);
  EXPECT_NE(error(yaml("smtp:\n  unsubscribe_mailto: x\n")).find("smtp.unsubscribe_mailto"),
            std::string::npos);
}

}  // namespace
}  // namespace herald::core
