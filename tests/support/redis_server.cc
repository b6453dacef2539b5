#include "tests/support/redis_server.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "service/redis/connection.h"
#include "tests/support/free_port.h"

extern char** environ;

namespace herald::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr int kStopTimeoutMs = 10000;
constexpr int kPortAttempts = 5;

std::string find_binary() {
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    std::string d;
    while (std::getline(dirs, d, ':')) {
      std::string candidate = (d.empty() ? "." : d) + "/redis-server";
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return "/usr/bin/redis-server";
}

std::string make_temp_dir() {
  std::string tmpl = "/tmp/herald-redis-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("RedisServer: mkdtemp failed");
  return tmpl;
}

bool answers_ping(const redis::Endpoint& ep) {
  auto conn = redis::Connection::connect(ep, std::chrono::milliseconds(200));
  if (!conn.ok()) return false;
  auto pong = conn->command({"PING"});
  // NOAUTH still means it is serving (requirepass in extra_args); LOADING means not yet.
  return pong.ok() && pong->str.rfind("LOADING", 0) != 0;
}

}  // namespace

RedisServer::RedisServer(RedisServerOptions options)
    : options_(std::move(options)), binary_(find_binary()), dir_(make_temp_dir()) {
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    port_ = free_port();
    if (launch()) return;
  }
  std::string tail = log_tail();
  std::filesystem::remove_all(dir_);
  throw std::runtime_error("RedisServer: " + binary_ + " did not start: " + tail);
}

RedisServer::~RedisServer() {
  try {
    stop();
    std::filesystem::remove_all(dir_);
  } catch (...) {
    // A destructor must not throw; a leftover temp dir is harmless.
  }
}

std::string RedisServer::url() const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/0";
}

redis::Endpoint RedisServer::endpoint() const {
  redis::Endpoint ep;
  ep.host = "127.0.0.1";
  ep.port = port_;
  return ep;
}

redis::Endpoint RedisServer::unix_endpoint() const {
  redis::Endpoint ep;
  ep.socket = socket_path();
  return ep;
}

bool RedisServer::launch() {
  // Herald's own Redis settings first (config/redis.conf), then the test's: a test runs
  // against the configuration the project ships, and a broken file fails every test.
  std::vector<std::string> args = {binary_,        HERALD_SOURCE_DIR "/config/redis.conf",
                                   "--port",       std::to_string(port_),
                                   "--bind",       "127.0.0.1",
                                   "--dir",        dir_,
                                   "--save",       "",
                                   "--daemonize",  "no",
                                   "--logfile",    dir_ + "/redis.log",
                                   "--appendonly", options_.aof ? "yes" : "no"};
  args.insert(args.end(), {"--unixsocket", socket_path(), "--unixsocketperm", "700"});
  if (options_.aof) args.insert(args.end(), {"--appendfsync", "always"});
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // Early start-up errors go to stdout before the logfile is opened.
  std::string out = dir_ + "/stdout.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, binary_.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("RedisServer: cannot run " + binary_);
  pid_ = pid;

  const redis::Endpoint ep = endpoint();
  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    if (answers_ping(ep)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill();
  throw std::runtime_error("RedisServer: no PING answer within 10 s: " + log_tail());
}

void RedisServer::wait_exit(int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 10) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void RedisServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  wait_exit(kStopTimeoutMs);
}

void RedisServer::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void RedisServer::restart() {
  stop();
  // The old socket may linger briefly; redis binds with SO_REUSEADDR, so a few tries suffice.
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    if (launch()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  throw std::runtime_error("RedisServer: restart on port " + std::to_string(port_) +
                           " failed: " + log_tail());
}

std::string RedisServer::log_tail() const {
  std::string text;
  for (const char* name : {"/stdout.log", "/redis.log"}) {
    std::ifstream in(dir_ + name);
    std::stringstream ss;
    ss << in.rdbuf();
    text += ss.str();
  }
  constexpr size_t kTail = 800;
  return text.size() > kTail ? text.substr(text.size() - kTail) : text;
}

}  // namespace herald::testing
