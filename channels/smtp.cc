#include "channels/smtp.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace herald::channels {
namespace {

using Status = SendResult::Status;
using Failure = SendResult::Failure;

// A configuration or server-wide fault (refused greeting, TLS, login) is not the customer's:
// it is retried, slowly, rather than failing every message of the outage.
constexpr std::chrono::milliseconds kServiceFaultRetry{60'000};

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct Transfer {
  std::unique_ptr<CURL, EasyDeleter> easy{curl_easy_init()};
  std::unique_ptr<curl_slist, SlistDeleter> rcpt;
  std::string data;
  size_t offset = 0;
  size_t index = 0;  // the message's position in the batch
  std::string message_id;
  char error[CURL_ERROR_SIZE] = {};
};

size_t read_body(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = std::min(size * count, t->data.size() - t->offset);
  std::memcpy(buffer, t->data.data() + t->offset, n);
  t->offset += n;
  return n;
}

std::string_view after_scheme(std::string_view url) {
  const size_t p = url.find("://");
  return p == std::string_view::npos ? url : url.substr(p + 3);
}

std::string host_of(std::string_view url) {
  std::string_view rest = after_scheme(url);
  if (rest.starts_with('[')) return std::string(rest.substr(0, rest.find(']') + 1));
  return std::string(rest.substr(0, rest.find_first_of(":/")));
}

// curl sends the URL's path as the EHLO name and "localhost" without one, which some
// servers refuse.
std::string with_ehlo_name(std::string url, std::string_view name) {
  const std::string_view rest = after_scheme(url);
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return url + "/" + std::string(name);
  if (slash + 1 == rest.size()) return url + std::string(name);
  return url;
}

std::string domain_of(std::string_view address) {
  const size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string("localhost")
                                      : std::string(address.substr(at + 1));
}

// curl's texts name no address today; anything in angle brackets or with an '@' is cut anyway.
std::string scrub(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(i, end - i);
    if (word.find('@') != std::string_view::npos || word.find('<') != std::string_view::npos) {
      word = "[address]";
    }
    if (!out.empty()) out += ' ';
    out += word;
    i = end + 1;
  }
  return out;
}

SendResult retry(std::string code, std::string detail, std::chrono::milliseconds after = {}) {
  SendResult r;
  r.status = Status::kRetry;
  r.error_code = std::move(code);
  r.detail = std::move(detail);
  r.retry_after = after;
  return r;
}

SendResult permanent(Failure failure, std::string code, std::string detail) {
  SendResult r;
  r.status = Status::kPermanent;
  r.failure = failure;
  r.error_code = std::move(code);
  r.detail = std::move(detail);
  return r;
}

}  // namespace

SendResult smtp_result(int curl_code, long reply, std::string_view error) {
  const auto code = static_cast<CURLcode>(curl_code);
  std::string detail = scrub(error.empty() ? curl_easy_strerror(code) : error);
  if (code == CURLE_OK) return SendResult{};
  const std::string reply_text = reply > 0 ? std::to_string(reply) : "";
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return retry("timeout", "smtp: " + detail);
    case CURLE_LOGIN_DENIED:
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
      return retry(reply_text.empty() ? "tls_or_login" : reply_text,
                   "smtp: server refused the session: " + detail, kServiceFaultRetry);
    default:
      break;
  }
  if (reply >= 400 && reply < 500) return retry(reply_text, "smtp: " + detail);
  if (reply >= 500 && reply < 600) {
    // A refused greeting turns every message away: the server's fault, not this message's.
    if (error.starts_with("Got unexpected smtp-server response")) {
      return retry(reply_text, "smtp: server refused the session: " + detail, kServiceFaultRetry);
    }
    const bool recipient = error.starts_with("RCPT failed");
    if (recipient && (reply == 550 || reply == 551 || reply == 553)) {
      return permanent(Failure::kInvalidContact, reply_text, "smtp: recipient refused: " + detail);
    }
    return permanent(Failure::kRejected, reply_text, "smtp: message refused: " + detail);
  }
  return retry("connection", "smtp: " + detail);
}

struct SmtpChannel::Session {
  CURLM* multi = curl_multi_init();
  std::vector<std::unique_ptr<Transfer>> transfers;
  ~Session() { curl_multi_cleanup(multi); }  // closes the cached connections first
};

SmtpChannel::SmtpChannel(SmtpOptions options) : options_(std::move(options)) {
  if (options_.url.rfind("smtp://", 0) != 0 && options_.url.rfind("smtps://", 0) != 0) {
    throw std::runtime_error("smtp.url: expected smtp://host:port or smtps://host:port");
  }
  if (!plain_address(options_.from)) throw std::runtime_error("smtp.from: expected an address");
  if (options_.connections < 1) options_.connections = 1;
  mime_.from = options_.from;
  mime_.from_name = options_.from_name;
  mime_.message_id_domain = options_.message_id_domain.empty() ? domain_of(options_.from)
                                                               : options_.message_id_domain;
  mime_.unsubscribe_mailto = options_.unsubscribe_mailto;
  url_ = with_ehlo_name(options_.url, mime_.message_id_domain);
  host_ = host_of(options_.url);
}

SmtpChannel::~SmtpChannel() = default;

std::string SmtpChannel::budget_key() const { return "smtp:" + host_ + ":" + options_.from; }

SmtpChannel::Stats SmtpChannel::stats() const {
  return Stats{sent_.load(), connections_opened_.load()};
}

std::unique_ptr<SmtpChannel::Session> SmtpChannel::acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto s = std::move(idle_.back());
      idle_.pop_back();
      return s;
    }
  }
  auto s = std::make_unique<Session>();
  if (s->multi == nullptr) throw std::runtime_error("smtp: curl_multi_init failed");
  const long n = options_.connections;
  curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, n);
  curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, n);
  const long timeout_ms = static_cast<long>(options_.timeout.count());
  const std::string mail_from = "<" + options_.from + ">";
  for (int i = 0; i < options_.connections; ++i) {
    auto t = std::make_unique<Transfer>();
    CURL* h = t->easy.get();
    if (h == nullptr) throw std::runtime_error("smtp: curl_easy_init failed");
    curl_easy_setopt(h, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(h, CURLOPT_READDATA, t.get());
    curl_easy_setopt(h, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    if (options_.starttls) curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    if (!options_.username.empty()) {
      curl_easy_setopt(h, CURLOPT_USERNAME, options_.username.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, options_.password.c_str());
    }
    s->transfers.push_back(std::move(t));
  }
  return s;
}

void SmtpChannel::release(std::unique_ptr<Session> session) {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(session));
}

SendResult SmtpChannel::send(const v1::OutboundMessage& msg, const v1::MessageContent& content) {
  const Outgoing one{&msg, &content};
  return send_batch(std::span<const Outgoing>(&one, 1)).front();
}

std::vector<SendResult> SmtpChannel::send_batch(std::span<const Outgoing> batch) {
  std::vector<SendResult> results(batch.size());
  std::vector<MimeMessage> built(batch.size());
  std::vector<size_t> queue;
  const auto now = std::chrono::system_clock::now();
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].msg->channel() != v1::EMAIL) {
      results[i] = permanent(Failure::kRejected, "wrong_channel", "smtp: not an email message");
      continue;
    }
    built[i] = build_mime(*batch[i].msg, *batch[i].content, mime_, now);
    if (!built[i].ok()) {
      results[i] = permanent(Failure::kInvalidContact, "bad_address", "smtp: " + built[i].problem);
      continue;
    }
    queue.push_back(i);
  }
  if (queue.empty()) return results;

  auto session = acquire();
  std::vector<Transfer*> free;
  for (auto& t : session->transfers) free.push_back(t.get());
  size_t next = 0;
  size_t active = 0;
  while (next < queue.size() || active > 0) {
    while (!free.empty() && next < queue.size()) {
      Transfer* t = free.back();
      free.pop_back();
      const size_t i = queue[next++];
      t->index = i;
      t->offset = 0;
      t->error[0] = '\0';
      t->data = std::move(built[i].data);
      t->message_id = built[i].message_id;
      t->rcpt.reset(curl_slist_append(nullptr, ("<" + batch[i].content->to() + ">").c_str()));
      curl_easy_setopt(t->easy.get(), CURLOPT_MAIL_RCPT, t->rcpt.get());
      curl_multi_add_handle(session->multi, t->easy.get());
      ++active;
    }
    int running = 0;
    curl_multi_perform(session->multi, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(session->multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      CURL* easy = m->easy_handle;
      const CURLcode code = m->data.result;
      Transfer* t = nullptr;
      long reply = 0;
      long opened = 0;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &t);
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &reply);
      curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &opened);
      curl_multi_remove_handle(session->multi, easy);
      connections_opened_ += static_cast<uint64_t>(opened);
      SendResult& r = results[t->index];
      r = smtp_result(code, reply, t->error);
      if (r.status == Status::kSent) {
        r.provider_id = t->message_id;
        ++sent_;
      }
      t->rcpt.reset();
      t->data.clear();
      free.push_back(t);
      --active;
    }
    if (active > 0 && (free.empty() || next == queue.size())) {
      curl_multi_poll(session->multi, nullptr, 0, 100, nullptr);
    }
  }
  release(std::move(session));
  for (const SendResult& r : results) {
    if (r.retry_after == kServiceFaultRetry) {
      spdlog::error("smtp {}: {}; check smtp.url, smtp.starttls, smtp.username and "
                    "HERALD_SMTP_PASSWORD", host_, r.detail);
      break;
    }
  }
  return results;
}

}  // namespace herald::channels
