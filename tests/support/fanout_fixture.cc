#include "tests/support/fanout_fixture.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

namespace herald::testing {

namespace fs = std::filesystem;

void FanoutFixture::start(std::vector<std::pair<std::string, std::string>> env) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  dir_ = fs::temp_directory_path() /
         ("herald-fanout-" + std::to_string(::getpid()) + "-" + info->name());
  fs::remove_all(dir_);
  sandbox_ = dir_ / "sandbox";
  fs::create_directories(sandbox_);
  redis_ = std::make_unique<RedisServer>(RedisServerOptions{.aof = true, .extra_args = {}});
  env_ = std::move(env);
  start_another(sandbox_);
}

HeralddProcess& FanoutFixture::start_another(
    const fs::path& sandbox, const std::vector<std::pair<std::string, std::string>>& env) {
  fs::create_directories(sandbox);
  HeralddOptions options;
  options.redis_url = redis_->url();
  for (const auto& var : env_) {
    const bool replaced = std::any_of(env.begin(), env.end(),
                                      [&](const auto& other) { return other.first == var.first; });
    if (!replaced) options.extra_env.push_back(var);
  }
  options.extra_env.insert(options.extra_env.end(), env.begin(), env.end());
  options.extra_env.emplace_back("HERALD_SANDBOX_DIR", sandbox.string());
  // Processes sharing one Redis seal and open with one key.
  if (!processes_.empty()) options.pii_key = processes_.front()->pii_key();
  processes_.push_back(std::make_unique<HeralddProcess>(options));
  return *processes_.back();
}

void FanoutFixture::TearDown() {
  http_.reset();
  processes_.clear();
  redis_.reset();
  if (!dir_.empty()) fs::remove_all(dir_);
}

HttpClient& FanoutFixture::http() {
  if (!http_ || http_port_ != heraldd().port()) {
    http_ = std::make_unique<HttpClient>(heraldd().base_url(), std::chrono::seconds(60));
    http_port_ = heraldd().port();
  }
  return *http_;
}

redis::Connection FanoutFixture::redis_connection() {
  auto c = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(30));
  if (!c.ok()) throw std::runtime_error("redis: " + c.error().message);
  return std::move(*c);
}

fs::path FanoutFixture::scratch(const std::string& name) const { return dir_ / name; }

void FanoutFixture::put(const std::string& id, const std::string& body) {
  auto r = http().request("PUT", "/v1/customers/" + id, body, bearer(heraldd().admin_key()));
  ASSERT_EQ(r.status, 201) << r.body;
}

void FanoutFixture::post_event(const std::string& path, const std::string& body) {
  auto r = http().request("POST", path, body, bearer(heraldd().operator_key()));
  ASSERT_EQ(r.status, 202) << r.body;
}

std::string FanoutFixture::all_zips() {
  auto conn = redis_connection();
  auto keys = conn.command(redis::cmd("KEYS", "ix:z:*"));
  if (!keys.ok()) ADD_FAILURE() << "listing ZIP indexes: " << keys.error().message;
  std::string zips;
  if (!keys.ok()) return zips;
  std::set<std::string> names;  // "ix:z:<zip>:<slice>"
  for (const auto& k : keys->elements) names.insert(k.str.substr(5, k.str.rfind(':') - 5));
  for (const auto& z : names) zips += (zips.empty() ? "\"" : ",\"") + z + "\"";
  return zips;
}

long FanoutFixture::import_generated(long count) {
  const fs::path file = dir_ / "customers.ndjson";
  const std::string gen = "python3 " + std::string(HERALD_SOURCE_DIR) +
                          "/scripts/gen_customers.py --count " + std::to_string(count) +
                          " --out " + file.string();
  if (std::system(gen.c_str()) != 0) throw std::runtime_error("gen_customers.py failed");
  const fs::path out = dir_ / "import.json";
  const std::string import = std::string(HERALD_BINARY_DIR) + "/service/heraldctl --url " +
                             heraldd().base_url() + " --key " + heraldd().admin_key() +
                             " import --jobs 2 " + file.string() + " > " + out.string();
  if (std::system(import.c_str()) != 0) throw std::runtime_error("heraldctl import failed");
  std::ifstream in(out);
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto accepted = json_at(body, "accepted");
  return accepted ? std::stol(*accepted) : -1;
}

std::vector<std::string> FanoutFixture::lines(const fs::path& file) {
  std::vector<std::string> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(std::move(line));
  }
  return out;
}

std::vector<std::string> FanoutFixture::message_ids(const fs::path& file) {
  std::vector<std::string> out;
  for (const auto& line : lines(file)) {
    const auto at = line.find("\"id\":\"");
    if (at == std::string::npos) continue;
    const auto start = at + 6;
    out.push_back(line.substr(start, line.find('"', start) - start));
  }
  return out;
}

std::vector<std::string> FanoutFixture::lines_for(const std::string& file,
                                                  const std::string& customer_id) {
  std::vector<std::string> out;
  for (auto& line : lines(sandbox_ / file)) {
    if (line.find("\"customerId\":\"" + customer_id + "\"") != std::string::npos) {
      out.push_back(std::move(line));
    }
  }
  return out;
}

bool FanoutFixture::wait_until(const std::function<bool()>& done,
                               std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t s = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace herald::testing
