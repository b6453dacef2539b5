#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::testing {

struct TwilioPeerOptions {
  std::string account_sid = "AC0123456789abcdef0123456789abcdef";
  std::string auth_token = "peer-auth-token";
  int lifetime_s = 300;  // the peer exits by itself after this, even if the test crashed
  bool log = true;       // record every request (off for throughput runs)
  std::string webhook_secret;  // when set, /hook requests are checked for X-Herald-Signature
};

// One request the peer answered, as it logged it (tests/support/twilio_peer.py).
struct TwilioRequest {
  std::string line;  // the JSON line
  std::string path;
  long status = 0;
  std::string sid;  // "SM…"/"CA…" when it answered 201
  long conn = 0;    // the peer's connection number: equal numbers shared one keep-alive connection
  std::optional<std::string> form(std::string_view field) const;  // a form field as sent
  std::optional<std::string> get(std::string_view path) const;    // any member, e.g. "body"
};

// A stand-in for Twilio's REST API and a CRM endpoint (/hook, for the webhook channel) on
// 127.0.0.1 (python3 on PATH), owned by the test and stopped by PID. Faults: set_mode() or the
// magic To numbers documented in twilio_peer.py. Throws std::runtime_error when it does not
// start (a set-up failure).
class TwilioPeer {
 public:
  explicit TwilioPeer(TwilioPeerOptions options = {});
  ~TwilioPeer();
  TwilioPeer(const TwilioPeer&) = delete;
  TwilioPeer& operator=(const TwilioPeer&) = delete;

  std::string base_url() const;  // http://127.0.0.1:PORT, for twilio.base_url
  int port() const { return port_; }
  const std::string& account_sid() const { return options_.account_sid; }
  const std::string& auth_token() const { return options_.auth_token; }

  // POST /_control with this JSON, e.g. R"({"mode":"429","retry_after":7,"count":1})".
  void set_mode(std::string_view json);
  std::string stats() const;  // GET /_stats: requests, max_concurrent_connections, ...
  long stat(std::string_view name) const;
  std::vector<TwilioRequest> requests() const;  // everything logged so far, in answer order
  void stop();

 private:
  TwilioPeerOptions options_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace herald::testing
