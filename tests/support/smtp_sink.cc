#include "tests/support/smtp_sink.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

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
constexpr const char* kPython = "/usr/bin/python3";
// Python's start-up is slow on a loaded two-core machine.
constexpr auto kStartTimeout = std::chrono::seconds(30);

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

long number_at(const std::string& line, std::string_view path) {
  auto v = json_at(line, path);
  return v ? std::stol(*v) : 0;
}

// Waits up to `ms` for the child to exit; true once it has (and it was reaped).
bool reaped_within(pid_t pid, int ms, int* status) {
  for (int waited = 0; waited <= ms; waited += 10) {
    if (::waitpid(pid, status, WNOHANG) == pid) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

std::optional<std::string> ReceivedMail::header(std::string_view lower_name) const {
  return json_at(line, "headers." + std::string(lower_name));
}

std::vector<std::string> ReceivedMail::parts() const {
  std::vector<std::string> out;
  while (auto p = json_at(line, "parts[" + std::to_string(out.size()) + "]")) out.push_back(*p);
  return out;
}

std::string SmtpSink::unavailable() {
  static const std::string why = [] {
    if (::access(kPython, X_OK) != 0) return std::string("no /usr/bin/python3 on this machine");
    const char* argv[] = {kPython, "-c", "import aiosmtpd", nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, kPython, &actions, nullptr, const_cast<char**>(argv),
                                 environ);
    posix_spawn_file_actions_destroy(&actions);
    int status = 0;
    if (rc != 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      return std::string(
          "/usr/bin/python3 cannot import aiosmtpd (install python3-aiosmtpd, as "
          "scripts/setup.sh does): SMTP peer tests skipped");
    }
    return std::string();
  }();
  return why;
}

SmtpSink::SmtpSink(SmtpSinkOptions options) : options_(std::move(options)) {
  std::string tmpl = "/tmp/herald-smtp-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("SmtpSink: mkdtemp failed");
  dir_ = tmpl;
  const std::string port_file = dir_ + "/port";
  std::vector<std::string> args = {kPython,
                                   std::string(HERALD_SOURCE_DIR) + "/tests/support/smtp_sink.py",
                                   "--port-file", port_file,
                                   "--stats-file", dir_ + "/stats.json",
                                   "--lifetime", std::to_string(options_.lifetime_s)};
  if (options_.discard) {
    args.push_back("--discard");
  } else {
    args.insert(args.end(), {"--out", dir_ + "/mail.jsonl"});
  }
  if (!options_.fail_451.empty()) args.insert(args.end(), {"--fail-451", options_.fail_451});
  if (!options_.fail_550.empty()) args.insert(args.end(), {"--fail-550", options_.fail_550});
  if (!options_.auth_user.empty()) args.insert(args.end(), {"--auth-user", options_.auth_user});
  std::vector<std::string> env = {"SMTP_SINK_PASSWORD=" + options_.auth_password,
                                  "PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8"};
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string log = dir_ + "/sink.log";

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("SmtpSink: fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test binary
    if (::getppid() != parent) ::_exit(127);
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) ::_exit(127);
    ::dup2(in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  pid_ = pid;

  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    if (int status = 0; ::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("SmtpSink: exited at start: " + slurp(log));
    }
    const std::string port = slurp(port_file);
    if (!port.empty() && port.back() == '\n') {
      port_ = std::stoi(port);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop();
  throw std::runtime_error("SmtpSink: no port within 30 s: " + slurp(log));
}

SmtpSink::~SmtpSink() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string SmtpSink::url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }

std::vector<ReceivedMail> SmtpSink::received() const {
  std::vector<ReceivedMail> out;
  std::ifstream in(dir_ + "/mail.jsonl");
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    ReceivedMail m;
    m.line = std::move(line);
    m.connection = number_at(m.line, "conn");
    m.mail_from = json_at(m.line, "mail_from").value_or("");
    m.rcpt_to = json_at(m.line, "rcpt_tos[0]").value_or("");
    m.text = json_at(m.line, "text").value_or("");
    m.html = json_at(m.line, "html").value_or("");
    m.raw = json_at(m.line, "raw").value_or("");
    m.max_line = number_at(m.line, "max_line");
    m.bare_lf = json_at(m.line, "bare_lf").value_or("") == "true";
    m.auth_user = json_at(m.line, "auth_user").value_or("");
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<ReceivedMail> SmtpSink::await(size_t n, std::chrono::milliseconds timeout) const {
  const auto until = Clock::now() + timeout;
  auto got = received();
  while (got.size() < n && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    got = received();
  }
  return got;
}

SmtpSinkStats SmtpSink::stop() {
  SmtpSinkStats stats;
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    if (!reaped_within(pid_, 5000, &status)) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }
  const std::string text = slurp(dir_ + "/stats.json");
  stats.messages = number_at(text, "messages");
  stats.connections = number_at(text, "connections");
  stats.refused = number_at(text, "refused");
  if (auto cpu = json_at(text, "cpu_s")) stats.cpu_s = std::stod(*cpu);
  return stats;
}

}  // namespace herald::testing
