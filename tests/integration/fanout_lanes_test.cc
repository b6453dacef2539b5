#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <thread>
#include <vector>

#include "tests/support/fanout_fixture.h"

namespace herald::testing {
namespace {

using std::chrono::seconds;

class FanoutLanes : public FanoutFixture {
 protected:
  static std::map<std::string, long> funnel_fields(redis::Connection& conn,
                                                   const std::string& event) {
    std::map<std::string, long> funnel;
    auto all = conn.command(redis::cmd("HGETALL", "fn:{" + event + "}"));
    EXPECT_TRUE(all.ok());
    if (!all.ok()) return funnel;
    for (size_t i = 0; i + 1 < all->elements.size(); i += 2) {
      funnel[all->elements[i].str] = std::stol(all->elements[i + 1].str);
    }
    return funnel;
  }
  // The funnel's `what` ("queued", "sent") over the three channels.
  static long all_channels(std::map<std::string, long>& funnel, const std::string& what) {
    return funnel["sms:" + what] + funnel["email:" + what] + funnel["voice:" + what];
  }
  // Waits until the sandboxes hold `queued` messages; each must have gone out once.
  void expect_each_sent_once(const std::vector<std::filesystem::path>& dirs, long queued) {
    std::map<std::string, int> sent;
    ASSERT_TRUE(wait_until(
        [&] {
          sent.clear();
          for (const auto& dir : dirs) {
            for (const char* file : {"sms.jsonl", "email.jsonl", "voice.jsonl"}) {
              for (const auto& id : message_ids(dir / file)) ++sent[id];
            }
          }
          return static_cast<long>(sent.size()) >= queued;
        },
        seconds(60)));
    EXPECT_EQ(static_cast<long>(sent.size()), queued) << "one message per queued decision";
    for (const auto& [id, n] : sent) EXPECT_EQ(n, 1) << id << " went out " << n << " times";
  }
};

// While a large fan-out runs, a small EMERGENCY event's first message is queued before it ends.
TEST_F(FanoutLanes, EmergencyDoesNotWaitBehindALargeFanOut) {
  start();
  ASSERT_EQ(import_generated(40'000), 40'000);
  put("C-URGENT", R"({"name":"Alan Turing","phone":"+12014316859","timeZone":"UTC",)"
                  R"("premises":[{"id":"P-URGENT","address":"1 Bletchley Rd","feeder":"F-URG"}],)"
                  R"("preferences":{"channels":{"OUTAGE":["SMS"]}}})");
  auto conn = redis_connection();
  const std::string zips = all_zips();
  ASSERT_FALSE(zips.empty());
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

// Two processes, three lanes each, intake entries renewed by their planners: a fan-out that
// lasts many times the takeover delay (split in two parts) is planned by the lanes that took
// its entries, each customer decided once.
TEST_F(FanoutLanes, ALongFanOutIsNotTakenOverWhileItsPlannerLives) {
  start({{"HERALD_PLANNER_CLAIM_IDLE_MS", "1000"},
         {"HERALD_PLANNER_BATCH", "10"},
         {"HERALD_PLANNER_LANES", "3"}});
  const auto other = scratch("sandbox-b");
  HeralddProcess& second = start_another(other);
  // Enough customers that the fan-out, planned in two parts side by side, still lasts past the
  // takeover delay.
  constexpr long kCustomers = 30'000;
  ASSERT_EQ(import_generated(kCustomers), kCustomers);
  auto conn = redis_connection();
  const std::string zips = all_zips();
  ASSERT_FALSE(zips.empty());
  const auto started = std::chrono::steady_clock::now();
  post_event("/v1/events", R"({"id":"OUT-LONG","kind":"OUTAGE","stage":"DETECTED",)"
                           R"("area":{"zips":[)" + zips + "]}}");
  ASSERT_TRUE(wait_until(
      [&] { return conn.command(redis::cmd("GET", "plan:{OUT-LONG}:1"))->str == "done"; },
      seconds(180)));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GT(took, std::chrono::milliseconds(2000)) << "the fan-out outlasts the takeover delay";

  auto funnel = funnel_fields(conn, "OUT-LONG");
  EXPECT_EQ(funnel["audience"], kCustomers) << "each customer decided once";
  EXPECT_EQ(funnel["sms:suppressed:duplicate"] + funnel["email:suppressed:duplicate"] +
                funnel["voice:suppressed:duplicate"],
            0);
  const long queued = all_channels(funnel, "queued");
  ASSERT_GT(queued, 0);
  expect_each_sent_once({sandbox(), other}, queued);
  EXPECT_EQ(heraldd().log().find("was taken over"), std::string::npos) << heraldd().log();
  EXPECT_EQ(second.log().find("was taken over"), std::string::npos) << second.log();
}

// One lane per process: the process that takes a large revision splits it and plans part 0,
// and the other process, whose lane is free, plans part 1. Every customer is decided once and
// every message goes out once, from one sandbox or the other.
TEST_F(FanoutLanes, TwoProcessesPlanThePartsOfOneRevision) {
  start({{"HERALD_PLANNER_LANES", "1"}, {"HERALD_PLANNER_BATCH", "100"}});
  const auto other = scratch("sandbox-b");
  HeralddProcess& second = start_another(other);
  ASSERT_EQ(import_generated(5'000), 5'000);
  auto conn = redis_connection();
  const std::string zips = all_zips();
  ASSERT_FALSE(zips.empty());
  post_event("/v1/events", R"({"id":"OUT-PARTS","kind":"OUTAGE","stage":"DETECTED",)"
                           R"("area":{"zips":[)" + zips + "]}}");
  ASSERT_TRUE(wait_until(
      [&] { return conn.command(redis::cmd("GET", "plan:{OUT-PARTS}:1"))->str == "done"; },
      seconds(120)));
  // Which process took which part: the splitter logs the split, each part its start.
  const std::string a = heraldd().log(), b = second.log();
  const bool a_split = a.find("OUT-PARTS revision 1 split into 2 parts") != std::string::npos;
  const std::string& splitter = a_split ? a : b;
  const std::string& helper = a_split ? b : a;
  EXPECT_NE(splitter.find("OUT-PARTS revision 1 split into 2 parts"), std::string::npos);
  EXPECT_NE(splitter.find("OUT-PARTS revision 1: part 0/2 starts"), std::string::npos);
  EXPECT_NE(helper.find("OUT-PARTS revision 1: part 1/2 starts"), std::string::npos)
      << "the free lane of the other process took part 1:\n" << helper;

  auto funnel = funnel_fields(conn, "OUT-PARTS");
  EXPECT_EQ(funnel["audience"], 5'000) << "each customer decided once";
  const long queued = all_channels(funnel, "queued");
  ASSERT_GT(queued, 0);
  expect_each_sent_once({sandbox(), other}, queued);
}

// Planning and sending in different processes: one with dispatch.enabled false queues every
// message and sends none; a sending process started later sends each of them once.
TEST_F(FanoutLanes, APlanningOnlyProcessQueuesAndAnotherSends) {
  start({{"HERALD_DISPATCH_ENABLED", "false"}});
  ASSERT_EQ(import_generated(1'000), 1'000);
  auto conn = redis_connection();
  const std::string zips = all_zips();
  ASSERT_FALSE(zips.empty());
  post_event("/v1/events", R"({"id":"OUT-SPLIT","kind":"OUTAGE","stage":"DETECTED",)"
                           R"("severity":"EMERGENCY","area":{"zips":[)" +
                               zips + "]}}");
  ASSERT_TRUE(wait_until(
      [&] { return conn.command(redis::cmd("GET", "plan:{OUT-SPLIT}:1"))->str == "done"; },
      seconds(60)));
  auto funnel = funnel_fields(conn, "OUT-SPLIT");
  const long queued = all_channels(funnel, "queued");
  ASSERT_GT(queued, 0);
  std::this_thread::sleep_for(seconds(1));  // time a sending thread would have had
  funnel = funnel_fields(conn, "OUT-SPLIT");
  EXPECT_EQ(all_channels(funnel, "sent"), 0);
  for (const char* file : {"sms.jsonl", "email.jsonl", "voice.jsonl"}) {
    EXPECT_TRUE(lines(sandbox() / file).empty()) << file << " written by the planning process";
  }
  EXPECT_NE(heraldd().log().find("dispatch.enabled is false"), std::string::npos);

  const auto other = scratch("sandbox-sender");
  start_another(other, {{"HERALD_DISPATCH_ENABLED", "true"}});
  expect_each_sent_once({sandbox(), other}, queued);
  for (const char* file : {"sms.jsonl", "email.jsonl", "voice.jsonl"}) {
    EXPECT_TRUE(lines(sandbox() / file).empty()) << file << " written by the planning process";
  }
  // The funnel counts a round's sends when it settles, just after the sandbox lines.
  long sent = 0;
  EXPECT_TRUE(wait_until(
      [&] {
        funnel = funnel_fields(conn, "OUT-SPLIT");
        sent = all_channels(funnel, "sent");
        return sent >= queued;
      },
      seconds(30)));
  EXPECT_EQ(sent, queued);
}

}  // namespace
}  // namespace herald::testing
