#include "service/http/router.h"

#include <gtest/gtest.h>

namespace herald::http {
namespace {

Handler tagged(std::string tag) {
  return [tag](Context&) -> awaitable<Response> {
    Response res{bhttp::status::ok, 11};
    res.body() = tag;
    co_return res;
  };
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router.add(bhttp::verb::get, "/v1/customers/{id}", tagged("get-customer"));
    router.add(bhttp::verb::put, "/v1/customers/{id}", tagged("put-customer"));
    router.add(bhttp::verb::post, "/v1/customers:import", tagged("import"), {.streaming = true});
    router.add(bhttp::verb::get, "/v1/customers/{id}/preferences", tagged("prefs"));
    router.add(bhttp::verb::get, "/v1/events/{id}", tagged("event"));
    router.add(bhttp::verb::get, "/v1/events/search", tagged("search"));
    router.add(bhttp::verb::post, "/v1/callbacks/{id}:cancel", tagged("cancel"));
  }
  Router router;
};

TEST_F(RouterTest, CapturesNamedSegments) {
  auto m = router.match(bhttp::verb::get, "/v1/customers/C-42/preferences");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_FALSE(m.error);
  EXPECT_EQ(m.route, "/v1/customers/{id}/preferences");
  EXPECT_EQ(m.params.at("id"), "C-42");
}

TEST_F(RouterTest, DecodesParamsAndIgnoresQuery) {
  auto m = router.match(bhttp::verb::get, "/v1/customers/a%20b%2Fc?email=x%40y.com#frag");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.route, "/v1/customers/{id}");
  EXPECT_EQ(m.params.at("id"), "a b/c");
}

TEST_F(RouterTest, LiteralColonRouteIsItsOwnSegment) {
  auto m = router.match(bhttp::verb::post, "/v1/customers:import");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.route, "/v1/customers:import");
  EXPECT_TRUE(m.streaming);
  EXPECT_TRUE(m.params.empty());
}

TEST_F(RouterTest, ParamWithLiteralSuffix) {
  auto m = router.match(bhttp::verb::post, "/v1/callbacks/cb7:cancel");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.params.at("id"), "cb7");
  EXPECT_EQ(router.match(bhttp::verb::post, "/v1/callbacks/cb7").error, ErrorCode::kNotFound);
}

TEST_F(RouterTest, LiteralBeatsParam) {
  auto m = router.match(bhttp::verb::get, "/v1/events/search");
  EXPECT_EQ(m.route, "/v1/events/search");
  EXPECT_EQ(router.match(bhttp::verb::get, "/v1/events/e1").route, "/v1/events/{id}");
}

TEST_F(RouterTest, PicksHandlerByMethod) {
  auto m = router.match(bhttp::verb::put, "/v1/customers/7");
  ASSERT_NE(m.handler, nullptr);
  Request req{bhttp::verb::put, "/v1/customers/7", 11};
  Context ctx{req, {}, m.route, nullptr};
  net::io_context io;
  std::string body;
  net::co_spawn(
      io, [&]() -> awaitable<void> { body = (co_await (*m.handler)(ctx)).body(); }, net::detached);
  io.run();
  EXPECT_EQ(body, "put-customer");
}

TEST_F(RouterTest, WrongMethodIs405WithAllowedMethods) {
  auto m = router.match(bhttp::verb::delete_, "/v1/customers/7");
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.error, ErrorCode::kMethodNotAllowed);
  EXPECT_EQ(m.route, "unmatched");
  EXPECT_EQ(m.allowed, (std::vector<bhttp::verb>{bhttp::verb::get, bhttp::verb::put}));
}

TEST_F(RouterTest, UnknownPathIs404) {
  for (const char* path : {"/v1/nope", "/v1/customers", "/v1/customers/7/", "/", ""}) {
    auto m = router.match(bhttp::verb::get, path);
    EXPECT_EQ(m.handler, nullptr) << path;
    EXPECT_EQ(m.error, ErrorCode::kNotFound) << path;
    EXPECT_EQ(m.route, "unmatched") << path;
  }
}

TEST(RouterAdd, RejectsMalformedPatterns) {
  Router router;
  EXPECT_THROW(router.add(bhttp::verb::get, "v1/x", tagged("x")), std::invalid_argument);
  EXPECT_THROW(router.add(bhttp::verb::get, "/v1/{x", tagged("x")), std::invalid_argument);
}

TEST(ContextQuery, DecodesValues) {
  Request req{bhttp::verb::get, "/v1/customers?email=a%40b.com&name=Ann+Lee&flag&x=1", 11};
  req.set("X-Request-Id", "r1");
  Context ctx{req, {}, "/v1/customers", nullptr};
  EXPECT_EQ(ctx.query("email"), "a@b.com");
  EXPECT_EQ(ctx.query("name"), "Ann Lee");
  EXPECT_EQ(ctx.query("flag"), "");
  EXPECT_EQ(ctx.query("missing"), std::nullopt);
  EXPECT_EQ(ctx.header("x-request-id"), "r1");
  EXPECT_EQ(ctx.header(bhttp::field::host), "");
}

TEST(ContextQuery, NoQueryString) {
  Request req{bhttp::verb::get, "/v1/customers", 11};
  Context ctx{req, {}, "/v1/customers", nullptr};
  EXPECT_EQ(ctx.query("email"), std::nullopt);
}

TEST(PercentDecode, LeavesMalformedEscapes) {
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
}

}  // namespace
}  // namespace herald::http
