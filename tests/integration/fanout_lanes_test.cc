#include <gtest/gtest.h>

#include <thread>

#include "tests/support/fanout_fixture.h"

namespace herald::testing {
namespace {

using std::chrono::seconds;

class FanoutLanes : public FanoutFixture {};

// While a large fan-out runs, a small EMERGENCY event's first message is queued before it ends.
TEST_F(FanoutLanes, EmergencyDoesNotWaitBehindALargeFanOut) {
  start();
  ASSERT_EQ(import_generated(40'000), 40'000);
  put("C-URGENT", R"({"name":"Alan Turing","phone":"+12014316859","timeZone":"UTC",)"
                  R"("premises":[{"id":"P-URGENT","address":"1 Bletchley Rd","feeder":"F-URG"}],)"
                  R"("preferences":{"channels":{"OUTAGE":["SMS"]}}})");
  auto conn = redis_connection();
  std::string zips;
  auto keys = conn.command(redis::cmd("KEYS", "ix:z:*"));
  ASSERT_TRUE(keys.ok());
  for (const auto& k : keys->elements) {
    zips += (zips.empty() ? "\"" : ",\"") + k.str.substr(5) + "\"";
  }
  auto field = [&](const std::string& key, const std::string& f) {
    auto r = conn.command(redis::cmd("HGET", key, f));
    return r.ok() && !r->is_nil() ? std::stol(r->str) : 0L;
  };
  auto plan = [&](const std::string& event) {
    return conn.command(redis::cmd("GET", "plan:{" + event + "}:1"))->str;
  };
  // Every lane busy with a large fan-out: the emergency must be interleaved, not queued behind.
  post_event("/v1/events", R"({"id":"OUT-BIG","kind":"OUTAGE","stage":"DETECTED",)"
                           R"("area":{"zips":[)" + zips + "]}}");
  post_event("/v1/events", R"({"id":"OUT-BIG2","kind":"OUTAGE","stage":"DETECTED",)"
                           R"("area":{"zips":[)" + zips + "]}}");
  ASSERT_TRUE(wait_until([&] { return field("fn:{OUT-BIG2}", "audience") > 1000; }, seconds(30)));
  ASSERT_NE(plan("OUT-BIG"), "done");

  post_event("/v1/events", R"({"id":"OUT-URGENT","kind":"OUTAGE","stage":"DETECTED",)"
                           R"("severity":"EMERGENCY","area":{"feeders":["F-URG"]}})");
  std::string big_when_urgent_queued;
  ASSERT_TRUE(wait_until(
      [&] {
        if (field("fn:{OUT-URGENT}", "sms:queued") == 0) return false;
        big_when_urgent_queued = plan("OUT-BIG") + "/" + plan("OUT-BIG2");
        return true;
      },
      seconds(30)))
      << heraldd().log();
  EXPECT_EQ(big_when_urgent_queued.find("done"), std::string::npos)
      << "the emergency waited for a large fan-out to finish: " << big_when_urgent_queued;
  EXPECT_TRUE(wait_until([&] { return plan("OUT-BIG") == "done"; }, seconds(90)));
}

}  // namespace
}  // namespace herald::testing
