#include "tests/support/heraldd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "service/core/auth.h"
#include "service/core/crypto.h"

extern char** environ;

namespace herald::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStartTimeout = std::chrono::seconds(15);
constexpr int kStopTimeoutMs = 15000;

std::string make_temp_dir() {
  std::string tmpl = "/tmp/heraldd-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("HeralddProcess: mkdtemp failed");
  return tmpl;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// 128 + signal for a killed process, as a shell reports it.
int exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string key_for(core::Role role, std::string& auth_keys) {
  auto [key, line] = core::new_api_key(role);
  auth_keys += (auth_keys.empty() ? "" : ",") + line;
  return key;
}

}  // namespace

HeralddProcess::HeralddProcess(HeralddOptions options)
    : options_(std::move(options)),
      binary_(HERALD_BINARY_DIR "/service/heraldd"),
      dir_(make_temp_dir()) {
  core::init_crypto();
  pii_key_ = options_.pii_key.empty() ? core::random_token(32) : options_.pii_key;
  token_key_ = core::random_token(32);
  admin_key_ = key_for(core::Role::kAdmin, auth_keys_);
  operator_key_ = key_for(core::Role::kOperator, auth_keys_);
  agent_key_ = key_for(core::Role::kAgent, auth_keys_);
  analyst_key_ = key_for(core::Role::kAnalyst, auth_keys_);
  try {
    launch(0);
  } catch (...) {
    std::filesystem::remove_all(dir_);
    throw;
  }
}

HeralddProcess::~HeralddProcess() {
  try {
    stop();
    std::filesystem::remove_all(dir_);
  } catch (...) {
    // A destructor must not throw; a leftover temp dir is harmless.
  }
}

std::string HeralddProcess::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string HeralddProcess::log() const { return read_file(dir_ + "/heraldd.log"); }

void HeralddProcess::launch(int port) {
  if (try_launch(port)) return;
  // The old port may have been taken meanwhile: any free one will do.
  if (port != 0 && try_launch(0)) return;
  std::string tail = log();
  if (tail.size() > 2000) tail = tail.substr(tail.size() - 2000);
  throw std::runtime_error("HeralddProcess: " + binary_ + " did not become ready: " + tail);
}

bool HeralddProcess::try_launch(int port) {
  const std::string ready = dir_ + "/ready";
  std::filesystem::remove(ready);
  std::vector<std::string> env = {
      "HERALD_PII_KEY=" + pii_key_,
      "HERALD_TOKEN_KEY=" + token_key_,
      "HERALD_AUTH_KEYS=" + auth_keys_,
      "HERALD_REDIS_URL=" + options_.redis_url,
      "HERALD_LISTEN=127.0.0.1:" + std::to_string(port),
  };
  for (const auto& [name, value] : options_.extra_env) env.push_back(name + "=" + value);
  for (char** e = environ; *e != nullptr; ++e) {
    // Only what a process needs from the outside; any other HERALD_* would skew the test.
    std::string_view var(*e);
    if (var.starts_with("PATH=") || var.starts_with("HOME=") || var.starts_with("TZ=") ||
        var.starts_with("LANG=")) {
      env.emplace_back(var);
    }
  }
  std::vector<std::string> args = {binary_, "--ready-file", ready};
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string log_path = dir_ + "/heraldd.log";
  const std::string cwd = HERALD_SOURCE_DIR;

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("HeralddProcess: fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test binary
    if (::getppid() != parent) ::_exit(127);
    int in = ::open("/dev/null", O_RDONLY);
    int err = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || err < 0) ::_exit(127);
    ::dup2(in, STDIN_FILENO);
    ::dup2(err, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    if (::chdir(cwd.c_str()) != 0) ::_exit(127);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  pid_ = pid;

  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    // heraldd writes "127.0.0.1:PORT\n"; the newline says the write is complete.
    const std::string text = read_file(ready);
    if (!text.empty() && text.back() == '\n') {
      port_ = std::stoi(text.substr(text.rfind(':') + 1));
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill();
  return false;
}

int HeralddProcess::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  for (int waited = 0; waited < kStopTimeoutMs; waited += 10) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return exit_status(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return exit_status(status);
}

void HeralddProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void HeralddProcess::restart() {
  stop();
  launch(port_);
}

std::string customer_json(const SampleCustomer& c) {
  std::string premises;
  for (const SamplePremise& p : c.premises) {
    char location[96];
    std::snprintf(location, sizeof location, R"({"lat":%.6f,"lon":%.6f})", p.lat, p.lon);
    premises += (premises.empty() ? "" : ",") + std::string(R"({"id":")") + p.id +
                R"(","address":")" + p.address + R"(","feeder":")" + p.feeder +
                R"(","transformer":")" + p.transformer + R"(","zip":")" + p.zip +
                R"(","location":)" + location + "}";
  }
  return R"({"id":")" + c.id + R"(","name":")" + c.name + R"(","phone":")" + c.phone +
         R"(","email":")" + c.email + R"(","timeZone":")" + c.time_zone + R"(","premises":[)" +
         premises + R"(],"preferences":)" + c.preferences + "}";
}

std::unique_ptr<RedisServer> HeralddSuite::redis_;
std::unique_ptr<HeralddProcess> HeralddSuite::heraldd_;

void HeralddSuite::start_servers(RedisServerOptions redis_options, bool over_unix_socket) {
  redis_ = std::make_unique<RedisServer>(std::move(redis_options));
  HeralddOptions options;
  options.redis_url = over_unix_socket ? redis_->unix_url() : redis_->url();
  heraldd_ = std::make_unique<HeralddProcess>(std::move(options));
}

void HeralddSuite::stop_servers() {
  heraldd_.reset();
  redis_.reset();
}

redis::Connection HeralddSuite::redis_connection() {
  auto conn = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
  if (!conn.ok()) throw std::runtime_error("cannot connect to the test redis-server");
  return std::move(*conn);
}

HttpClient& HeralddSuite::http() {
  if (!http_ || http_port_ != heraldd_->port()) {
    http_ = std::make_unique<HttpClient>(heraldd_->base_url());
    http_port_ = heraldd_->port();
  }
  return *http_;
}

HttpResponse HeralddSuite::put_customer(const SampleCustomer& c) {
  return http().request("PUT", "/v1/customers/" + c.id, customer_json(c),
                        bearer(heraldd_->admin_key()));
}

HttpResponse HeralddSuite::get_customer(const std::string& id) {
  return http().request("GET", "/v1/customers/" + id, "", bearer(heraldd_->admin_key(), ""));
}

}  // namespace herald::testing
