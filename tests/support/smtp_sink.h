#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::testing {

struct SmtpSinkOptions {
  std::string fail_451;       // recipients matching this regular expression get 451 at RCPT TO
  std::string fail_550;       // ... and these 550
  bool discard = false;       // count messages only: no parsing, no file (benchmarks)
  std::string auth_user;      // when set, clients must log in as this user ...
  std::string auth_password;  // ... with this password
  int lifetime_s = 300;       // the sink exits by itself after this, even if the test crashed
};

// One message as the sink received and parsed it (tests/support/smtp_sink.py).
struct ReceivedMail {
  std::string line;  // the sink's JSON line
  long connection = 0;  // the sink's connection number: equal numbers shared one connection
  std::string mail_from;
  std::string rcpt_to;  // the first recipient
  std::string text;     // the decoded text/plain part
  std::string html;     // the decoded text/html part
  std::string raw;      // the message as it came, CRLF line ends
  long max_line = 0;    // longest line in characters, without its CRLF
  bool bare_lf = false;  // a LF without CR anywhere
  std::string auth_user;
  // A header decoded (RFC 2047 words joined, folding undone); name in lower case.
  std::optional<std::string> header(std::string_view lower_name) const;
  std::vector<std::string> parts() const;  // content types of the leaf parts, in order
};

struct SmtpSinkStats {
  long messages = 0;
  long connections = 0;
  long refused = 0;      // recipients refused by fault injection
  double cpu_s = 0;      // the sink's own CPU time (user + system)
};

// A real SMTP server (aiosmtpd under /usr/bin/python3) on 127.0.0.1, owned by the test and
// stopped by its PID. Throws std::runtime_error when it does not start (a set-up failure).
class SmtpSink {
 public:
  // Empty when /usr/bin/python3 can import aiosmtpd; otherwise why not, for GTEST_SKIP.
  static std::string unavailable();

  explicit SmtpSink(SmtpSinkOptions options = {});
  ~SmtpSink();
  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string url() const;  // smtp://127.0.0.1:PORT

  std::vector<ReceivedMail> received() const;  // everything so far, in arrival order
  // Waits (bounded) until at least n messages arrived; returns what arrived.
  std::vector<ReceivedMail> await(size_t n,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(20))
      const;
  // SIGTERM, wait, and the sink's counts (zeros if it could not write them).
  SmtpSinkStats stop();

 private:
  SmtpSinkOptions options_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace herald::testing
