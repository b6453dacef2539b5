#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "service/store/keys.h"
#include "tests/support/heraldd_process.h"
#include "tests/support/store_layout.h"

namespace herald::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kCustomers = 25;

class Persistence : public HeralddSuite {
 public:
  static void SetUpTestSuite() {
    RedisServerOptions options;
    options.aof = true;
    start_servers(std::move(options));
  }

 protected:
  // Each test starts with both servers up, whatever the previous one did.
  void SetUp() override {
    if (!redis_server().running()) redis_server().restart();
    if (!heraldd().running()) heraldd().restart();
  }

  static SampleCustomer numbered(int i) {
    SampleCustomer c;
    c.id = "C-keep-" + std::to_string(i);
    c.name = "Keeper Number" + std::string(1, static_cast<char>('A' + i % 26));
    c.premises[0].id = "P-keep-" + std::to_string(i);
    c.premises[0].feeder = "F-keep";
    return c;
  }

  // A customer whose contact details a test then looks for on disk.
  static SampleCustomer with_contacts(int i, const char* name, const char* email, const char* phone,
                                      const char* address) {
    SampleCustomer c = numbered(i);
    c.name = name;
    c.email = email;
    c.phone = phone;
    c.premises[0].address = address;
    return c;
  }

  static void expect_none_in_clear(const std::string& bytes,
                                   std::initializer_list<std::string> secrets) {
    for (const std::string& secret : secrets) {
      EXPECT_EQ(bytes.find(secret), std::string::npos) << secret << " is on disk in clear";
    }
  }

  // Polls `path` until it answers `status`; the last response either way.
  HttpResponse wait_for(const std::string& path, long status, std::chrono::seconds limit) {
    const auto deadline = Clock::now() + limit;
    HttpResponse r;
    do {
      r = http().request("GET", path);
      if (r.status == status) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (Clock::now() < deadline);
    return r;
  }
};

std::string read_tree(const std::string& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    all += ss.str();
  }
  return all;
}

TEST_F(Persistence, CustomersSurviveARestartOfHeralddAndRedis) {
  for (int i = 0; i < kCustomers; ++i) ASSERT_EQ(put_customer(numbered(i)).status, 201);
  long long before = 0;
  {
    auto conn = redis_connection();  // closed before Redis restarts
    before = feeder_size(conn, "F-keep");
  }
  ASSERT_GE(before, kCustomers);

  EXPECT_EQ(heraldd().stop(), 0) << heraldd().log();
  redis_server().stop();
  redis_server().restart();
  heraldd().restart();

  for (int i = 0; i < kCustomers; ++i) {
    const SampleCustomer want = numbered(i);
    auto got = get_customer(want.id);
    ASSERT_EQ(got.status, 200) << want.id << " " << got.body;
    EXPECT_EQ(json_at(got.body, "name"), want.name);
    EXPECT_EQ(json_at(got.body, "phone"), "+12014316859");
    EXPECT_EQ(json_at(got.body, "premises[0].address"), want.premises[0].address);
  }
  // A new customer still gets a number of its own after the restart, not a reused one.
  SampleCustomer late = numbered(kCustomers);
  ASSERT_EQ(put_customer(late).status, 201);
  auto conn = redis_connection();
  EXPECT_EQ(feeder_size(conn, "F-keep"), before + 1);
}

TEST_F(Persistence, TheAppendOnlyFileHoldsNoContactDetailsInClear) {
  ASSERT_EQ(
      put_customer(with_contacts(100, "Hedy Lamarr Kiesler", "hedy.kiesler@frequency.example.com",
                                 "+1 415 867 5309", "42 Spread Spectrum Way"))
          .status,
      201);
  const std::string files = read_tree(redis_server().dir());
  ASSERT_NE(files.find("P-keep-100"), std::string::npos) << "the AOF has not got the customer";
  expect_none_in_clear(files,
                       {"Hedy Lamarr", "Kiesler", "4158675309", "hedy.kiesler", "Spread Spectrum"});
}

// config/redis.conf is what the tests' Redis runs with; its AOF rewrites write an uncompressed
// snapshot as the base file, which must hold no contact detail in clear either.
TEST_F(Persistence, HeraldsRedisSettingsHoldAndARewrittenBaseHasNoContactsInClear) {
  auto conn = redis_connection();
  auto compression = conn.command({"CONFIG", "GET", "rdbcompression"});
  ASSERT_TRUE(compression.ok() && compression->elements.size() == 2);
  EXPECT_EQ(compression->elements[1].str, "no") << "the tests' Redis did not load redis.conf";

  ASSERT_EQ(
      put_customer(with_contacts(101, "Grace Brewster Hopper", "grace.hopper@cobol.example.com",
                                 "+1 212 555 0199", "9 Compiler Lane"))
          .status,
      201);
  ASSERT_TRUE(conn.command({"BGREWRITEAOF"}).ok());
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  std::string base;
  while (Clock::now() < deadline) {
    auto info = conn.command({"INFO", "persistence"});
    if (info.ok() && info->str.find("aof_rewrite_in_progress:0") != std::string::npos &&
        info->str.find("aof_rewrite_scheduled:0") != std::string::npos) {
      for (const auto& entry :
           std::filesystem::directory_iterator(redis_server().dir() + "/appendonlydir")) {
        if (entry.path().string().find(".base.rdb") == std::string::npos) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        std::stringstream bytes;
        bytes << in.rdbuf();
        base = bytes.str();
      }
      if (base.find("P-keep-101") != std::string::npos) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(base.find("P-keep-101"), std::string::npos) << "no rewritten base holds the customer";
  expect_none_in_clear(base,
                       {"Grace Brewster", "Hopper", "2125550199", "grace.hopper", "Compiler Lane"});
}

TEST_F(Persistence, ReadinessFollowsRedisAndThePoolReconnects) {
  SampleCustomer c = numbered(200);
  ASSERT_EQ(put_customer(c).status, 201);
  EXPECT_EQ(http().request("GET", "/readyz").status, 200);

  redis_server().kill();
  auto down = wait_for("/readyz", 503, std::chrono::seconds(3));
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(json_at(down.body, "error.code"), "unavailable") << down.body;
  auto unavailable = get_customer(c.id);
  EXPECT_EQ(unavailable.status, 503) << unavailable.body;
  EXPECT_EQ(json_at(unavailable.body, "error.code"), "unavailable");
  EXPECT_EQ(http().request("GET", "/healthz").status, 200) << "liveness must not follow Redis";

  redis_server().restart();
  auto up = wait_for("/readyz", 200, std::chrono::seconds(10));
  EXPECT_EQ(up.status, 200) << up.body;
  auto got = get_customer(c.id);
  EXPECT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(json_at(got.body, "name"), c.name);
}

// The same daemon with HERALD_REDIS_URL=unix:///…/redis.sock: Redis on the same host.
class PersistenceOverAUnixSocket : public Persistence {
 public:
  static void SetUpTestSuite() {
    RedisServerOptions options;
    options.aof = true;
    start_servers(std::move(options), /*over_unix_socket=*/true);
  }
};

TEST_F(PersistenceOverAUnixSocket, CustomersAreStoredAndReadinessFollowsRedis) {
  SampleCustomer c = numbered(300);
  ASSERT_EQ(put_customer(c).status, 201);
  EXPECT_EQ(http().request("GET", "/readyz").status, 200);
  auto conn = redis_connection();  // over TCP: the same server holds what heraldd wrote
  EXPECT_EQ(feeder_size(conn, "F-keep"), 1) << "the feeder index names the customer";

  redis_server().kill();
  auto down = wait_for("/readyz", 503, std::chrono::seconds(3));
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(get_customer(c.id).status, 503);
  EXPECT_TRUE(heraldd().running()) << "a write to the gone socket must not end heraldd";

  redis_server().restart();
  auto up = wait_for("/readyz", 200, std::chrono::seconds(10));
  EXPECT_EQ(up.status, 200) << up.body;
  auto got = get_customer(c.id);
  EXPECT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(json_at(got.body, "name"), c.name) << "kept in the AOF across the crash";
}

TEST_F(Persistence, SigtermExitsZeroPromptlyAndStopsAccepting) {
  ASSERT_EQ(http().request("GET", "/healthz").status, 200);  // leaves an idle keep-alive connection
  const int port = heraldd().port();
  const auto started = Clock::now();
  EXPECT_EQ(heraldd().stop(), 0) << heraldd().log();
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(5)) << "an idle connection held it up";
  EXPECT_NE(heraldd().log().find("heraldd stopped"), std::string::npos);

  HttpClient fresh("http://127.0.0.1:" + std::to_string(port), std::chrono::seconds(2));
  auto r = fresh.request("GET", "/healthz");
  EXPECT_EQ(r.status, 0) << "something still answers on the port";
  EXPECT_FALSE(r.transport_error.empty());
}

TEST_F(Persistence, StartUpRefusesABrokenTemplateAndNamesTheFile) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("herald-tmpl-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(HERALD_SOURCE_DIR "/templates", dir, fs::copy_options::recursive);
  const fs::path broken = dir / "es" / "outage" / "restored.sms.mustache";
  std::ofstream(broken) << "{{#etr_local}} never closed";
  HeralddOptions options;
  options.redis_url = redis_server().url();
  options.extra_env = {{"HERALD_TEMPLATES_DIR", dir.string()}};
  try {
    HeralddProcess refused(options);
    ADD_FAILURE() << "heraldd started with a broken template";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("restored.sms.mustache"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace herald::testing
