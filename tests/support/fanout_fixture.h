#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "service/redis/connection.h"
#include "tests/support/heraldd_process.h"
#include "tests/support/http_client.h"
#include "tests/support/redis_server.h"

namespace herald::testing {

// One Redis (AOF) and heraldd processes writing to a sandbox directory of the test's own, for
// fan-out tests: customers in, events in, what the sandbox channels wrote out.
class FanoutFixture : public ::testing::Test {
 protected:
  void TearDown() override;

  // Starts Redis and the first heraldd with HERALD_SANDBOX_DIR and `env`.
  void start(std::vector<std::pair<std::string, std::string>> env = {});
  // Another heraldd on the same Redis (its own keys and sandbox directory `sandbox`), with the
  // first one's environment except where `env` names the same variable.
  HeralddProcess& start_another(const std::filesystem::path& sandbox,
                                const std::vector<std::pair<std::string, std::string>>& env = {});

  HeralddProcess& heraldd() { return *processes_.front(); }
  HttpClient& http();
  redis::Connection redis_connection();
  const std::filesystem::path& sandbox() const { return sandbox_; }
  std::filesystem::path scratch(const std::string& name) const;  // inside the test's directory

  void put(const std::string& id, const std::string& body);
  void post_event(const std::string& path, const std::string& body);
  // Generates `count` customers with scripts/gen_customers.py and imports them with heraldctl
  // (--jobs 2); returns how many were accepted.
  long import_generated(long count);
  // Every ZIP that has customers, as the inside of a JSON array ("10001","10002",...): an
  // event area covering all of them.
  std::string all_zips();

  // Sandbox lines of `file` ("sms.jsonl", ...) in `dir` (the fixture's sandbox by default).
  static std::vector<std::string> lines(const std::filesystem::path& file);
  // The "id" of each line.
  static std::vector<std::string> message_ids(const std::filesystem::path& file);
  // Lines naming the customer.
  std::vector<std::string> lines_for(const std::string& file, const std::string& customer_id);
  // Waits (bounded by `limit`) until `done()` holds; returns its last value.
  static bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit);

 private:
  std::filesystem::path dir_;
  std::filesystem::path sandbox_;
  std::unique_ptr<RedisServer> redis_;
  std::vector<std::unique_ptr<HeralddProcess>> processes_;
  std::vector<std::pair<std::string, std::string>> env_;
  std::unique_ptr<HttpClient> http_;
  int http_port_ = 0;
};

// "2030-01-01T18:00:00Z" for a system clock time.
std::string rfc3339(std::chrono::system_clock::time_point t);

}  // namespace herald::testing
