#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "service/common/result.h"
#include "service/redis/reply.h"

namespace herald::redis {

// Where Redis is: parsed from redis://[[user]:password@]host[:port][/db], or, for a Redis on
// the same host, unix://[[user]:password@]/path/to/redis.sock[?db=N] (a Unix domain socket,
// which skips the TCP stack on both sides).
struct Endpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string socket;  // the Unix socket's path; when set, host and port are not used
  int db = 0;
  std::string password;  // never logged
  std::string user;      // Redis 6+ ACL user; empty means AUTH with the password alone

  static Result<Endpoint> parse(std::string_view url);
  std::string describe() const;  // host:port/db or unix:///path?db=N, without the credentials
  bool is_unix() const { return !socket.empty(); }
  // What a new connection sends first: AUTH when there is a password, SELECT for a db but 0.
  std::vector<Command> setup() const;
};

}  // namespace herald::redis
