#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>
#include <set>
#include <thread>

#include "herald/v1/store.pb.h"
#include "service/events/event_store.h"
#include "service/fanout/compose.h"
#include "tests/support/fanout_fixture.h"

namespace herald::testing {
namespace {

using std::chrono::seconds;
constexpr long kCustomers = 100'000;
constexpr const char* kFiles[] = {"sms.jsonl", "email.jsonl", "voice.jsonl"};

// The long one (about a minute on two cores): 100,000 customers, kill -9 in mid fan-out.
class FanoutCrashLong : public FanoutFixture {
 protected:
  std::map<std::string, std::string> funnel(const std::string& event) {
    auto conn = redis_connection();
    auto r = conn.command(redis::cmd("HGETALL", "fn:{" + event + "}"));
    std::map<std::string, std::string> out;
    for (size_t i = 0; r.ok() && i + 1 < r->elements.size(); i += 2) {
      out[r->elements[i].str] = r->elements[i + 1].str;
    }
    return out;
  }
  long counter(const std::string& event, const std::string& field) {
    auto f = funnel(event);
    return f.count(field) ? std::stol(f[field]) : 0;
  }
  long queued(const std::string& event) {
    long n = 0;
    for (const auto& [k, v] : funnel(event)) {
      if (k.ends_with(":queued")) n += std::stol(v);
    }
    return n;
  }
  std::string plan_state(const std::string& event, int revision) {
    auto conn = redis_connection();
    return conn.command(redis::cmd("GET", fmt::format("plan:{{{}}}:{}", event, revision)))->str;
  }
  // Every message id the sandbox files hold, with how often each was written.
  std::map<std::string, int> sent() {
    std::map<std::string, int> ids;
    for (const char* f : kFiles) {
      for (auto& id : message_ids(sandbox() / f)) ++ids[id];
    }
    return ids;
  }
  // The message ids the planner queued for `event` revision `rev`, from the history ledger.
  std::set<std::string> queued_ids(const std::string& event, uint32_t rev) {
    auto conn = redis_connection();
    v1::Event e;
    e.set_id(event);
    e.set_revision(rev);
    std::set<std::string> ids;
    std::string cursor = "0";
    do {  // every bucket of the event's history, hist:{event}:<bucket>
      auto r = conn.command(
          redis::cmd("SCAN", cursor, "MATCH", "hist:{" + event + "}:*", "COUNT", "5000"));
      cursor = r->elements[0].str;
      redis::Batch reads;
      for (const auto& key : r->elements[1].elements)
        reads.push_back(redis::cmd("HGETALL", key.str));
      if (reads.empty()) continue;
      auto got = conn.pipeline(reads);
      if (!got.ok()) {
        ADD_FAILURE() << "reading the history buckets: " << got.error().message;
        break;
      }
      for (const auto& bucket : *got) {
        const auto& kv = bucket.elements;
        for (size_t i = 0; i + 1 < kv.size(); i += 2) {
          if (!kv[i + 1].str.starts_with(std::to_string(rev) + "|")) continue;
          const auto colon = kv[i].str.find(':');
          ids.insert(fanout::message_id(
              e, static_cast<v1::Channel>(std::stoi(kv[i].str.substr(colon + 1))),
              std::stoull(kv[i].str.substr(0, colon))));
        }
      }
    } while (cursor != "0");
    return ids;
  }
};

TEST_F(FanoutCrashLong, KillNineMidFanOutSendsEveryMessageOnceAndLosesNothing) {
  start();
  ASSERT_EQ(import_generated(kCustomers), kCustomers);
  put("C-SMALL", R"({"name":"Alan Turing","phone":"+12014316859","timeZone":"UTC",)"
                 R"("premises":[{"id":"P-SMALL","address":"1 Bletchley Rd","feeder":"F-SMALL"}],)"
                 R"("preferences":{"channels":{"OUTAGE":["SMS"]},"cadence":"EVERY_UPDATE"}})");
  const std::string zips = all_zips();
  post_event("/v1/events", R"({"id":"OUT-SMALL","kind":"OUTAGE","stage":"DETECTED",)"
                           R"("area":{"feeders":["F-SMALL"]}})");
  post_event("/v1/events", R"({"id":"OUT-BIG","kind":"OUTAGE","stage":"DETECTED",)"
                           R"("severity":"ADVISORY","cause":"storm","area":{"zips":[)" +
                               zips + "]}}");
  ASSERT_TRUE(wait_until([&] { return counter("OUT-BIG", "audience") >= kCustomers / 3; },
                         seconds(60)))
      << heraldd().log();
  heraldd().kill();
  const long before = counter("OUT-BIG", "audience");
  EXPECT_LT(before, kCustomers) << "killed in the middle of the fan-out";

  // A revision accepted while heraldd is down (the event store's own script) is planned later.
  {
    auto conn = redis_connection();
    v1::EventState state;
    ASSERT_TRUE(state.ParseFromString(
        conn.command(redis::cmd("GET", events::event_key("OUT-SMALL")))->str));
    auto raised = events::raise_stage(conn, state, v1::RESTORED, 0);
    ASSERT_TRUE(raised.ok() && raised->has_value());
  }

  heraldd().restart();
  ASSERT_TRUE(wait_until([&] { return plan_state("OUT-BIG", 1) == "done"; }, seconds(90)))
      << heraldd().log();
  const std::set<std::string> big = queued_ids("OUT-BIG", 1);
  ASSERT_TRUE(wait_until(
      [&] {
        auto ids = sent();
        return std::all_of(big.begin(), big.end(), [&](const auto& id) { return ids.count(id); });
      },
      seconds(90)))
      << "every queued message reaches the sandbox";
  ASSERT_TRUE(wait_until([&] { return plan_state("OUT-SMALL", 2) == "done"; }, seconds(10)));
  ASSERT_TRUE(wait_until([&] { return lines_for("sms.jsonl", "C-SMALL").size() == 2; }, seconds(10)));

  EXPECT_EQ(counter("OUT-BIG", "audience"), kCustomers) << "each customer decided once";
  EXPECT_EQ(queued("OUT-BIG"), static_cast<long>(big.size()))
      << "one queued decision per customer and channel, none replayed";
  // Generated customers keep quiet hours in US time zones: how many are held depends on the
  // hour the test runs, so the messages decided now or later are counted together.
  const long held = counter("OUT-BIG", "sms:held") + counter("OUT-BIG", "email:held") +
                    counter("OUT-BIG", "voice:held");
  EXPECT_GT(static_cast<long>(big.size()) + held, kCustomers / 2);
  std::map<std::string, int> ids = sent();
  long big_sent = 0, duplicates = 0;
  for (const auto& [id, n] : ids) {
    if (!id.starts_with("OUT-BIG:")) continue;
    ++big_sent;
    EXPECT_TRUE(big.count(id)) << id << " was sent but never queued";
    if (n > 1) ++duplicates;
  }
  EXPECT_EQ(big_sent, static_cast<long>(big.size())) << "the sent set equals the queued set";
  EXPECT_EQ(duplicates, 0) << "message ids written more than once";
  const auto small = lines_for("sms.jsonl", "C-SMALL");
  EXPECT_NE(small[1].find(R"("revision":2)"), std::string::npos) << small[1];
}

}  // namespace
}  // namespace herald::testing
