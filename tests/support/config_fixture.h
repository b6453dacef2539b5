#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "service/core/config.h"

namespace herald::testing {

// Config tests: YAML files written to the test's temp dir (removed afterwards) and an
// environment of our own, holding the two required secrets until a test changes it.
class ConfigFixture : public ::testing::Test {
 protected:
  static constexpr const char* kPiiKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  static constexpr const char* kTokenKey =
      "fbfffbfffbfffbfffbfffbfffbfffbfffbfffbfffbfffbfffbfffbfffbfffbff";

  ~ConfigFixture() override {
    for (const auto& f : files_) std::remove(f.c_str());
  }

  std::string yaml(const std::string& text) {
    std::string path = ::testing::TempDir() + "herald_config_" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
                       std::to_string(files_.size()) + ".yaml";
    std::ofstream(path) << text;
    files_.push_back(path);
    return path;
  }

  core::Config load(const std::string& path = "") {
    return core::load_config(path, [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    });
  }

  // The ConfigError's message; fails the test if loading succeeded.
  std::string error(const std::string& path = "") {
    try {
      load(path);
    } catch (const core::ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "expected a ConfigError";
    return "";
  }

  std::map<std::string, std::string> env_ = {{"HERALD_PII_KEY", kPiiKey},
                                             {"HERALD_TOKEN_KEY", kTokenKey}};
  std::vector<std::string> files_;
};

}  // namespace herald::testing
