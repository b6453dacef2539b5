#include "channels/sandbox.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace herald::channels {
namespace {

namespace fs = std::filesystem;
using google::protobuf::Struct;

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "herald-sandbox-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> lines(const std::string& file) const {
    std::ifstream in(dir_ / file);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  fs::path dir_;
};

v1::OutboundMessage message(v1::Channel channel, uint64_t num) {
  v1::OutboundMessage m;
  m.set_id("ev1:2:" + std::to_string(channel) + ":" + std::to_string(num));
  m.set_customer_id("cust-" + std::to_string(num));
  m.set_customer_num(num);
  m.set_event_id("ev1");
  m.set_revision(2);
  m.set_channel(channel);
  m.set_priority(v1::PRIORITY_EMERGENCY);
  m.set_language("es");
  m.mutable_queued_at()->set_seconds(1763900000);
  return m;
}

Struct parse(const std::string& line) {
  Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(line, &s);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << line;
  return s;
}

std::string field(const Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  if (it == s.fields().end()) return "<absent>";
  if (it->second.has_number_value()) return std::to_string(int64_t(it->second.number_value()));
  return it->second.string_value();
}

TEST_F(SandboxTest, SmsLineCarriesWhatTheCustomerWouldReceive) {
  SandboxChannel sms(dir_, v1::SMS);
  v1::MessageContent c;
  c.set_to("+15551234567");
  c.set_sms("Corte de luz en \"Calle Río\"\nETR 18:00");
  c.set_sms_segments(1);
  auto r = sms.send(message(v1::SMS, 7), c);
  EXPECT_EQ(r.status, SendResult::Status::kSent);
  EXPECT_EQ(r.provider_id, "sandbox-1");

  auto got = lines("sms.jsonl");
  ASSERT_EQ(got.size(), 1u);  // the newline inside the text is escaped, not a second line
  Struct s = parse(got[0]);
  EXPECT_EQ(field(s, "id"), "ev1:2:1:7");
  EXPECT_EQ(field(s, "customerId"), "cust-7");
  EXPECT_EQ(field(s, "eventId"), "ev1");
  EXPECT_EQ(field(s, "revision"), "2");
  EXPECT_EQ(field(s, "channel"), "SMS");
  EXPECT_EQ(field(s, "priority"), "PRIORITY_EMERGENCY");
  EXPECT_EQ(field(s, "language"), "es");
  EXPECT_EQ(field(s, "to"), "+15551234567");
  EXPECT_EQ(field(s, "sms"), "Corte de luz en \"Calle Río\"\nETR 18:00");
  EXPECT_EQ(field(s, "smsSegments"), "1");
  EXPECT_EQ(field(s, "queuedAt"), "2025-11-23T12:13:20Z");
  EXPECT_NE(field(s, "sentAt"), "<absent>");
  EXPECT_EQ(field(s, "subject"), "<absent>");
}

TEST_F(SandboxTest, EmailLineHasSubjectAndBothPartsAndAppends) {
  {
    SandboxChannel email(dir_, v1::EMAIL);
    v1::MessageContent c;
    c.set_to("jane@example.com");
    c.set_subject("Power outage");
    c.set_text("Hello Jane");
    c.set_html("<p>Hello Jane</p>");
    EXPECT_EQ(email.send(message(v1::EMAIL, 1), c).status, SendResult::Status::kSent);
  }
  // A restarted process appends to the same file rather than truncating it.
  SandboxChannel again(dir_, v1::EMAIL);
  v1::MessageContent c;
  c.set_to("joe@example.com");
  c.set_subject("Restored");
  EXPECT_EQ(again.send(message(v1::EMAIL, 2), c).status, SendResult::Status::kSent);

  auto got = lines("email.jsonl");
  ASSERT_EQ(got.size(), 2u);
  Struct first = parse(got[0]);
  EXPECT_EQ(field(first, "to"), "jane@example.com");
  EXPECT_EQ(field(first, "subject"), "Power outage");
  EXPECT_EQ(field(first, "text"), "Hello Jane");
  EXPECT_EQ(field(first, "html"), "<p>Hello Jane</p>");
  EXPECT_EQ(field(first, "sms"), "<absent>");
  EXPECT_EQ(field(first, "smsSegments"), "<absent>");
  EXPECT_EQ(field(parse(got[1]), "subject"), "Restored");
}

TEST_F(SandboxTest, EachChannelWritesItsOwnFile) {
  for (auto ch : {v1::SMS, v1::EMAIL, v1::VOICE, v1::WEBHOOK}) {
    SandboxChannel sandbox(dir_, ch);
    v1::MessageContent c;
    c.set_to("x");
    c.set_voice("Hello");
    EXPECT_EQ(sandbox.send(message(ch, 1), c).status, SendResult::Status::kSent);
  }
  for (auto file : {"sms.jsonl", "email.jsonl", "voice.jsonl", "webhook.jsonl"}) {
    EXPECT_EQ(lines(file).size(), 1u) << file;
  }
  EXPECT_EQ(field(parse(lines("voice.jsonl")[0]), "voice"), "Hello");
}

TEST_F(SandboxTest, MessageForAnotherChannelIsAPermanentFailure) {
  SandboxChannel sms(dir_, v1::SMS);
  auto r = sms.send(message(v1::EMAIL, 1), v1::MessageContent());
  EXPECT_EQ(r.status, SendResult::Status::kPermanent);
  EXPECT_TRUE(lines("sms.jsonl").empty());
}

TEST_F(SandboxTest, ConcurrentSendsWriteWholeLinesWithDistinctIds) {
  SandboxChannel sms(dir_, v1::SMS);
  constexpr int kThreads = 4, kEach = 250;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      v1::MessageContent c;
      c.set_to("+15550000000");
      c.set_sms(std::string(300, 'a' + t));
      for (int i = 0; i < kEach; ++i) {
        ids[t].push_back(sms.send(message(v1::SMS, t * kEach + i), c).provider_id);
      }
    });
  }
  for (auto& th : threads) th.join();

  std::set<std::string> provider_ids, message_ids;
  for (const auto& v : ids) provider_ids.insert(v.begin(), v.end());
  EXPECT_EQ(provider_ids.size(), size_t(kThreads * kEach));
  auto got = lines("sms.jsonl");
  ASSERT_EQ(got.size(), size_t(kThreads * kEach));
  for (const auto& line : got) message_ids.insert(field(parse(line), "id"));
  EXPECT_EQ(message_ids.size(), size_t(kThreads * kEach));
}

TEST_F(SandboxTest, AMessageWrittenBeforeARestartIsNotWrittenAgain) {
  v1::MessageContent c;
  c.set_to("+15550000000");
  c.set_sms("Power is out");
  {
    SandboxChannel sms(dir_, v1::SMS);
    for (uint64_t n = 1; n <= 3; ++n)
      EXPECT_EQ(sms.send(message(v1::SMS, n), c).provider_id, "sandbox-" + std::to_string(n));
    // The same process sending one again (its sent guard was lost with Redis): not written.
    EXPECT_EQ(sms.send(message(v1::SMS, 3), c).provider_id, "sandbox-repeat");
  }
  // A restarted process sends the batch its predecessor died in: what is in the file stays once.
  SandboxChannel again(dir_, v1::SMS);
  for (uint64_t n : {2, 3, 4}) {
    EXPECT_EQ(again.send(message(v1::SMS, n), c).status, SendResult::Status::kSent) << n;
  }
  std::vector<std::string> ids;
  for (const auto& line : lines("sms.jsonl")) ids.push_back(field(parse(line), "id"));
  const std::string p = "ev1:2:" + std::to_string(v1::SMS) + ":";
  EXPECT_EQ(ids, (std::vector<std::string>{p + "1", p + "2", p + "3", p + "4"}));
}

TEST_F(SandboxTest, OnlyTheLastLinesAreRemembered) {
  v1::MessageContent c;
  c.set_to("+15550000000");
  c.set_sms("Power is out");
  const uint64_t total = SandboxChannel::kRemembered + 10;
  {
    SandboxChannel sms(dir_, v1::SMS);
    for (uint64_t n = 0; n < total; ++n) sms.send(message(v1::SMS, n), c);
  }
  SandboxChannel again(dir_, v1::SMS);
  EXPECT_EQ(again.send(message(v1::SMS, total - 1), c).provider_id, "sandbox-repeat");
  EXPECT_EQ(again.send(message(v1::SMS, 10), c).provider_id, "sandbox-repeat")
      << "the oldest id still remembered";
  EXPECT_EQ(again.send(message(v1::SMS, 0), c).provider_id, "sandbox-1")
      << "memory is bounded: an id older than the last kRemembered lines is written again";
  EXPECT_EQ(lines("sms.jsonl").size(), total + 1);
}

TEST_F(SandboxTest, TheLinesBeforeARestartStayRememberedHoweverManyFollow) {
  v1::MessageContent c;
  c.set_to("+15550000000");
  c.set_sms("Power is out");
  {
    SandboxChannel sms(dir_, v1::SMS);
    for (uint64_t n = 1; n <= 3; ++n) sms.send(message(v1::SMS, n), c);
  }
  // The restarted process writes new messages for longer than its rolling memory lasts before
  // it takes over its predecessor's pending entries (dispatch.claim_idle later).
  SandboxChannel again(dir_, v1::SMS);
  const uint64_t fresh = SandboxChannel::kRemembered + 10;
  for (uint64_t n = 100; n < 100 + fresh; ++n) {
    ASSERT_NE(again.send(message(v1::SMS, n), c).provider_id, "sandbox-repeat") << n;
  }
  EXPECT_EQ(again.send(message(v1::SMS, 3), c).provider_id, "sandbox-repeat")
      << "written before the restart";
  EXPECT_NE(again.send(message(v1::SMS, 100), c).provider_id, "sandbox-repeat")
      << "written by this process and since pushed out of its rolling memory";
  EXPECT_EQ(lines("sms.jsonl").size(), 3 + fresh + 1);
}

TEST_F(SandboxTest, UnwritableDirectoryFailsAtStartUp) {
  fs::path file = dir_ / "not-a-dir";
  std::ofstream(file) << "x";
  EXPECT_THROW(SandboxChannel(file / "sub", v1::SMS), std::runtime_error);
}

}  // namespace
}  // namespace herald::channels
