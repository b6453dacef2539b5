#include "tests/support/journey_fixture.h"

#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "service/store/keys.h"
#include "service/store/touchpoints.h"

namespace herald::testing {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

void JourneyFixture::SetUp() {
  dir_ = fs::temp_directory_path() /
         ("herald-journey-" + std::to_string(::getpid()) + "-" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  redis_ = std::make_unique<RedisServer>();
  HeralddOptions options;
  options.redis_url = redis_->url();
  options.extra_env = {{"HERALD_SANDBOX_DIR", dir_.string()}};
  heraldd_ = std::make_unique<HeralddProcess>(options);
  http_ = std::make_unique<HttpClient>(heraldd_->base_url(), std::chrono::seconds(10));
}

void JourneyFixture::TearDown() {
  http_.reset();
  heraldd_.reset();
  redis_.reset();
  fs::remove_all(dir_);
}

void JourneyFixture::put_customer(const std::string& id, const std::string& feeder,
                                  const std::string& channels) {
  const std::string body =
      R"({"name":"Grace Hopper","phone":"+12014316859","email":"grace@example.net",)"
      R"("timeZone":"UTC","language":"en","premises":[{"id":"P-)" + id +
      R"(","address":"7 Harbor Rd","feeder":")" + feeder +
      R"(","zip":"10009"}],"preferences":{"channels":{"OUTAGE":)" + channels +
      R"(},"cadence":"MILESTONES"}})";
  auto r = http_->request("PUT", "/v1/customers/" + id, body, bearer(heraldd_->admin_key()));
  ASSERT_EQ(r.status, 201) << r.body;
}

void JourneyFixture::post_event(const std::string& path, const std::string& body) {
  auto r = http_->request("POST", path, body, bearer(heraldd_->operator_key()));
  ASSERT_EQ(r.status, 202) << r.body;
}

std::vector<std::string> JourneyFixture::await_sent(const std::string& file, const std::string& id,
                                                    size_t n) {
  auto read = [&] {
    std::vector<std::string> out;
    std::ifstream in(dir_ / file);
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"customerId\":\"" + id + "\"") != std::string::npos) out.push_back(line);
    }
    return out;
  };
  const auto until = Clock::now() + std::chrono::seconds(20);
  auto got = read();
  while (got.size() < n && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    got = read();
  }
  return got;
}

uint64_t JourneyFixture::number_of(const std::string& customer_id) {
  auto conn = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
  if (!conn.ok()) throw std::runtime_error(conn.error().message);
  auto r = conn->command(redis::cmd("HGET", store::customer_id_key(customer_id), customer_id));
  if (!r.ok() || r->type != redis::Reply::Type::kString) return 0;
  return std::stoull(r->str.substr(0, r->str.find('|')));
}

void JourneyFixture::append(const std::string& customer_id, v1::Touchpoint tp) {
  if (!tp.has_at()) {
    *tp.mutable_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  }
  tp.set_customer_id(customer_id);
  redis::Batch batch;
  store::append_touchpoint(batch, number_of(customer_id), tp);
  auto conn = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
  if (!conn.ok()) throw std::runtime_error(conn.error().message);
  auto done = conn->pipeline(batch);
  ASSERT_TRUE(done.ok());
  for (const auto& r : *done) ASSERT_FALSE(r.is_error()) << r.str;
}

v1::Touchpoint JourneyFixture::delivery(const std::string& event, v1::Channel ch,
                                        const std::string& status) {
  v1::Touchpoint tp;
  tp.set_kind(v1::DELIVERY);
  tp.set_event_id(event);
  tp.set_channel(ch);
  tp.set_status(status);
  return tp;
}

v1::Touchpoint JourneyFixture::reply(const std::string& event, const std::string& keyword) {
  v1::Touchpoint tp;
  tp.set_kind(v1::REPLY);
  tp.set_event_id(event);
  tp.set_channel(v1::SMS);
  tp.set_status(keyword);
  tp.set_detail(keyword);
  return tp;
}

HttpResponse JourneyFixture::get(const std::string& path, const std::string& credential) {
  return http_->request("GET", path, "", bearer(credential));
}

std::string JourneyFixture::token_for(const std::string& customer_id) {
  auto r = http_->request("POST", "/v1/customers/" + customer_id + "/token", "",
                          bearer(heraldd_->admin_key()));
  return json_at(r.body, "token").value_or("");
}

}  // namespace herald::testing
