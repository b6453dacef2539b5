#include <gtest/gtest.h>

#include "service/redis/endpoint.h"

namespace herald::redis {
namespace {

Endpoint parse_ok(std::string_view url) {
  auto ep = Endpoint::parse(url);
  EXPECT_TRUE(ep.ok()) << url << ": " << (ep.ok() ? "" : ep.error().message);
  return ep.ok() ? *ep : Endpoint{};
}

void expect_invalid(std::string_view url, std::string_view mentions) {
  auto ep = Endpoint::parse(url);
  ASSERT_FALSE(ep.ok()) << url;
  EXPECT_EQ(ep.error().code, ErrorCode::kInvalidArgument) << url;
  EXPECT_EQ(ep.error().field, "redis.url") << url;
  EXPECT_NE(ep.error().message.find(mentions), std::string::npos)
      << url << " -> " << ep.error().message;
}

TEST(RedisEndpoint, HostPortAndDb) {
  Endpoint ep = parse_ok("redis://cache.internal:6380/3");
  EXPECT_EQ(ep.host, "cache.internal");
  EXPECT_EQ(ep.port, 6380);
  EXPECT_EQ(ep.db, 3);
  EXPECT_TRUE(ep.password.empty());
  EXPECT_TRUE(ep.user.empty());
}

TEST(RedisEndpoint, DefaultsPortAndDb) {
  Endpoint ep = parse_ok("redis://localhost");
  EXPECT_EQ(ep.host, "localhost");
  EXPECT_EQ(ep.port, 6379);
  EXPECT_EQ(ep.db, 0);
  EXPECT_EQ(parse_ok("redis://localhost:7000/").db, 0);
}

TEST(RedisEndpoint, PasswordOnly) {
  Endpoint ep = parse_ok("redis://:s3cret@127.0.0.1:6379/1");
  EXPECT_EQ(ep.password, "s3cret");
  EXPECT_TRUE(ep.user.empty());
  EXPECT_EQ(ep.host, "127.0.0.1");
  EXPECT_EQ(ep.db, 1);
}

TEST(RedisEndpoint, UserAndPassword) {
  Endpoint ep = parse_ok("redis://herald:pa%40ss@10.0.0.5:6379");
  EXPECT_EQ(ep.user, "herald");
  EXPECT_EQ(ep.password, "pa@ss");
  EXPECT_EQ(ep.host, "10.0.0.5");
}

TEST(RedisEndpoint, RawAtInPasswordEndsAtLastAt) {
  Endpoint ep = parse_ok("redis://:a@b@host:1");
  EXPECT_EQ(ep.password, "a@b");
  EXPECT_EQ(ep.host, "host");
}

TEST(RedisEndpoint, Ipv6Host) {
  Endpoint ep = parse_ok("redis://[::1]:6390/2");
  EXPECT_EQ(ep.host, "::1");
  EXPECT_EQ(ep.port, 6390);
  EXPECT_EQ(ep.describe(), "[::1]:6390/2");
}

TEST(RedisEndpoint, DescribeNeverShowsCredentials) {
  Endpoint ep = parse_ok("redis://admin:topsecret@db.example:6379/4");
  EXPECT_EQ(ep.describe(), "db.example:6379/4");
  EXPECT_EQ(ep.describe().find("topsecret"), std::string::npos);
  EXPECT_EQ(ep.describe().find("admin"), std::string::npos);
}

TEST(RedisEndpoint, RejectsMalformedUrls) {
  expect_invalid("http://localhost:6379", "redis://");
  expect_invalid("localhost:6379", "redis://");
  expect_invalid("redis://", "host");
  expect_invalid("redis://:6379", "host");
  expect_invalid("redis://localhost:", "port");
  expect_invalid("redis://localhost:abc", "port");
  expect_invalid("redis://localhost:0", "port");
  expect_invalid("redis://localhost:65536", "port");
  expect_invalid("redis://localhost:6379x", "port");
  expect_invalid("redis://localhost:6379/x", "database");
  expect_invalid("redis://localhost:6379/-1", "database");
  expect_invalid("redis://:@localhost", "password");
  expect_invalid("redis://:bad%zzescape@localhost", "%");
  expect_invalid("redis://[::1:6379", "]");
  expect_invalid("redis://localhost?timeout=1", "query");
}

TEST(RedisEndpoint, ErrorsNeverEchoThePassword) {
  auto ep = Endpoint::parse("redis://:hunter2@localhost:notaport");
  ASSERT_FALSE(ep.ok());
  EXPECT_EQ(ep.error().message.find("hunter2"), std::string::npos);
}

TEST(RedisEndpoint, UnixSocketWithDbAndCredentials) {
  Endpoint ep = parse_ok("unix:///run/redis/redis.sock");
  EXPECT_TRUE(ep.is_unix());
  EXPECT_EQ(ep.socket, "/run/redis/redis.sock");
  EXPECT_EQ(ep.db, 0);
  EXPECT_EQ(ep.describe(), "unix:///run/redis/redis.sock");

  ep = parse_ok("unix://herald:pa%40s/s@/var/run/r.sock?db=4");
  EXPECT_EQ(ep.user, "herald");
  EXPECT_EQ(ep.password, "pa@s/s");
  EXPECT_EQ(ep.socket, "/var/run/r.sock");
  EXPECT_EQ(ep.db, 4);
  EXPECT_EQ(ep.describe(), "unix:///var/run/r.sock?db=4") << "no credentials";
  EXPECT_EQ(ep.setup().size(), 2u) << "AUTH, then SELECT";
  EXPECT_FALSE(parse_ok("redis://127.0.0.1:6379").is_unix());
}

TEST(RedisEndpoint, RejectsMalformedUnixUrls) {
  expect_invalid("unix://", "absolute socket path");
  expect_invalid("unix://relative/redis.sock", "absolute socket path");
  expect_invalid("unix://:pw@", "absolute socket path");
  expect_invalid("unix:///r.sock?db=x", "database");
  expect_invalid("unix:///r.sock?timeout=3", "only query parameter");
  expect_invalid("unix:///" + std::string(120, 'a'), "longer than 107");
  expect_invalid("http://localhost", "redis:// or unix://");
}

}  // namespace
}  // namespace herald::redis
