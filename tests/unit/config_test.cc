#include "service/core/config.h"
#include "tests/support/config_fixture.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>

namespace herald::core {
namespace {

class ConfigTest : public testing::ConfigFixture {};

TEST_F(ConfigTest, DefaultsWithoutAFile) {
  Config c = load("");
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 8080);
  EXPECT_EQ(c.redis_url, "redis://127.0.0.1:6379/0");
  EXPECT_EQ(c.redis_connections, 4);
  EXPECT_EQ(c.io_threads, 2);
  EXPECT_TRUE(c.redis_worker_links);
  EXPECT_EQ(c.body_limit, 1u << 20);
  EXPECT_EQ(c.default_region, "US");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.templates_dir, "templates");
  EXPECT_TRUE(c.api_keys.empty());
  EXPECT_EQ(c.pii_key, kPiiKey);
  EXPECT_EQ(c.token_key, kTokenKey);
}

TEST_F(ConfigTest, ReadsEveryValueFromTheFile) {
  std::string hash(64, 'a');
  Config c = load(
      yaml("listen: 0.0.0.0:0\n"
                 "redis:\n  url: redis://:pw@10.0.0.5:6380/2\n  connections: 8\n  timeout_ms: 500\n"
                 "http:\n  io_threads: 4\n  body_limit_bytes: 65536\n  read_timeout_s: 5\n"
                 "  idle_timeout_s: 30\n"
                 "customers:\n  default_phone_region: GB\n"
                 "auth:\n  customer_token_ttl_s: 3600\n  keys:\n    - admin:" +
                 hash +
                 "\n"
                 "log:\n  level: debug\n"
                 "templates:\n  dir: /srv/herald/templates\n"));
  EXPECT_EQ(c.listen_host, "0.0.0.0");
  EXPECT_EQ(c.listen_port, 0);
  EXPECT_EQ(c.redis_url, "redis://:pw@10.0.0.5:6380/2");
  EXPECT_EQ(c.redis_connections, 8);
  EXPECT_EQ(c.redis_timeout_ms, 500);
  EXPECT_EQ(c.io_threads, 4);
  EXPECT_EQ(c.body_limit, 65536u);
  EXPECT_EQ(c.read_timeout_s, 5);
  EXPECT_EQ(c.idle_timeout_s, 30);
  EXPECT_EQ(c.default_region, "GB");
  EXPECT_EQ(c.token_ttl_s, 3600);
  ASSERT_EQ(c.api_keys.size(), 1u);
  EXPECT_EQ(c.api_keys[0].role, Role::kAdmin);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.templates_dir, "/srv/herald/templates");
}

TEST_F(ConfigTest, EnvironmentOverridesTheFileAndAppendsKeys) {
  std::string path = yaml(
      "listen: 127.0.0.1:9000\nlog:\n  level: debug\n"
      "auth:\n  keys: [\"admin:" +
      std::string(64, 'a') + "\"]\n");
  env_["HERALD_LISTEN"] = "[::1]:7000";
  env_["HERALD_REDIS_URL"] = "redis://redis.internal:6379/1";
  env_["HERALD_REDIS_CONNECTIONS"] = "16";
  env_["HERALD_IO_THREADS"] = "8";
  env_["HERALD_REDIS_WORKER_LINKS"] = "false";
  env_["HERALD_DEFAULT_REGION"] = "CA";
  env_["HERALD_LOG_LEVEL"] = "warn";
  env_["HERALD_TEMPLATES_DIR"] = "/opt/templates";
  env_["HERALD_AUTH_KEYS"] = "operator:" + std::string(64, 'b');
  Config c = load(path);
  EXPECT_EQ(c.listen_host, "::1");
  EXPECT_EQ(c.listen_port, 7000);
  EXPECT_EQ(c.redis_url, "redis://redis.internal:6379/1");
  EXPECT_EQ(c.redis_connections, 16);
  EXPECT_EQ(c.io_threads, 8);
  EXPECT_FALSE(c.redis_worker_links);
  EXPECT_EQ(c.default_region, "CA");
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(c.templates_dir, "/opt/templates");
  ASSERT_EQ(c.api_keys.size(), 2u);
  EXPECT_EQ(c.api_keys[0].role, Role::kAdmin);
  EXPECT_EQ(c.api_keys[1].role, Role::kOperator);
}

TEST_F(ConfigTest, EmptyEnvironmentVariableMeansUnset) {
  env_["HERALD_LISTEN"] = "";
  EXPECT_EQ(load("").listen_port, 8080);
}

TEST_F(ConfigTest, UnknownKeysAreNamed) {
  EXPECT_EQ(error(yaml("lisen: 127.0.0.1:80\n")), "lisen: unknown key");
  EXPECT_EQ(error(yaml("redis:\n  urll: redis://x\n")), "redis.urll: unknown key");
  EXPECT_EQ(error(yaml("redis: redis://x\n")), "redis: expected a mapping");
}

TEST_F(ConfigTest, BadValuesNameTheKeyAndTheValue) {
  EXPECT_EQ(error(yaml("listen: abc\n")),
            "listen: expected host:port (port 0-65535), got 'abc'");
  EXPECT_NE(error(yaml("listen: 127.0.0.1:65536\n")).find("listen:"), std::string::npos);
  EXPECT_NE(error(yaml("listen: :80\n")).find("listen:"), std::string::npos);
  EXPECT_EQ(error(yaml("http:\n  io_threads: 0\n")),
            "http.io_threads: expected an integer from 1 to 64, got '0'");
  EXPECT_NE(error(yaml("redis:\n  connections: lots\n")).find("redis.connections:"),
            std::string::npos);
  EXPECT_NE(error(yaml("customers:\n  default_phone_region: us\n"))
                .find("customers.default_phone_region:"),
            std::string::npos);
  EXPECT_NE(error(yaml("log:\n  level: verbose\n")).find("log.level:"),
            std::string::npos);
  env_["HERALD_IO_THREADS"] = "65";
  EXPECT_NE(error("").find("HERALD_IO_THREADS:"), std::string::npos);
}

TEST_F(ConfigTest, BadRedisUrlIsRejectedWithoutEchoingThePassword) {
  std::string msg = error(yaml("redis:\n  url: http://:hunter2@host:6379\n"));
  EXPECT_TRUE(msg.starts_with("redis.url: ")) << msg;
  EXPECT_EQ(msg.find("hunter2"), std::string::npos) << msg;
  env_["HERALD_REDIS_URL"] = "redis://:hunter2@host:notaport";
  msg = error("");
  EXPECT_TRUE(msg.starts_with("HERALD_REDIS_URL: ")) << msg;
  EXPECT_EQ(msg.find("hunter2"), std::string::npos) << msg;
}

TEST_F(ConfigTest, SecretsInTheFileAreRejectedWithoutEchoingThem) {
  for (const char* text : {"auth:\n  pii_key: c2VjcmV0\n", "token_key: c2VjcmV0\n",
                           "auth:\n  token_key: c2VjcmV0\n"}) {
    std::string msg = error(yaml(text));
    EXPECT_NE(msg.find("secrets come from the environment"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("c2VjcmV0"), std::string::npos) << msg;
  }
}

TEST_F(ConfigTest, MissingOrInvalidSecretsAreNamed) {
  env_.erase("HERALD_PII_KEY");
  EXPECT_TRUE(error("").starts_with("HERALD_PII_KEY: required"));
  env_["HERALD_PII_KEY"] = kPiiKey;
  env_.erase("HERALD_TOKEN_KEY");
  EXPECT_TRUE(error("").starts_with("HERALD_TOKEN_KEY: required"));
  env_["HERALD_TOKEN_KEY"] = "dG9vLXNob3J0";
  std::string msg = error("");
  EXPECT_TRUE(msg.starts_with("HERALD_TOKEN_KEY: ")) << msg;
  EXPECT_EQ(msg.find("dG9vLXNob3J0"), std::string::npos) << msg;
}

TEST_F(ConfigTest, BadAuthKeyEntriesAreNamed) {
  env_["HERALD_AUTH_KEYS"] = "admin:nothex";
  EXPECT_TRUE(error("").starts_with("HERALD_AUTH_KEYS entry 1:"));
  EXPECT_TRUE(error(yaml("auth:\n  keys: [\"root:" + std::string(64, 'a') + "\"]\n"))
                  .starts_with("auth.keys entry 1:"));
}

TEST_F(ConfigTest, UnreadableOrInvalidYamlIsAnError) {
  EXPECT_NE(error("/nonexistent/heraldd.yaml").find("cannot be read"), std::string::npos);
  EXPECT_NE(error(yaml("listen: [unclosed\n")).find("config file"), std::string::npos);
}

TEST_F(ConfigTest, DispatchBulkNiceFromFileOrEnvironmentWithinRange) {
  EXPECT_EQ(load("").dispatch.bulk_nice, 19);
  EXPECT_EQ(load(yaml("dispatch:\n  bulk_nice: 0\n")).dispatch.bulk_nice, 0);
  env_["HERALD_DISPATCH_BULK_NICE"] = "7";
  EXPECT_EQ(load("").dispatch.bulk_nice, 7);
  EXPECT_EQ(error(yaml("dispatch:\n  bulk_nice: 20\n")),
            "dispatch.bulk_nice: expected an integer from 0 to 19, got '20'");
}

TEST_F(ConfigTest, SendingCanBeTurnedOffForAPlanningOnlyProcess) {
  EXPECT_TRUE(load("").dispatch.enabled);
  EXPECT_FALSE(load(yaml("dispatch:\n  enabled: false\n")).dispatch.enabled);
  env_["HERALD_DISPATCH_ENABLED"] = "yes";
  EXPECT_TRUE(load(yaml("dispatch:\n  enabled: false\n")).dispatch.enabled);
  env_.clear();
  EXPECT_EQ(error(yaml("dispatch:\n  enabled: sometimes\n")),
            "dispatch.enabled: expected true or false, got 'sometimes'");
}

TEST_F(ConfigTest, PlannerLanesAndBatchSizeFromFileOrEnvironmentWithinRange) {
  EXPECT_EQ(load("").planner_chunk, 100);
  EXPECT_EQ(load("").planner_batch, 400);
  EXPECT_EQ(load("").planner_lanes, 3);
  EXPECT_EQ(load("").planner_shards, 2);
  EXPECT_EQ(load("").planner_shard_min, 2000);
  EXPECT_EQ(load("").planner_bulk_nice, 19);
  EXPECT_TRUE(load("").planner_read_ahead);
  Config c =
      load(yaml("fanout:\n  planner_lanes: 4\n  planner_batch: 300\n  planner_chunk: 75\n"
                "  planner_shards: 1\n  planner_shard_min: 0\n  planner_bulk_nice: 0\n"
                "  planner_read_ahead: false\n"));
  EXPECT_FALSE(c.planner_read_ahead);
  env_["HERALD_PLANNER_READ_AHEAD"] = "no";
  EXPECT_FALSE(load("").planner_read_ahead);
  EXPECT_EQ(error(yaml("fanout:\n  planner_read_ahead: later\n")),
            "fanout.planner_read_ahead: expected true or false, got 'later'");
  EXPECT_EQ(c.planner_bulk_nice, 0);
  env_["HERALD_PLANNER_BULK_NICE"] = "5";
  EXPECT_EQ(load("").planner_bulk_nice, 5);
  EXPECT_EQ(error(yaml("fanout:\n  planner_bulk_nice: -1\n")),
            "fanout.planner_bulk_nice: expected an integer from 0 to 19, got '-1'");
  EXPECT_EQ(c.planner_lanes, 4);
  EXPECT_EQ(c.planner_shards, 1);
  EXPECT_EQ(c.planner_shard_min, 0);
  env_["HERALD_PLANNER_SHARDS"] = "8";
  EXPECT_EQ(load("").planner_shards, 8);
  EXPECT_EQ(error(yaml("fanout:\n  planner_shards: 65\n")),
            "fanout.planner_shards: expected an integer from 1 to 64, got '65'");
  EXPECT_EQ(c.planner_batch, 300);
  EXPECT_EQ(c.planner_chunk, 75);
  env_["HERALD_PLANNER_CHUNK"] = "500";
  EXPECT_EQ(load("").planner_chunk, 500);
  EXPECT_EQ(error(yaml("fanout:\n  planner_chunk: 0\n")),
            "fanout.planner_chunk: expected an integer from 10 to 5000, got '0'");
  env_["HERALD_PLANNER_BATCH"] = "1000";
  EXPECT_EQ(load("").planner_batch, 1000);
  env_["HERALD_PLANNER_CLAIM_IDLE_MS"] = "250";
  EXPECT_EQ(load("").planner_claim_idle_ms, 250);
  EXPECT_EQ(error(yaml("fanout:\n  planner_batch: 5\n")),
            "fanout.planner_batch: expected an integer from 10 to 5000, got '5'");
}

TEST_F(ConfigTest, ExampleConfigLoads) {
  Config c = load(std::string(HERALD_SOURCE_DIR) + "/config/heraldd.example.yaml");
  EXPECT_EQ(c.listen_port, 8080);
  EXPECT_EQ(c.redis_url, "redis://127.0.0.1:6379/0");
}

}  // namespace
}  // namespace herald::core

namespace herald::core {
namespace {

TEST(ConfigEveryEnv, EverySettingHasAnEnvironmentOverride) {
  std::map<std::string, std::string> env = {
      {"HERALD_PII_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="},
      {"HERALD_TOKEN_KEY", "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4="},
      {"HERALD_REDIS_TIMEOUT_MS", "750"},
      {"HERALD_BODY_LIMIT_BYTES", "4096"},
      {"HERALD_READ_TIMEOUT_S", "7"},
      {"HERALD_IDLE_TIMEOUT_S", "9"},
      {"HERALD_TOKEN_TTL_S", "3600"},
  };
  Config c = load_config("", [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  EXPECT_EQ(c.redis_timeout_ms, 750);
  EXPECT_EQ(c.body_limit, 4096u);
  EXPECT_EQ(c.read_timeout_s, 7);
  EXPECT_EQ(c.idle_timeout_s, 9);
  EXPECT_EQ(c.token_ttl_s, 3600);
}

}  // namespace
}  // namespace herald::core
