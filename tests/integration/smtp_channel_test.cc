#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "channels/smtp.h"
#include "tests/support/free_port.h"
#include "tests/support/heraldd_process.h"
#include "tests/support/smtp_sink.h"

namespace herald::testing {
namespace {

using channels::Outgoing;
using channels::SendResult;
using channels::SmtpChannel;
using channels::SmtpOptions;

constexpr const char* kFrom = "alerts@metro-power.example";

// Messages and their contents, kept alive for the spans handed to send_batch.
struct Batch {
  std::vector<v1::OutboundMessage> msgs;
  std::vector<v1::MessageContent> contents;

  void add(const std::string& to, const std::string& lang = "en") {
    v1::OutboundMessage m;
    m.set_id("OUT-5:1:EMAIL:" + std::to_string(msgs.size() + 1));
    m.set_channel(v1::EMAIL);
    m.set_language(lang);
    v1::MessageContent c;
    c.set_to(to);
    if (lang == "es") {
      c.set_subject("Corte de luz en Calle Señora Núñez 5");
      c.set_text("Hola, Begoña:\n\nSabemos que hay un corte de luz. Manténgase lejos de los "
                 "cables caídos.\n¿Preguntas? Llámenos.\n");
      c.set_html("<p>Hola, Begoña:</p><p>Sabemos que hay un corte de luz.</p>");
    } else {
      c.set_subject("Power outage at 12 Elm St");
      c.set_text("Hello Ada,\n\nWe know about a power outage at 12 Elm St.\n");
      c.set_html("<p>Hello Ada,</p><p>We know about a power outage at <b>12 Elm St</b>.</p>");
    }
    c.set_unsubscribe_url("https://herald.example/v1/customers/C-" +
                          std::to_string(msgs.size() + 1) + "/email-unsubscribe?token=hct1.t");
    msgs.push_back(std::move(m));
    contents.push_back(std::move(c));
  }
  std::vector<Outgoing> outgoing(size_t from = 0, size_t n = SIZE_MAX) const {
    std::vector<Outgoing> out;
    for (size_t i = from; i < msgs.size() && out.size() < n; ++i) {
      out.push_back(Outgoing{&msgs[i], &contents[i]});
    }
    return out;
  }
};

SmtpOptions options_for(const SmtpSink& sink) {
  SmtpOptions o;
  o.url = sink.url();
  o.from = kFrom;
  o.from_name = "Metro Power Alerts";
  o.connections = 4;
  o.timeout = std::chrono::seconds(10);
  o.message_id_domain = "mail.metro-power.example";
  o.unsubscribe_mailto = "unsubscribe@metro-power.example";
  return o;
}

class SmtpChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = SmtpSink::unavailable(); !why.empty()) GTEST_SKIP() << why;
  }
};

TEST_F(SmtpChannelTest, OneMessageArrivesWithHeadersAndBothParts) {
  SmtpSink sink;
  SmtpChannel channel(options_for(sink));
  Batch b;
  b.add("ada.lovelace@example.net");
  const SendResult r = channel.send(b.msgs[0], b.contents[0]);
  ASSERT_EQ(r.status, SendResult::Status::kSent) << r.error_code << " " << r.detail;
  EXPECT_EQ(r.provider_id, "<OUT-5.1.EMAIL.1@mail.metro-power.example>");

  const auto got = sink.await(1);
  ASSERT_EQ(got.size(), 1u);
  const auto& m = got[0];
  EXPECT_EQ(m.mail_from, kFrom);
  EXPECT_EQ(m.rcpt_to, "ada.lovelace@example.net");
  EXPECT_EQ(m.header("from"), "Metro Power Alerts <alerts@metro-power.example>");
  EXPECT_EQ(m.header("to"), "ada.lovelace@example.net");
  EXPECT_EQ(m.header("subject"), "Power outage at 12 Elm St");
  EXPECT_EQ(m.header("message-id"), r.provider_id);
  EXPECT_EQ(m.header("content-language"), "en");
  EXPECT_TRUE(m.header("date").has_value());
  EXPECT_EQ(m.header("list-unsubscribe"),
            "<mailto:unsubscribe@metro-power.example?subject=unsubscribe>, "
            "<https://herald.example/v1/customers/C-1/email-unsubscribe?token=hct1.t>");
  EXPECT_EQ(m.header("list-unsubscribe-post"), "List-Unsubscribe=One-Click");
  EXPECT_EQ(m.header("x-smtpapi"), R"({"unique_args":{"herald_message_id":"OUT-5:1:EMAIL:1"}})");
  EXPECT_EQ(m.parts(), (std::vector<std::string>{"text/plain", "text/html"}));
  EXPECT_EQ(m.text, "Hello Ada,\n\nWe know about a power outage at 12 Elm St.\n");
  EXPECT_EQ(m.html, "<p>Hello Ada,</p><p>We know about a power outage at <b>12 Elm St</b>.</p>");
  EXPECT_LE(m.max_line, 998);
  EXPECT_FALSE(m.bare_lf);
  EXPECT_EQ(channel.budget_key(), "smtp:127.0.0.1:alerts@metro-power.example");
}

TEST_F(SmtpChannelTest, SpanishArrivesIntactWithItsLanguage) {
  SmtpSink sink;
  SmtpChannel channel(options_for(sink));
  Batch b;
  b.add("begona@example.net", "es");
  ASSERT_EQ(channel.send(b.msgs[0], b.contents[0]).status, SendResult::Status::kSent);
  const auto got = sink.await(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].header("subject"), "Corte de luz en Calle Señora Núñez 5");
  EXPECT_EQ(got[0].header("content-language"), "es");
  EXPECT_EQ(got[0].text, b.contents[0].text());
  EXPECT_EQ(got[0].html, b.contents[0].html());
}

TEST_F(SmtpChannelTest, ABatchOfAHundredGoesOverAFewReusedConnections) {
  SmtpSink sink;
  SmtpChannel channel(options_for(sink));
  Batch b;
  for (int i = 0; i < 100; ++i) b.add("customer" + std::to_string(i) + "@example.net");
  const auto first = b.outgoing(0, 64);
  const auto second = b.outgoing(64);
  auto results = channel.send_batch(first);
  const auto more = channel.send_batch(second);
  results.insert(results.end(), more.begin(), more.end());
  ASSERT_EQ(results.size(), 100u);
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_EQ(results[i].status, SendResult::Status::kSent) << i << ": " << results[i].detail;
  }

  const auto got = sink.await(100);
  ASSERT_EQ(got.size(), 100u);
  std::set<std::string> recipients;
  std::set<long> connections;
  for (const auto& m : got) {
    recipients.insert(m.rcpt_to);
    connections.insert(m.connection);
    EXPECT_EQ(m.parts().size(), 2u);
  }
  EXPECT_EQ(recipients.size(), 100u) << "each customer exactly once";
  EXPECT_LE(connections.size(), 4u) << "connections are reused across messages and batches";
  EXPECT_LE(channel.stats().connections_opened, 4u);
  EXPECT_EQ(channel.stats().sent, 100u);
  EXPECT_LE(sink.stop().connections, 4);
}

TEST_F(SmtpChannelTest, A451IsRetriedLaterAndTheRestGoOut) {
  SmtpSinkOptions faults;
  faults.fail_451 = "^busy@";
  SmtpSink sink(faults);
  SmtpChannel channel(options_for(sink));
  Batch b;
  b.add("first@example.net");
  b.add("busy@example.net");
  b.add("third@example.net");
  const auto results = channel.send_batch(b.outgoing());
  EXPECT_EQ(results[0].status, SendResult::Status::kSent);
  EXPECT_EQ(results[1].status, SendResult::Status::kRetry);
  EXPECT_EQ(results[1].error_code, "451");
  EXPECT_EQ(results[1].detail.find("busy@"), std::string::npos) << results[1].detail;
  EXPECT_EQ(results[2].status, SendResult::Status::kSent);
  EXPECT_EQ(sink.await(2).size(), 2u);
}

TEST_F(SmtpChannelTest, A550MarksTheAddressInvalid) {
  SmtpSinkOptions faults;
  faults.fail_550 = "^gone@";
  SmtpSink sink(faults);
  SmtpChannel channel(options_for(sink));
  Batch b;
  b.add("gone@example.net");
  b.add("here@example.net");
  const auto results = channel.send_batch(b.outgoing());
  EXPECT_EQ(results[0].status, SendResult::Status::kPermanent);
  EXPECT_EQ(results[0].failure, SendResult::Failure::kInvalidContact);
  EXPECT_EQ(results[0].error_code, "550");
  EXPECT_EQ(results[0].detail.find("gone@"), std::string::npos) << results[0].detail;
  EXPECT_EQ(results[1].status, SendResult::Status::kSent) << "one refusal spoils nothing else";
  const auto got = sink.await(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rcpt_to, "here@example.net");
}

TEST_F(SmtpChannelTest, LogsInWithTheConfiguredUser) {
  SmtpSinkOptions login;
  login.auth_user = "herald";
  login.auth_password = "pw-123";
  SmtpSink sink(login);
  auto o = options_for(sink);
  o.username = "herald";
  o.password = "pw-123";
  SmtpChannel channel(o);
  Batch b;
  b.add("ada@example.net");
  ASSERT_EQ(channel.send(b.msgs[0], b.contents[0]).status, SendResult::Status::kSent);
  const auto got = sink.await(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].auth_user, "herald");

  o.password = "wrong";
  SmtpChannel refused(o);
  const SendResult r = refused.send(b.msgs[0], b.contents[0]);
  EXPECT_EQ(r.status, SendResult::Status::kRetry) << "bad credentials must not fail customers";
  EXPECT_EQ(r.error_code, "535");
  EXPECT_GT(r.retry_after.count(), 0);
}

TEST(SmtpChannelFaults, NoServerOrASilentOneIsARetry) {
  SmtpOptions o;
  o.url = "smtp://127.0.0.1:" + std::to_string(free_port());
  o.from = kFrom;
  o.timeout = std::chrono::milliseconds(500);
  Batch b;
  b.add("ada@example.net");
  const SendResult refused = SmtpChannel(o).send(b.msgs[0], b.contents[0]);
  EXPECT_EQ(refused.status, SendResult::Status::kRetry);
  EXPECT_EQ(refused.error_code, "connection");

  // A listener that never greets: the kernel accepts, nobody answers.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  o.url = "smtp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  const auto start = std::chrono::steady_clock::now();
  const SendResult silent = SmtpChannel(o).send(b.msgs[0], b.contents[0]);
  ::close(fd);
  EXPECT_EQ(silent.status, SendResult::Status::kRetry);
  EXPECT_EQ(silent.error_code, "timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// heraldd with channels.email.provider=smtp: an outage reaches each opted-in customer once,
// in their language, with the unsubscribe link minted for them.
class SmtpEndToEnd : public SmtpChannelTest {};

std::string customer_line(const std::string& id, const std::string& name, const std::string& email,
                          const std::string& lang, const std::string& feeder,
                          const std::string& channels) {
  return R"({"id":")" + id + R"(","name":")" + name + R"(","phone":"+12014316859","email":")" +
         email + R"(","timeZone":"America/New_York","language":")" + lang +
         R"(","premises":[{"id":"P-)" + id + R"(","address":"5 Calle Mayor","feeder":")" + feeder +
         R"(","zip":"10009"}],"preferences":{"channels":{"OUTAGE":)" + channels +
         R"(},"cadence":"EVERY_UPDATE"}})";
}

TEST_F(SmtpEndToEnd, AnOutageEmailsEachOptedInCustomerOnceInTheirLanguage) {
  SmtpSink sink;
  RedisServer redis;
  const auto sandbox = std::filesystem::temp_directory_path() /
                       ("herald-smtp-e2e-" + std::to_string(::getpid()));
  HeralddOptions options;
  options.redis_url = redis.url();
  options.extra_env = {{"HERALD_EMAIL_PROVIDER", "smtp"},
                       {"HERALD_SMTP_URL", sink.url()},
                       {"HERALD_SMTP_FROM", kFrom},
                       {"HERALD_SMTP_FROM_NAME", "Metro Power"},
                       {"HERALD_SMTP_UNSUBSCRIBE_MAILTO", "unsubscribe@metro-power.example"},
                       {"HERALD_PUBLIC_URL", "https://herald.metro-power.example"},
                       {"HERALD_SANDBOX_DIR", sandbox.string()}};
  HeralddProcess heraldd(options);
  HttpClient http(heraldd.base_url(), std::chrono::seconds(10));

  const std::string ndjson =
      customer_line("C-EN", "Ada Lovelace", "ada@example.net", "en", "F-9", R"(["EMAIL"])") +
      "\n" +
      customer_line("C-ES", "Begoña Núñez", "begona@example.net", "es", "F-9",
                    R"(["EMAIL","SMS"])") +
      "\n" +
      customer_line("C-SMS", "Grace Hopper", "grace@example.net", "en", "F-9", R"(["SMS"])") +
      "\n" +
      customer_line("C-FAR", "Alan Turing", "alan@example.net", "en", "F-2", R"(["EMAIL"])") +
      "\n";
  auto imported = http.request("POST", "/v1/customers:import", ndjson,
                               bearer(heraldd.admin_key(), "application/x-ndjson"));
  ASSERT_EQ(imported.status, 200) << imported.body;
  ASSERT_EQ(json_at(imported.body, "accepted"), "4") << imported.body;

  auto raised = http.request("POST", "/v1/events",
                             R"({"id":"OUT-9","kind":"OUTAGE","stage":"DETECTED",)"
                             R"("severity":"ADVISORY","area":{"feeders":["F-9"]}})",
                             bearer(heraldd.operator_key()));
  ASSERT_EQ(raised.status, 202) << raised.body;

  auto got = sink.await(2);
  ASSERT_EQ(got.size(), 2u) << heraldd.log();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  got = sink.received();
  ASSERT_EQ(got.size(), 2u) << "exactly one email per opted-in customer in the area";

  for (const auto& m : got) {
    ASSERT_TRUE(m.rcpt_to == "ada@example.net" || m.rcpt_to == "begona@example.net")
        << m.rcpt_to;
    const bool es = m.rcpt_to == "begona@example.net";
    const std::string id = es ? "C-ES" : "C-EN";
    EXPECT_EQ(m.header("to"), m.rcpt_to);
    EXPECT_EQ(m.header("content-language"), es ? "es" : "en");
    EXPECT_EQ(m.header("subject"), es ? "Corte de luz en 5 Calle Mayor" : "Power outage at 5 Calle Mayor");
    EXPECT_NE(m.text.find(es ? "Hola, Begoña:" : "Ada"), std::string::npos) << m.text;
    EXPECT_EQ(m.parts(), (std::vector<std::string>{"text/plain", "text/html"}));
    const std::string unsubscribe = m.header("list-unsubscribe").value_or("");
    EXPECT_NE(unsubscribe.find("<https://herald.metro-power.example/v1/customers/" + id +
                               "/email-unsubscribe?token=hct1."),
              std::string::npos)
        << unsubscribe;
    EXPECT_NE(unsubscribe.find("<mailto:unsubscribe@metro-power.example?subject=unsubscribe>"),
              std::string::npos);
    EXPECT_EQ(m.header("list-unsubscribe-post"), "List-Unsubscribe=One-Click");
    EXPECT_NE(m.header("x-smtpapi").value_or("").find(R"("herald_message_id":"OUT-9:1:EMAIL:)"),
              std::string::npos);
    EXPECT_EQ(m.header("from"), "Metro Power <alerts@metro-power.example>");
  }
  EXPECT_EQ(heraldd.log().find("begona@example.net"), std::string::npos) << "no address in logs";
  heraldd.stop();
  std::filesystem::remove_all(sandbox);
}

}  // namespace
}  // namespace herald::testing
