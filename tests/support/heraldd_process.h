#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "service/redis/connection.h"
#include "tests/support/http_client.h"
#include "tests/support/redis_server.h"

namespace herald::testing {

struct HeralddOptions {
  std::string redis_url;                                       // redis://127.0.0.1:PORT/0
  std::vector<std::pair<std::string, std::string>> extra_env;  // e.g. {"HERALD_IO_THREADS", "2"}
  std::string pii_key;  // empty: a fresh one; processes sharing one Redis need the same key
};

// A real heraldd (HERALD_BINARY_DIR/service/heraldd) on 127.0.0.1, owned by the test: fresh
// PII, token and API keys per instance, stderr kept in a log file. Only its own PID is ever
// signalled. Throws std::runtime_error when it does not become ready (a set-up failure).
class HeralddProcess {
 public:
  explicit HeralddProcess(HeralddOptions options);
  ~HeralddProcess();
  HeralddProcess(const HeralddProcess&) = delete;
  HeralddProcess& operator=(const HeralddProcess&) = delete;

  int stop();   // SIGTERM, wait (SIGKILL after 15 s); exit code, 128+signal, or -1 if not running
  void kill();  // SIGKILL: a crash
  void restart();  // stops if running, starts again with the same keys, on the same port if free
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  int port() const { return port_; }
  std::string base_url() const;  // http://127.0.0.1:PORT
  std::string log() const;       // everything heraldd wrote to stderr so far, across restarts

  const std::string& admin_key() const { return admin_key_; }
  const std::string& operator_key() const { return operator_key_; }
  const std::string& agent_key() const { return agent_key_; }
  const std::string& analyst_key() const { return analyst_key_; }
  const std::string& token_key() const { return token_key_; }  // HERALD_TOKEN_KEY, for forging
  const std::string& pii_key() const { return pii_key_; }  // HERALD_PII_KEY, to seal test input

 private:
  void launch(int port);  // throws unless ready within the start timeout
  bool try_launch(int port);

  HeralddOptions options_;
  std::string binary_;
  std::string dir_;
  std::string pii_key_;
  std::string token_key_;
  std::string auth_keys_;  // role:sha256hex list for HERALD_AUTH_KEYS
  std::string admin_key_, operator_key_, agent_key_, analyst_key_;
  int port_ = 0;
  pid_t pid_ = -1;
};

struct SamplePremise {
  std::string id = "P-1";
  std::string address = "12 Analytical Engine Row";
  std::string feeder = "F-1";
  std::string transformer = "T-1";
  std::string zip = "10009";
  double lat = 40.7357;
  double lon = -73.9851;
};

// A valid customer for request bodies; the contact details are distinctive so tests can look
// for them in Redis and in logs.
struct SampleCustomer {
  std::string id = "C-1";
  std::string name = "Ada Lovelace";
  std::string phone = "(201) 431-6859";  // stored as +12014316859
  std::string email = "ada.lovelace@example.net";
  std::string time_zone = "America/New_York";
  std::vector<SamplePremise> premises = {SamplePremise{}};
  std::string preferences =
      R"({"channels":{"OUTAGE":["SMS"],"PLANNED_MAINTENANCE":["EMAIL"]},"cadence":"MILESTONES",)"
      R"("quietHours":{"start":"22:00","end":"07:00"}})";
};

std::string customer_json(const SampleCustomer& c);

// One redis-server and one heraldd shared by every test of a suite (started in
// SetUpTestSuite, stopped in TearDownTestSuite), with helpers for requests as admin.
class HeralddSuite : public ::testing::Test {
 public:
  static void SetUpTestSuite() { start_servers({}); }
  static void TearDownTestSuite() { stop_servers(); }

 protected:
  // heraldd reaches Redis over TCP, or over its Unix socket (a unix:// HERALD_REDIS_URL).
  static void start_servers(RedisServerOptions redis_options, bool over_unix_socket = false);
  static void stop_servers();
  static RedisServer& redis_server() { return *redis_; }
  static HeralddProcess& heraldd() { return *heraldd_; }
  static redis::Connection redis_connection();  // a direct connection for checking the layout

  HttpClient& http();  // one client per test, on heraldd's current port
  HttpResponse put_customer(const SampleCustomer& c);  // as admin
  HttpResponse get_customer(const std::string& id);    // as admin

 private:
  static std::unique_ptr<RedisServer> redis_;
  static std::unique_ptr<HeralddProcess> heraldd_;
  std::unique_ptr<HttpClient> http_;
  int http_port_ = 0;
};

}  // namespace herald::testing
