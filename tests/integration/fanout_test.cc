#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/heraldd_process.h"

namespace herald::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string customer(const std::string& id, const std::string& feeder, const std::string& cadence,
                     const std::string& channels) {
  return R"({"name":"Grace Hopper","phone":"+12014316859","email":"grace@example.net",)"
         R"("timeZone":"America/New_York","language":"en","premises":[{"id":"P-)" +
         id + R"(","address":"7 Harbor Rd","feeder":")" + feeder +
         R"(","zip":"10009"}],"preferences":{"channels":{"OUTAGE":)" + channels +
         R"(},"cadence":")" + cadence + R"("}})";
}

// Lines of a sandbox file that name the customer.
std::vector<std::string> lines_for(const fs::path& file, const std::string& customer_id) {
  std::vector<std::string> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"customerId\":\"" + customer_id + "\"") != std::string::npos) {
      out.push_back(line);
    }
  }
  return out;
}

class Fanout : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("herald-sandbox-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    redis_ = std::make_unique<RedisServer>(RedisServerOptions{.aof = true, .extra_args = {}});
    HeralddOptions options;
    options.redis_url = redis_->url();
    options.extra_env = {{"HERALD_SANDBOX_DIR", dir_.string()}};
    heraldd_ = std::make_unique<HeralddProcess>(options);
    http_ = std::make_unique<HttpClient>(heraldd_->base_url(), std::chrono::seconds(10));
  }
  void TearDown() override {
    heraldd_.reset();
    redis_.reset();
    fs::remove_all(dir_);
  }

  void put(const std::string& id, const std::string& body) {
    auto r = http_->request("PUT", "/v1/customers/" + id, body, bearer(heraldd_->admin_key()));
    ASSERT_EQ(r.status, 201) << r.body;
  }
  void event(const std::string& path, const std::string& body) {
    auto r = http_->request("POST", path, body, bearer(heraldd_->operator_key()));
    ASSERT_EQ(r.status, 202) << r.body;
  }
  // Waits (bounded) until `file` holds `n` lines for the customer.
  std::vector<std::string> await(const std::string& file, const std::string& id, size_t n) {
    const auto until = Clock::now() + std::chrono::seconds(15);
    auto got = lines_for(dir_ / file, id);
    while (got.size() < n && Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      got = lines_for(dir_ / file, id);
    }
    return got;
  }

  fs::path dir_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<HeralddProcess> heraldd_;
  std::unique_ptr<HttpClient> http_;
};

TEST_F(Fanout, OutageLifecycleReachesTheRightCustomersOncePerMilestone) {
  put("C-A", customer("A", "F-1", "MILESTONES", R"(["SMS","EMAIL"])"));
  put("C-B", customer("B", "F-1", "RESTORATION_ONLY", R"(["SMS"])"));
  put("C-C", customer("C", "F-2", "EVERY_UPDATE", R"(["SMS"])"));

  event("/v1/events", R"({"id":"OUT-1","kind":"OUTAGE","stage":"DETECTED","severity":"ADVISORY",)"
                      R"("area":{"feeders":["F-1"]},"cause":"storm damage",)"
                      R"("estimatedRestoration":"2030-01-01T18:00:00Z"})");
  auto sms = await("sms.jsonl", "C-A", 1);
  ASSERT_EQ(sms.size(), 1u) << heraldd_->log();
  EXPECT_NE(sms[0].find("7 Harbor Rd"), std::string::npos) << sms[0];
  EXPECT_EQ(await("email.jsonl", "C-A", 1).size(), 1u);

  // A small ETR move is not a milestone; a large one is.
  event("/v1/events/OUT-1/updates",
        R"({"stage":"UPDATED","estimatedRestoration":"2030-01-01T18:10:00Z"})");
  event("/v1/events/OUT-1/updates",
        R"({"stage":"UPDATED","estimatedRestoration":"2030-01-01T21:00:00Z"})");
  EXPECT_EQ(await("sms.jsonl", "C-A", 2).size(), 2u);

  event("/v1/events/OUT-1/updates", R"({"stage":"RESTORED"})");
  EXPECT_EQ(await("sms.jsonl", "C-A", 3).size(), 3u);
  const auto restored = await("sms.jsonl", "C-B", 1);
  ASSERT_EQ(restored.size(), 1u) << "a restoration-only customer hears of the restoration";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(lines_for(dir_ / "sms.jsonl", "C-A").size(), 3u) << "one message per milestone";
  EXPECT_EQ(lines_for(dir_ / "sms.jsonl", "C-B").size(), 1u);
  EXPECT_TRUE(lines_for(dir_ / "sms.jsonl", "C-C").empty()) << "a customer outside the area";

  auto view = http_->request("GET", "/v1/events/OUT-1", "", bearer(heraldd_->analyst_key()));
  ASSERT_EQ(view.status, 200) << view.body;
  EXPECT_NE(view.body.find(R"("audience":")"), std::string::npos) << view.body;
  EXPECT_NE(view.body.find(R"("sms:sent":"4")"), std::string::npos) << view.body;
  EXPECT_NE(view.body.find(R"("sms:suppressed:cadence")"), std::string::npos) << view.body;
}

TEST_F(Fanout, ARestartSendsNothingTwice) {
  put("C-A", customer("A", "F-1", "EVERY_UPDATE", R"(["SMS"])"));
  event("/v1/events", R"({"id":"OUT-2","kind":"OUTAGE","stage":"DETECTED",)"
                      R"("area":{"feeders":["F-1"]}})");
  ASSERT_EQ(await("sms.jsonl", "C-A", 1).size(), 1u) << heraldd_->log();
  heraldd_->restart();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(lines_for(dir_ / "sms.jsonl", "C-A").size(), 1u);
}

}  // namespace
}  // namespace herald::testing
