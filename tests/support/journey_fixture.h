#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "herald/v1/touchpoint.pb.h"
#include "tests/support/heraldd_process.h"

namespace herald::testing {

// A redis-server and a heraldd (sandbox channels in a temp directory) per test, with helpers
// to write touchpoints the way the delivery and inbound sides do, and to read the API.
class JourneyFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A customer on `feeder` choosing `channels` (JSON list) for outages, MILESTONES cadence.
  void put_customer(const std::string& id, const std::string& feeder, const std::string& channels);
  void post_event(const std::string& path, const std::string& body);
  // Waits (bounded) until the sandbox file holds `n` lines for the customer; returns them.
  std::vector<std::string> await_sent(const std::string& file, const std::string& id, size_t n);

  uint64_t number_of(const std::string& customer_id);
  // Appends through store::append_touchpoint, as every writer does.
  void append(const std::string& customer_id, v1::Touchpoint tp);
  v1::Touchpoint delivery(const std::string& event, v1::Channel ch, const std::string& status);
  v1::Touchpoint reply(const std::string& event, const std::string& keyword);

  HttpResponse get(const std::string& path, const std::string& credential);
  std::string token_for(const std::string& customer_id);

  std::filesystem::path dir_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<HeralddProcess> heraldd_;
  std::unique_ptr<HttpClient> http_;
};

}  // namespace herald::testing
