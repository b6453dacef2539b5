#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "channels/http_engine.h"
#include "channels/twilio.h"
#include "tests/support/free_port.h"
#include "tests/support/heraldd_process.h"
#include "tests/support/twilio_peer.h"

namespace herald::testing {
namespace {

using channels::HttpEngine;
using channels::HttpEngineOptions;
using channels::Outgoing;
using channels::SendResult;
using channels::TwilioChannel;
using Clock = std::chrono::steady_clock;
using Status = SendResult::Status;
using Failure = SendResult::Failure;

constexpr const char* kPublicUrl = "https://herald.example.com";

struct Msg {
  v1::OutboundMessage msg;
  v1::MessageContent content;
};

Msg sms(const std::string& id, const std::string& to, const std::string& text = "Power is out") {
  Msg m;
  m.msg.set_id(id);
  m.msg.set_channel(v1::SMS);
  m.msg.set_language("en");
  m.content.set_to(to);
  m.content.set_sms(text);
  return m;
}

std::vector<SendResult> send_all(channels::Channel& channel, const std::vector<Msg>& msgs) {
  std::vector<Outgoing> batch;
  for (const auto& m : msgs) batch.push_back({&m.msg, &m.content});
  return channel.send_batch(batch);
}

class TwilioChannelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { peer_ = std::make_unique<TwilioPeer>(); }
  static void TearDownTestSuite() { peer_.reset(); }

  void SetUp() override { peer_->set_mode(R"({"mode":"ok","reset_stats":true})"); }

  std::shared_ptr<HttpEngine> engine(long connections = 4, int timeout_ms = 5000, int threads = 1) {
    HttpEngineOptions o;
    o.threads = threads;
    o.max_connections = connections;
    o.max_in_flight = 64;
    o.timeout = std::chrono::milliseconds(timeout_ms);
    return std::make_shared<HttpEngine>(o);
  }
  channels::TwilioOptions options(const std::string& base_url = peer_->base_url()) const {
    channels::TwilioOptions o;
    o.base_url = base_url;
    o.account_sid = peer_->account_sid();
    o.auth_token = peer_->auth_token();
    o.sms_from = "+15550001111";
    o.voice_from = "+15550002222";
    o.public_url = kPublicUrl;
    return o;
  }
  // 64 messages through an engine of `threads` threads capped at 4 connections in all.
  void expect_64_at_once_over_at_most_4_connections(const std::shared_ptr<HttpEngine>& eng) {
    peer_->set_mode(R"({"mode":"ok","delay_ms":150,"reset_stats":true})");
    const size_t before = peer_->requests().size();
    TwilioChannel channel(v1::SMS, options(), eng);
    std::vector<Msg> msgs;
    for (int i = 0; i < 64; ++i) {
      const std::string n = std::to_string(i);
      msgs.push_back(sms("batch-" + n, "+1201431" + std::to_string(1000 + i), n));
    }
    const auto start = Clock::now();
    auto results = send_all(channel, msgs);
    const auto took = Clock::now() - start;
    std::set<std::string> sids;
    for (const auto& r : results) {
      EXPECT_EQ(r.status, Status::kSent) << r.detail;
      sids.insert(r.provider_id);
    }
    EXPECT_EQ(sids.size(), 64u) << "one message each";
    // One at a time would take 64 x 150 ms = 9.6 s; four connections about 2.4 s.
    EXPECT_LT(took, std::chrono::milliseconds(6000));
    std::vector<TwilioRequest> seen;  // without a slow request an earlier test left behind
    for (auto& s : logged(before)) {
      if (s.form("StatusCallback").value_or("").ends_with("?m=batch-" + s.form("Body").value_or(""))) {
        seen.push_back(std::move(s));
      }
    }
    ASSERT_EQ(seen.size(), 64u);
    std::set<long> connections;
    for (const auto& s : seen) connections.insert(s.conn);
    EXPECT_LE(connections.size(), 4u) << "kept-alive connections are reused";
    // The most of these requests the peer was answering at one moment.
    std::vector<std::pair<double, int>> edges;
    for (const auto& s : seen) {
      edges.emplace_back(std::stod(s.get("time").value_or("0")), 1);
      edges.emplace_back(std::stod(s.get("answered").value_or("0")), -1);
    }
    std::sort(edges.begin(), edges.end());  // an end sorts before a start at the same instant
    int open = 0;
    int most = 0;
    for (const auto& [at, step] : edges) most = std::max(most, open += step);
    EXPECT_LE(most, 4);
    EXPECT_GE(most, 2) << "requests overlap";
    EXPECT_LE(eng->stats().connections_opened, 4u);
  }

  // Requests the peer logged since the test began (the log is shared by the suite).
  std::vector<TwilioRequest> logged(size_t since) const {
    auto all = peer_->requests();
    return {all.begin() + static_cast<long>(std::min(since, all.size())), all.end()};
  }

  static std::unique_ptr<TwilioPeer> peer_;
};

std::unique_ptr<TwilioPeer> TwilioChannelTest::peer_;

TEST_F(TwilioChannelTest, CreatedIsSentWithTheSidAndTheDocumentedStatusCallback) {
  const size_t before = peer_->requests().size();
  TwilioChannel channel(v1::SMS, options(), engine());
  Msg m = sms("OUT-1:1:SMS:7", "+12014316859", "Outage on Elm St, back by 6 p.m. & soon");
  SendResult r = channel.send(m.msg, m.content);
  ASSERT_EQ(r.status, Status::kSent) << r.detail;
  EXPECT_EQ(r.provider_id.rfind("SM", 0), 0u) << r.provider_id;
  auto seen = logged(before);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].status, 201);
  EXPECT_EQ(seen[0].sid, r.provider_id);
  EXPECT_EQ(seen[0].path, "/2010-04-01/Accounts/" + peer_->account_sid() + "/Messages.json");
  EXPECT_EQ(seen[0].form("To"), "+12014316859");
  EXPECT_EQ(seen[0].form("From"), "+15550001111");
  EXPECT_EQ(seen[0].form("Body"), "Outage on Elm St, back by 6 p.m. & soon");
  EXPECT_EQ(seen[0].form("StatusCallback"),
            "https://herald.example.com/v1/webhooks/twilio/status?m=OUT-1%3A1%3ASMS%3A7");
}

TEST_F(TwilioChannelTest, TooManyRequestsIsARetryAfterTheDelayTwilioAsked) {
  peer_->set_mode(R"({"mode":"429","retry_after":7,"count":1})");
  TwilioChannel channel(v1::SMS, options(), engine());
  Msg m = sms("m-429", "+12014316859");
  SendResult r = channel.send(m.msg, m.content);
  EXPECT_EQ(r.status, Status::kRetry);
  EXPECT_EQ(r.retry_after, std::chrono::seconds(7));
  EXPECT_EQ(r.error_code, "20429");
  EXPECT_EQ(channel.send(m.msg, m.content).status, Status::kSent) << "the fault was for one request";
}

TEST_F(TwilioChannelTest, ServerErrorIsARetry) {
  peer_->set_mode(R"({"mode":"500","count":1})");
  TwilioChannel channel(v1::SMS, options(), engine());
  Msg m = sms("m-500", "+12014316859");
  SendResult r = channel.send(m.msg, m.content);
  EXPECT_EQ(r.status, Status::kRetry);
  EXPECT_EQ(r.error_code, "20500");
}

TEST_F(TwilioChannelTest, ASlowReplyPastTheTimeoutIsARetryWithoutWaitingForIt) {
  peer_->set_mode(R"({"mode":"slow","delay_ms":3000,"count":1})");
  TwilioChannel channel(v1::SMS, options(), engine(4, 500));
  Msg m = sms("m-slow", "+12014316859");
  const auto start = Clock::now();
  SendResult r = channel.send(m.msg, m.content);
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(2500));
  EXPECT_EQ(r.status, Status::kRetry);
  EXPECT_EQ(r.error_code, "timeout");
}

TEST_F(TwilioChannelTest, ARefusedConnectionIsARetry) {
  TwilioChannel channel(v1::SMS, options("http://127.0.0.1:" + std::to_string(free_port())),
                        engine());
  Msg m = sms("m-refused", "+12014316859");
  SendResult r = channel.send(m.msg, m.content);
  EXPECT_EQ(r.status, Status::kRetry);
  EXPECT_EQ(r.error_code, "connection");
}

TEST_F(TwilioChannelTest, OptedOutAndInvalidNumbersArePermanentEachInItsPlace) {
  TwilioChannel channel(v1::SMS, options(), engine());
  auto results = send_all(channel, {sms("a", "+15005550004"), sms("b", "+15005550001"),
                                    sms("c", "+12014316859"), sms("d", "+15005550009")});
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].failure, Failure::kOptedOut);
  EXPECT_EQ(results[0].error_code, "21610");
  EXPECT_EQ(results[1].failure, Failure::kInvalidContact);
  EXPECT_EQ(results[1].error_code, "21211");
  EXPECT_EQ(results[2].status, Status::kSent);
  EXPECT_EQ(results[3].failure, Failure::kInvalidContact);
  EXPECT_EQ(results[3].error_code, "21614");
  for (const auto& r : results) EXPECT_EQ(r.detail.find("5550"), std::string::npos) << r.detail;
}

TEST_F(TwilioChannelTest, WrongCredentialsAreRetriedNotBlamedOnTheCustomer) {
  auto o = options();
  o.auth_token = "wrong";
  TwilioChannel channel(v1::SMS, o, engine());
  Msg m = sms("m-auth", "+12014316859");
  SendResult r = channel.send(m.msg, m.content);
  EXPECT_EQ(r.status, Status::kRetry);
  EXPECT_EQ(r.error_code, "20003");
}

TEST_F(TwilioChannelTest, ABatchOf64GoesOutAtOnceOverAtMostMaxConnections) {
  expect_64_at_once_over_at_most_4_connections(engine(4));
}

TEST_F(TwilioChannelTest, TwoEngineThreadsShareTheConnectionCapAndKeepRepliesInOrder) {
  auto eng = engine(4, 5000, 2);
  expect_64_at_once_over_at_most_4_connections(eng);
  EXPECT_EQ(eng->stats().completed, 64u);
}

TEST_F(TwilioChannelTest, VoiceCallsSpeakTheMessageInTheCustomersLanguage) {
  const size_t before = peer_->requests().size();
  TwilioChannel channel(v1::VOICE, options(), engine());
  Msg m;
  m.msg.set_id("BWA-2:1:VOICE:3");
  m.msg.set_channel(v1::VOICE);
  m.msg.set_language("es");
  m.content.set_to("+12014316859");
  m.content.set_voice("Hierva el agua <antes> de beber & cocinar");
  SendResult r = channel.send(m.msg, m.content);
  ASSERT_EQ(r.status, Status::kSent) << r.detail;
  EXPECT_EQ(r.provider_id.rfind("CA", 0), 0u);
  auto seen = logged(before);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].path, "/2010-04-01/Accounts/" + peer_->account_sid() + "/Calls.json");
  EXPECT_EQ(seen[0].form("From"), "+15550002222");
  EXPECT_EQ(seen[0].form("Twiml"),
            "<Response><Say language=\"es-US\">Hierva el agua &lt;antes&gt; de beber &amp; "
            "cocinar</Say></Response>");
  EXPECT_EQ(seen[0].form("StatusCallback"),
            "https://herald.example.com/v1/webhooks/twilio/status?m=BWA-2%3A1%3AVOICE%3A3");
}

// The whole path: heraldd with channels.sms.provider=twilio, an outage, one SMS per customer.
TEST(TwilioEndToEnd, AnOutageSendsOneSmsPerCustomerInTheirLanguageThroughTwilio) {
  TwilioPeer peer;
  RedisServer redis(RedisServerOptions{.aof = true, .extra_args = {}});
  HeralddOptions options;
  options.redis_url = redis.url();
  options.extra_env = {{"HERALD_SMS_PROVIDER", "twilio"},
                       {"HERALD_TWILIO_BASE_URL", peer.base_url()},
                       {"HERALD_TWILIO_ACCOUNT_SID", peer.account_sid()},
                       {"HERALD_TWILIO_AUTH_TOKEN", peer.auth_token()},
                       {"HERALD_TWILIO_SMS_FROM", "+15550001111"},
                       {"HERALD_PUBLIC_URL", "https://herald.example.com"}};
  HeralddProcess heraldd(options);
  HttpClient http(heraldd.base_url(), std::chrono::seconds(10));
  const std::vector<std::tuple<std::string, std::string, std::string>> customers = {
      {"C-E1", "+12014316801", "en"}, {"C-E2", "+12014316802", "en"}, {"C-S1", "+12014316803", "es"}};
  for (const auto& [id, phone, language] : customers) {
    std::string body = R"({"name":"Grace Hopper","phone":")" + phone +
                       R"(","timeZone":"America/New_York","language":")" + language +
                       R"(","premises":[{"id":"P-)" + id + R"(","address":"7 Harbor Rd",)"
                       R"("feeder":"F-9","zip":"10009"}],"preferences":{"channels":)"
                       R"({"OUTAGE":["SMS"]},"cadence":"MILESTONES"}})";
    auto r = http.request("PUT", "/v1/customers/" + id, body, bearer(heraldd.admin_key()));
    ASSERT_EQ(r.status, 201) << r.body;
  }
  auto raised = http.request(
      "POST", "/v1/events",
      R"({"id":"OUT-E2E","kind":"OUTAGE","stage":"DETECTED","severity":"ADVISORY",)"
      R"("area":{"feeders":["F-9"]},"cause":"storm damage"})",
      bearer(heraldd.operator_key()));
  ASSERT_EQ(raised.status, 202) << raised.body;

  const auto until = Clock::now() + std::chrono::seconds(30);
  while (peer.requests().size() < customers.size() && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // anything extra shows up
  auto seen = peer.requests();
  ASSERT_EQ(seen.size(), customers.size()) << heraldd.log();
  for (const auto& [id, phone, language] : customers) {
    int count = 0;
    for (const auto& s : seen) {
      if (s.form("To") != phone) continue;
      ++count;
      EXPECT_EQ(s.status, 201);
      EXPECT_EQ(s.form("From"), "+15550001111");
      const std::string text = s.form("Body").value_or("");
      const char* expected = language == "es" ? "Corte de luz" : "Power outage";
      EXPECT_NE(text.find(expected), std::string::npos) << id << ": " << text;
      const std::string callback = s.form("StatusCallback").value_or("");
      const std::string prefix = "https://herald.example.com/v1/webhooks/twilio/status?m=";
      EXPECT_EQ(callback.rfind(prefix + "OUT-E2E%3A", 0), 0u) << callback;
      EXPECT_EQ(callback.find(':', prefix.size()), std::string::npos) << "the id is encoded";
    }
    EXPECT_EQ(count, 1) << id << " gets exactly one SMS";
  }
  EXPECT_EQ(heraldd.log().find("+1201431680"), std::string::npos) << "no phone number in logs";
}

}  // namespace
}  // namespace herald::testing
