#include "tests/support/twilio_peer.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/http_client.h"

extern char** environ;

namespace herald::testing {
namespace {

using Clock = std::chrono::steady_clock;
// Python's start-up is slow on a loaded two-core machine.
constexpr auto kStartTimeout = std::chrono::seconds(30);

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::optional<std::string> TwilioRequest::form(std::string_view field) const {
  return json_at(line, "form." + std::string(field));
}

std::optional<std::string> TwilioRequest::get(std::string_view path) const {
  return json_at(line, path);
}

TwilioPeer::TwilioPeer(TwilioPeerOptions options) : options_(std::move(options)) {
  std::string tmpl = "/tmp/herald-twilio-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("TwilioPeer: mkdtemp failed");
  dir_ = tmpl;
  const std::string port_file = dir_ + "/port";
  std::vector<std::string> args = {"python3",
                                   std::string(HERALD_SOURCE_DIR) + "/tests/support/twilio_peer.py",
                                   "--port-file",
                                   port_file,
                                   "--log",
                                   options_.log ? dir_ + "/requests.jsonl" : "",
                                   "--lifetime",
                                   std::to_string(options_.lifetime_s),
                                   "--account-sid",
                                   options_.account_sid,
                                   "--auth-token",
                                   options_.auth_token,
                                   "--webhook-secret",
                                   options_.webhook_secret};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string out = dir_ + "/peer.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, "python3", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("TwilioPeer: cannot run python3");
  pid_ = pid;

  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    if (int status = 0; ::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("TwilioPeer: exited at start: " + read_file(out));
    }
    std::string port = read_file(port_file);
    if (!port.empty()) {
      port_ = std::stoi(port);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop();
  throw std::runtime_error("TwilioPeer: no port within 30 s: " + read_file(out));
}

TwilioPeer::~TwilioPeer() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void TwilioPeer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int waited = 0; waited < 5000; waited += 10) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string TwilioPeer::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void TwilioPeer::set_mode(std::string_view json) {
  HttpClient client(base_url(), std::chrono::seconds(10));
  auto r = client.request("POST", "/_control", json, {{"Content-Type", "application/json"}});
  if (r.status != 200) throw std::runtime_error("TwilioPeer: /_control answered " + r.body);
}

std::string TwilioPeer::stats() const {
  HttpClient client(base_url(), std::chrono::seconds(10));
  return client.request("GET", "/_stats").body;
}

long TwilioPeer::stat(std::string_view name) const {
  auto v = json_at(stats(), name);
  return v ? std::stol(*v) : -1;
}

std::vector<TwilioRequest> TwilioPeer::requests() const {
  std::vector<TwilioRequest> out;
  std::ifstream in(dir_ + "/requests.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    TwilioRequest r;
    r.line = line;
    r.path = json_at(line, "path").value_or("");
    r.status = std::stol(json_at(line, "status").value_or("0"));
    r.sid = json_at(line, "answer.sid").value_or("");
    r.conn = std::stol(json_at(line, "conn").value_or("0"));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace herald::testing
