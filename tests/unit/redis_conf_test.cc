#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "service/store/redis_settings.h"

namespace herald::store {
namespace {

// config/redis.conf as name -> value (the value "" for `save ""`).
std::map<std::string, std::string> shipped_conf() {
  std::ifstream in(HERALD_SOURCE_DIR "/config/redis.conf");
  EXPECT_TRUE(in) << "config/redis.conf is missing";
  std::map<std::string, std::string> conf;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string name, value;
    words >> name >> value;
    if (value == "\"\"") value.clear();
    EXPECT_FALSE(conf.contains(name)) << name << " is set twice";
    conf[name] = value;
  }
  return conf;
}

// A Redis started from the shipped file alone has every encoding heraldd would set, so one
// restarted without heraldd keeps the data layout's sizes.
TEST(ShippedRedisConf, HoldsEveryEncodingHeralddSetsWithTheSameValue) {
  const auto conf = shipped_conf();
  for (const RedisSetting& s : redis_settings()) {
    auto it = conf.find(std::string(s.name));
    ASSERT_NE(it, conf.end()) << s.name << " is missing from config/redis.conf";
    EXPECT_EQ(it->second, s.value) << s.name;
  }
}

TEST(ShippedRedisConf, KeepsTheAofWithoutSnapshotsOrCompressedRewrites) {
  const auto conf = shipped_conf();
  EXPECT_EQ(conf.at("appendonly"), "yes");
  EXPECT_EQ(conf.at("appendfsync"), "everysec");
  EXPECT_EQ(conf.at("save"), "");
  EXPECT_EQ(conf.at("rdbcompression"), "no");
  EXPECT_EQ(conf.at("maxmemory-policy"), "noeviction");
}

}  // namespace
}  // namespace herald::store
