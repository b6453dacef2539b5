// A fast local stand-in for Twilio's Messages API, for throughput benchmarks: HTTP/1.1 with
// keep-alive on Boost.Beast, listening on 127.0.0.1 only. It speaks the wire format of
// POST /2010-04-01/Accounts/{AccountSid}/Messages.json (form-encoded To, From or
// MessagingServiceSid, Body, StatusCallback; HTTP Basic auth) and answers 201 with a
// Twilio-shaped Message, or Twilio's error JSON (21604, 21603, 21602, 20003, ...).
// Unlike tests/support/twilio_peer.py it has no faults and no log: it only counts.
//
//   twilio_sink [--port 0] [--ready-file F] [--lifetime 600] [--threads 2]
//               [--account-sid AC...] [--auth-token T]
//
//   GET  /count  {"count": accepted, "distinct": distinct StatusCallback URLs among them,
//                 "repeated": accepted with a StatusCallback seen before, "rejected", "requests",
//                 "connections": accepted TCP connections}
//   POST /reset  the same, then zeroes everything (e.g. after a wrk run)
//
// Port 0 picks a free one; the port is printed on stdout and written to --ready-file (via a
// rename, so a reader never sees half of it). Exits on SIGTERM or SIGINT, and by itself after
// --lifetime seconds (1..86400).
#include <utility>  // before Boost 1.74's Asio, whose awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::string_view kPrefix = "/2010-04-01/Accounts/";
constexpr std::string_view kMessages = "/Messages.json";
constexpr size_t kBodyLimit = 64 * 1024;
constexpr auto kIdle = std::chrono::seconds(60);

struct Options {
  unsigned short port = 0;
  std::string ready_file;
  long lifetime_s = 600;
  int threads = 2;
  std::string account_sid = "AC" + std::string(32, '0');
  std::string auth_token = "sink-auth-token";
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "twilio_sink: %s\nusage: twilio_sink [--port N] [--ready-file F] [--lifetime S] "
               "[--threads N] [--account-sid AC...] [--auth-token T]\n",
               why);
  std::exit(2);
}

long number(const std::string& text, long lo, long hi, const char* flag) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < lo || v > hi) usage(flag);
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + flag).c_str());
    const std::string value = argv[i + 1];
    if (flag == "--port") o.port = static_cast<unsigned short>(number(value, 0, 65535, "bad --port"));
    else if (flag == "--ready-file") o.ready_file = value;
    else if (flag == "--lifetime") o.lifetime_s = number(value, 1, 86400, "bad --lifetime");
    else if (flag == "--threads") o.threads = static_cast<int>(number(value, 1, 16, "bad --threads"));
    else if (flag == "--account-sid") o.account_sid = value;
    else if (flag == "--auth-token") o.auth_token = value;
    else usage(("unknown flag " + flag).c_str());
  }
  return o;
}

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63],
            kAlphabet[v & 63]};
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded value: '+' is a space, %XX a byte.
std::string form_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Form {
  std::string to, from, messaging_service_sid, body, status_callback, media_url, content_sid;
};

Form parse_form(std::string_view text) {
  Form f;
  while (!text.empty()) {
    const size_t amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    const size_t eq = pair.find('=');
    const std::string name = form_decode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? std::string() : form_decode(pair.substr(eq + 1));
    if (name == "To") f.to = std::move(value);
    else if (name == "From") f.from = std::move(value);
    else if (name == "MessagingServiceSid") f.messaging_service_sid = std::move(value);
    else if (name == "Body") f.body = std::move(value);
    else if (name == "StatusCallback") f.status_callback = std::move(value);
    else if (name == "MediaUrl") f.media_url = std::move(value);
    else if (name == "ContentSid") f.content_sid = std::move(value);
  }
  return f;
}

// A JSON string literal, or null for an empty value.
std::string json_string(std::string_view s, bool null_if_empty = false) {
  if (s.empty() && null_if_empty) return "null";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// Segments as Twilio counts them: GSM-7 (153 per part once split; the extension characters take
// two) when every character is in the GSM alphabet's ASCII part, otherwise UCS-2 (67 per part).
int num_segments(std::string_view body) {
  static constexpr std::string_view kExtension = "^{}\\[~]|";
  size_t septets = 0, utf16 = 0;
  bool gsm = true;
  for (size_t i = 0; i < body.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(body[i]);
    if (c >= 0x80) {
      gsm = false;
      if ((c & 0xC0) != 0x80) utf16 += (c >= 0xF0) ? 2 : 1;  // a 4-byte sequence is a pair
      continue;
    }
    ++utf16;
    if (c == '`' || (c < 0x20 && c != '\n' && c != '\r')) gsm = false;
    septets += kExtension.find(static_cast<char>(c)) != std::string_view::npos ? 2 : 1;
  }
  const size_t units = gsm ? septets : utf16;
  const size_t single = gsm ? 160 : 70, part = gsm ? 153 : 67;
  return units <= single ? 1 : static_cast<int>((units + part - 1) / part);
}

std::string rfc2822_now() {
  thread_local std::time_t cached_at = 0;
  thread_local std::string cached;
  const std::time_t now = std::time(nullptr);
  if (now != cached_at) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    cached = buf;
    cached_at = now;
  }
  return cached;
}

std::string new_sid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[40];
  std::snprintf(buf, sizeof buf, "SM%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

class Sink {
 public:
  explicit Sink(const Options& o)
      : account_sid_(o.account_sid),
        expected_auth_("Basic " + base64(o.account_sid + ":" + o.auth_token)) {}

  void connected() { ++connections_; }

  http::response<http::string_body> handle(const http::request<http::string_body>& req) {
    std::string_view target(req.target().data(), req.target().size());
    target = target.substr(0, target.find('?'));
    if (target == "/count" && req.method() == http::verb::get) return reply(req, 200, counts());
    if (target == "/reset" && req.method() == http::verb::post) {
      std::lock_guard lock(mu_);
      std::string before = counts_locked();
      accepted_ = repeated_ = 0;
      rejected_ = 0;
      requests_ = 0;
      connections_ = 0;
      seen_.clear();
      return reply(req, 200, before);
    }
    ++requests_;
    if (!target.starts_with(kPrefix) || !target.ends_with(kMessages) ||
        target.size() <= kPrefix.size() + kMessages.size()) {
      return error(req, 404, 20404, "The requested resource " + std::string(target) + " was not found");
    }
    if (req.method() != http::verb::post) return error(req, 405, 20004, "Method not allowed");
    const std::string_view account =
        target.substr(kPrefix.size(), target.size() - kPrefix.size() - kMessages.size());
    const auto auth = req[http::field::authorization];
    if (account != account_sid_ || std::string_view(auth.data(), auth.size()) != expected_auth_) {
      auto res = error(req, 401, 20003, "Authenticate");
      res.set(http::field::www_authenticate, "Basic realm=\"Twilio API\"");
      return res;
    }
    const auto ctype = req[http::field::content_type];
    if (!std::string_view(ctype.data(), ctype.size()).starts_with("application/x-www-form-urlencoded")) {
      return error(req, 400, 20001, "Content-Type must be application/x-www-form-urlencoded");
    }
    const Form f = parse_form(req.body());
    if (f.to.empty()) return error(req, 400, 21604, "A 'To' phone number is required.");
    if (f.from.empty() && f.messaging_service_sid.empty()) {
      return error(req, 400, 21603, "A 'From' phone number is required.");
    }
    if (f.body.empty() && f.media_url.empty() && f.content_sid.empty()) {
      return error(req, 400, 21602, "Message body is required.");
    }
    {
      std::lock_guard lock(mu_);
      ++accepted_;
      if (!f.status_callback.empty() &&
          !seen_.insert(std::hash<std::string>{}(f.status_callback)).second) {
        ++repeated_;
      }
    }
    return reply(req, 201, created(f));
  }

 private:
  std::string created(const Form& f) const {
    const std::string sid = new_sid();
    const std::string now = rfc2822_now();
    const std::string base = std::string(kPrefix) + account_sid_ + "/Messages/" + sid;
    std::string j;
    j.reserve(768 + f.body.size());
    j += "{\"account_sid\":" + json_string(account_sid_);
    j += ",\"api_version\":\"2010-04-01\",\"body\":" + json_string(f.body);
    j += ",\"date_created\":" + json_string(now) + ",\"date_sent\":null,\"date_updated\":" +
         json_string(now);
    j += ",\"direction\":\"outbound-api\",\"error_code\":null,\"error_message\":null";
    j += ",\"from\":" + json_string(f.from, true);
    j += ",\"messaging_service_sid\":" + json_string(f.messaging_service_sid, true);
    j += ",\"num_media\":\"0\",\"num_segments\":\"" + std::to_string(num_segments(f.body)) + "\"";
    j += ",\"price\":null,\"price_unit\":\"USD\",\"sid\":\"" + sid + "\"";
    // A Messaging Service picks the sender later: Twilio says "accepted" then, else "queued".
    j += std::string(",\"status\":\"") + (f.from.empty() ? "accepted" : "queued") + "\"";
    j += ",\"subresource_uris\":{\"media\":" + json_string(base + "/Media.json") + "}";
    j += ",\"to\":" + json_string(f.to) + ",\"uri\":" + json_string(base + ".json") + "}";
    return j;
  }

  std::string counts() {
    std::lock_guard lock(mu_);
    return counts_locked();
  }

  std::string counts_locked() const {
    return "{\"count\":" + std::to_string(accepted_) + ",\"distinct\":" + std::to_string(seen_.size()) +
           ",\"repeated\":" + std::to_string(repeated_) + ",\"rejected\":" + std::to_string(rejected_.load()) +
           ",\"requests\":" + std::to_string(requests_.load()) +
           ",\"connections\":" + std::to_string(connections_.load()) + "}";
  }

  http::response<http::string_body> error(const http::request<http::string_body>& req,
                                          unsigned status, int code, const std::string& message) {
    ++rejected_;
    return reply(req, status,
                 "{\"code\":" + std::to_string(code) + ",\"message\":" + json_string(message) +
                     ",\"more_info\":\"/docs/errors/" + std::to_string(code) +
                     "\",\"status\":" + std::to_string(status) + "}");
  }

  static http::response<http::string_body> reply(const http::request<http::string_body>& req,
                                                 unsigned status, std::string body) {
    http::response<http::string_body> res{static_cast<http::status>(status), req.version()};
    res.set(http::field::server, "twilio-sink");
    res.set(http::field::content_type, "application/json; charset=utf-8");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
  }

  const std::string account_sid_;
  const std::string expected_auth_;
  std::mutex mu_;
  std::atomic<uint64_t> rejected_{0}, requests_{0}, connections_{0};
  uint64_t accepted_ = 0, repeated_ = 0;  // with seen_, under mu_
  std::unordered_set<size_t> seen_;  // hashes of StatusCallback URLs (one per Herald message)
};

// One keep-alive connection: read a request, answer it, read the next.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Sink& sink) : stream_(std::move(socket)), sink_(sink) {}

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    stream_.expires_after(kIdle);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      // end_of_stream, timeouts and resets all end the connection.
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    res_ = sink_.handle(parser_->get());
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code wec, size_t) {
      if (wec || !self->res_.keep_alive()) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      self->read();
    });
  }

  beast::tcp_stream stream_;
  Sink& sink_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
};

void accept(tcp::acceptor& acceptor, asio::io_context& ioc, Sink& sink) {
  acceptor.async_accept(asio::make_strand(ioc), [&](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      sink.connected();
      std::make_shared<Session>(std::move(socket), sink)->start();
    }
    accept(acceptor, ioc, sink);
  });
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  asio::io_context ioc(options.threads);
  Sink sink(options);

  tcp::acceptor acceptor(ioc);
  const tcp::endpoint where(asio::ip::make_address("127.0.0.1"), options.port);
  beast::error_code ec;
  acceptor.open(where.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(where, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "twilio_sink: cannot listen on 127.0.0.1:%u: %s\n", options.port,
                 ec.message().c_str());
    return 1;
  }
  const unsigned port = acceptor.local_endpoint().port();
  if (!options.ready_file.empty()) {
    const std::string tmp = options.ready_file + ".tmp";
    std::ofstream(tmp) << port << "\n";
    if (std::rename(tmp.c_str(), options.ready_file.c_str()) != 0) {
      std::fprintf(stderr, "twilio_sink: cannot write %s\n", options.ready_file.c_str());
      return 1;
    }
  }
  std::printf("%u\n", port);
  std::fflush(stdout);

  accept(acceptor, ioc, sink);
  asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](beast::error_code, int) { ioc.stop(); });
  asio::steady_timer lifetime(ioc, std::chrono::seconds(options.lifetime_s));
  lifetime.async_wait([&](beast::error_code) { ioc.stop(); });

  std::vector<std::thread> threads;
  for (int i = 1; i < options.threads; ++i) threads.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();
  return 0;
}
