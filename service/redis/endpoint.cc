#include "service/redis/endpoint.h"

#include <charconv>
#include <optional>

namespace herald::redis {
namespace {

constexpr std::string_view kField = "redis.url";
constexpr std::string_view kScheme = "redis://";
constexpr std::string_view kUnixScheme = "unix://";

Error bad(std::string what) { return invalid(std::string(kField), std::move(what)); }

std::optional<int> parse_int(std::string_view s, int min, int max) {
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < min || v > max) {
    return std::nullopt;
  }
  return v;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Credentials may carry reserved characters as %XX, as in any URL.
std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex_value(s[i + 1]);
    int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// Fills user and password from "[user]:password" or a lone "password".
std::optional<Error> parse_userinfo(std::string_view info, Endpoint& ep) {
  std::string_view user;
  std::string_view pass = info;
  if (auto colon = info.find(':'); colon != std::string_view::npos) {
    user = info.substr(0, colon);
    pass = info.substr(colon + 1);
  }
  auto u = percent_decode(user);
  auto p = percent_decode(pass);
  if (!u || !p) return bad("credentials contain a malformed %-escape");
  if (p->empty()) return bad("password is empty");
  ep.user = std::move(*u);
  ep.password = std::move(*p);
  return std::nullopt;
}

// Fills host and port from "host[:port]" or "[v6addr][:port]".
std::optional<Error> parse_hostport(std::string_view hp, Endpoint& ep) {
  std::string_view host = hp;
  std::string_view port;
  if (!hp.empty() && hp.front() == '[') {
    auto close = hp.find(']');
    if (close == std::string_view::npos) return bad("IPv6 host is missing ']'");
    host = hp.substr(1, close - 1);
    std::string_view rest = hp.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("unexpected text after IPv6 host");
      port = rest.substr(1);
      if (port.empty()) return bad("port is empty");
    }
  } else if (auto colon = hp.find(':'); colon != std::string_view::npos) {
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
    if (port.empty()) return bad("port is empty");
  }
  if (host.empty()) return bad("host is empty");
  ep.host = std::string(host);
  if (!port.empty()) {
    auto p = parse_int(port, 1, 65535);
    if (!p) return bad("port must be a number from 1 to 65535");
    ep.port = *p;
  }
  return std::nullopt;
}

// unix://[[user]:password@]/path[?db=N]
Result<Endpoint> parse_unix(std::string_view rest) {
  Endpoint ep;
  if (rest.find('#') != std::string_view::npos) return bad("fragments are not supported");
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  // Credentials end at the first "@/": the path follows (a password may hold a '/').
  std::string_view path = rest;
  if (!rest.empty() && rest.front() != '/') {
    const size_t cut = rest.find("@/");
    if (cut == std::string_view::npos) return bad("unix:// needs an absolute socket path");
    if (auto err = parse_userinfo(rest.substr(0, cut), ep)) return std::move(*err);
    path = rest.substr(cut + 1);
  }
  if (path.size() < 2) return bad("unix:// needs an absolute socket path");  // more than "/"
  if (path.size() >= 108) return bad("the socket path is longer than 107 characters");
  ep.socket = std::string(path);
  if (!query.empty()) {
    if (query.substr(0, 3) != "db=") return bad("the only query parameter of unix:// is db");
    auto n = parse_int(query.substr(3), 0, 1 << 20);
    if (!n) return bad("database must be a non-negative number");
    ep.db = *n;
  }
  return ep;
}

}  // namespace

Result<Endpoint> Endpoint::parse(std::string_view url) {
  if (url.substr(0, kUnixScheme.size()) == kUnixScheme) {
    return parse_unix(url.substr(kUnixScheme.size()));
  }
  if (url.substr(0, kScheme.size()) != kScheme) {
    return bad("must start with redis:// or unix://");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return bad("query strings and fragments are not supported");
  }

  Endpoint ep;
  std::string_view authority = rest;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      auto n = parse_int(db, 0, 1 << 20);
      if (!n) return bad("database must be a non-negative number");
      ep.db = *n;
    }
  }
  // The last '@' ends the credentials: a raw '@' in a password is then still accepted.
  std::string_view hostport = authority;
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    if (auto err = parse_userinfo(authority.substr(0, at), ep)) return std::move(*err);
    hostport = authority.substr(at + 1);
  }
  if (auto err = parse_hostport(hostport, ep)) return std::move(*err);
  return ep;
}

std::string Endpoint::describe() const {
  if (is_unix()) return "unix://" + socket + (db != 0 ? "?db=" + std::to_string(db) : "");
  bool v6 = host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port) + "/" + std::to_string(db);
}

std::vector<Command> Endpoint::setup() const {
  std::vector<Command> out;
  if (!password.empty()) {
    if (user.empty()) {
      out.push_back({"AUTH", password});
    } else {
      out.push_back({"AUTH", user, password});
    }
  }
  if (db != 0) out.push_back({"SELECT", std::to_string(db)});
  return out;
}

}  // namespace herald::redis
