#include "service/journey/retention.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "service/store/touchpoints.h"
#include "tests/support/journey_fixture.h"

namespace herald::testing {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Retention : public JourneyFixture {
 protected:
  redis::Connection conn() {
    auto c = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
    if (!c.ok()) throw std::runtime_error(c.error().message);
    return std::move(*c);
  }
  long long xlen(const std::string& key) {
    return conn().command(redis::cmd("XLEN", key))->integer;
  }
};

TEST_F(Retention, TouchpointsPastTheCutoffAreTrimmedAndReportsStay) {
  put_customer("C-A", "F-1", R"(["SMS"])");
  put_customer("C-B", "F-1", R"(["SMS"])");
  append("C-A", delivery("OUT-OLD", v1::SMS, "delivered"));
  append("C-A", reply("", "HELP"));
  append("C-B", delivery("OUT-OLD", v1::SMS, "delivered"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const int64_t cutoff = now_ms();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  append("C-A", reply("", "STATUS"));

  auto c = conn();
  auto removed = journey::trim_touchpoints(c, cutoff);
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(*removed, 6) << "3 journey entries and their 3 search copies";
  auto journey = get("/v1/customers/C-A/journey", heraldd_->agent_key());
  EXPECT_EQ(json_at(journey.body, "touchpoints[0].status"), "STATUS") << journey.body;
  EXPECT_FALSE(json_at(journey.body, "touchpoints[1].id"));
  auto other = get("/v1/customers/C-B/journey", heraldd_->agent_key());
  EXPECT_FALSE(json_at(other.body, "touchpoints[0].id")) << other.body;
  const std::string bucket = store::journey_key(number_of("C-B"));
  ASSERT_EQ(bucket, store::journey_key(number_of("C-A"))) << "the two share a journey bucket";
  EXPECT_EQ(xlen(bucket), 1) << "C-A's STATUS entry is all the bucket keeps";
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(journey::trim_touchpoints(c, now_ms()).ok());
  EXPECT_EQ(conn().command(redis::cmd("EXISTS", bucket))->integer, 0)
      << "an emptied journey bucket is deleted";
  // The event itself was never raised here, so its counters are read directly.
  auto counters = conn().command(redis::cmd("HGET", store::report_key("OUT-OLD"), "notified"));
  EXPECT_EQ(counters->str, "2") << "report counters outlive the touchpoints";
}

// Processes sharing Redis take turns: one sweep per interval among them, and a restarted
// process does not sweep again what was swept within the interval.
TEST_F(Retention, OneProcessSweepsPerInterval) {
  auto c = conn();
  const std::string key(journey::kSweepKey);
  bool held = false;
  for (int i = 0; i < 100 && !held; ++i) {  // heraldd's worker sweeps once it has started
    held = !c.command(redis::cmd("GET", key))->is_nil();
    if (!held) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(held) << "the running heraldd took the first turn";
  const long long ttl = c.command(redis::cmd("PTTL", key))->integer;
  EXPECT_GT(ttl, 3'000'000) << "held for the default hour";
  EXPECT_LE(ttl, 3'600'000);
  auto other = journey::take_sweep_turn(c, "other", std::chrono::hours(1));
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(*other) << "a second process waits for the next interval";

  c.command(redis::cmd("DEL", key));
  using std::chrono::milliseconds;
  EXPECT_TRUE(*journey::take_sweep_turn(c, "a", milliseconds(300)));
  EXPECT_FALSE(*journey::take_sweep_turn(c, "b", milliseconds(300)));
  EXPECT_EQ(c.command(redis::cmd("GET", key))->str, "a");
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_TRUE(*journey::take_sweep_turn(c, "b", milliseconds(300))) << "the next interval";
}

TEST_F(Retention, ErasureAnonymisesTouchpointsAndKeepsReportsWhole) {
  put_customer("C-A", "F-1", R"(["SMS"])");
  put_customer("C-B", "F-1", R"(["SMS"])");
  post_event("/v1/events", R"({"id":"OUT-9","kind":"OUTAGE","stage":"DETECTED",)"
                           R"("severity":"EMERGENCY","area":{"feeders":["F-1"]}})");
  ASSERT_EQ(await_sent("sms.jsonl", "C-A", 1).size(), 1u) << heraldd_->log();
  ASSERT_EQ(await_sent("sms.jsonl", "C-B", 1).size(), 1u) << heraldd_->log();
  // C-A's delivery comes last: its entry ends the bucket, whose last id must outlive it.
  append("C-B", delivery("OUT-9", v1::SMS, "delivered"));
  append("C-A", delivery("OUT-9", v1::SMS, "delivered"));
  const uint64_t n = number_of("C-A");
  auto before = get("/v1/reports/events/OUT-9", heraldd_->analyst_key());
  ASSERT_EQ(before.status, 200);
  // The two were planned in one chunk: their decisions share an entry of the bucket.
  auto shared = conn().command(redis::cmd("XRANGE", store::journey_key(n), "-", "+"));
  ASSERT_TRUE(shared.ok());
  bool grouped = false;
  for (const auto& e : shared->elements) grouped = grouped || e.elements[1].elements[0].str == "g";
  ASSERT_TRUE(grouped) << "no entry holds both customers";
  auto ids_of = [&](const std::string& body) {
    std::vector<std::string> ids;
    for (int k = 0; k < 3; ++k) {
      ids.push_back(json_at(body, fmt::format("touchpoints[{}].id", k)).value_or(""));
    }
    return ids;
  };
  const auto b_before = ids_of(get("/v1/customers/C-B/journey", heraldd_->agent_key()).body);
  const auto last_id = [&] {
    auto info = conn().command(redis::cmd("XINFO", "STREAM", store::journey_key(n)));
    for (size_t i = 0; i + 1 < info->elements.size(); i += 2) {
      if (info->elements[i].str == "last-generated-id") return info->elements[i + 1].str;
    }
    return std::string();
  };
  const std::string last_before = last_id();

  auto del = http_->request("DELETE", "/v1/customers/C-A", "", bearer(heraldd_->admin_key()));
  ASSERT_EQ(del.status, 204) << del.body;
  EXPECT_EQ(get("/v1/customers/C-A/journey", heraldd_->agent_key()).status, 404);
  // C-B shares C-A's journey bucket: only C-A's entries are gone from it.
  ASSERT_EQ(store::journey_key(n), store::journey_key(number_of("C-B")));
  auto bucket = conn().command(redis::cmd("XRANGE", store::journey_key(n), "-", "+"));
  ASSERT_TRUE(bucket.ok());
  EXPECT_TRUE(store::touchpoints_in(*bucket, n, false).empty());
  EXPECT_EQ(store::touchpoints_in(*bucket, number_of("C-B"), false).size(), 3u)
      << "C-B's queued, sent and delivered stay";
  auto journey_b = get("/v1/customers/C-B/journey", heraldd_->agent_key());
  EXPECT_EQ(json_at(journey_b.body, "touchpoints[2].status"), "delivered") << journey_b.body;
  EXPECT_EQ(ids_of(journey_b.body), b_before) << "C-B's touchpoints keep their ids";
  EXPECT_EQ(last_id(), last_before) << "the bucket's last id is kept";
  for (const auto& e : bucket->elements) {
    for (const auto& v : e.elements[1].elements) {
      EXPECT_NE(v.str, std::to_string(n)) << "C-A's number is left nowhere in the bucket";
    }
  }

  auto search = get("/v1/touchpoints?event=OUT-9&kind=DELIVERY", heraldd_->agent_key());
  ASSERT_EQ(search.status, 200) << search.body;
  EXPECT_EQ(search.body.find("C-A"), std::string::npos) << search.body;
  EXPECT_NE(search.body.find("anon-"), std::string::npos) << search.body;
  EXPECT_NE(search.body.find("C-B"), std::string::npos) << search.body;
  auto after = get("/v1/reports/events/OUT-9", heraldd_->analyst_key());
  EXPECT_EQ(json_at(after.body, "timeToNotify.customers"), "2") << after.body;
  EXPECT_EQ(json_at(after.body, "channels[0].delivered"),
            json_at(before.body, "channels[0].delivered"));
}

}  // namespace
}  // namespace herald::testing
