#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "channels/channel.h"
#include "channels/mime.h"

namespace herald::channels {

struct SmtpOptions {
  std::string url;        // smtp://host:port or smtps://host:port (a path is the EHLO name)
  std::string from;       // MAIL FROM and the From header
  std::string from_name;  // From display name
  std::string username;   // empty: no login
  std::string password;   // HERALD_SMTP_PASSWORD
  bool starttls = false;  // require STARTTLS on smtp://
  int connections = 4;    // open at once per sending thread
  std::chrono::milliseconds timeout{10000};  // connect, and each whole message
  std::string message_id_domain;             // empty: the domain of `from`
  std::string unsubscribe_mailto;            // empty: no mailto: List-Unsubscribe entry
};

// Email over SMTP with libcurl. A batch runs on the calling thread over a session of
// `connections` reused SMTP connections (one curl multi handle, easy handles taking messages
// in turn). See docs/architecture.md, "Email (SMTP)", for the MIME layout and error mapping.
class SmtpChannel : public Channel {
 public:
  explicit SmtpChannel(SmtpOptions options);
  ~SmtpChannel() override;

  v1::Channel kind() const override { return v1::EMAIL; }
  SendResult send(const v1::OutboundMessage& msg, const v1::MessageContent& content) override;
  std::vector<SendResult> send_batch(std::span<const Outgoing> batch) override;
  std::string budget_key() const override;  // "smtp:<host>:<from>"

  struct Stats {
    uint64_t sent = 0;
    uint64_t connections_opened = 0;  // the rest of the messages went over a reused connection
  };
  Stats stats() const;

 private:
  struct Session;
  std::unique_ptr<Session> acquire();
  void release(std::unique_ptr<Session> session);

  SmtpOptions options_;
  MimeOptions mime_;
  std::string url_;   // with the EHLO name as its path
  std::string host_;  // for the budget key
  std::mutex mu_;
  std::vector<std::unique_ptr<Session>> idle_;  // guarded by mu_
  std::atomic<uint64_t> sent_{0}, connections_opened_{0};
};

// What one finished transfer means for its message: `curl_code` is the CURLcode, `reply` the
// last SMTP reply code (0: none), `error` curl's error text. Addresses never reach `detail`.
SendResult smtp_result(int curl_code, long reply, std::string_view error);

}  // namespace herald::channels
