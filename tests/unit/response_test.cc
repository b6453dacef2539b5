#include "service/http/response.h"

#include <gtest/gtest.h>

namespace herald::http {
namespace {

TEST(StatusFor, MapsEveryErrorCode) {
  EXPECT_EQ(status_for(ErrorCode::kInvalidArgument), bhttp::status::bad_request);
  EXPECT_EQ(status_for(ErrorCode::kUnauthenticated), bhttp::status::unauthorized);
  EXPECT_EQ(status_for(ErrorCode::kPermissionDenied), bhttp::status::forbidden);
  EXPECT_EQ(status_for(ErrorCode::kNotFound), bhttp::status::not_found);
  EXPECT_EQ(status_for(ErrorCode::kMethodNotAllowed), bhttp::status::method_not_allowed);
  EXPECT_EQ(status_for(ErrorCode::kConflict), bhttp::status::conflict);
  EXPECT_EQ(status_for(ErrorCode::kPayloadTooLarge), bhttp::status::payload_too_large);
  EXPECT_EQ(status_for(ErrorCode::kUnsupportedMediaType), bhttp::status::unsupported_media_type);
  EXPECT_EQ(status_for(ErrorCode::kUnavailable), bhttp::status::service_unavailable);
  EXPECT_EQ(status_for(ErrorCode::kInternal), bhttp::status::internal_server_error);
}

TEST(ErrorBody, IncludesFieldWhenPresent) {
  EXPECT_EQ(
      error_body(invalid("customer.phone", "not E.164")),
      R"({"error":{"code":"invalid_argument","message":"not E.164","field":"customer.phone"}})");
}

TEST(ErrorBody, OmitsEmptyField) {
  EXPECT_EQ(error_body(make_error(ErrorCode::kNotFound, "no such customer")),
            R"({"error":{"code":"not_found","message":"no such customer"}})");
}

TEST(ErrorBody, EscapesJsonStrings) {
  std::string message = "say \"hi\"\\\n\t\x01 caf\xc3\xa9";
  EXPECT_EQ(error_body(make_error(ErrorCode::kConflict, message)),
            "{\"error\":{\"code\":\"conflict\",\"message\":"
            "\"say \\\"hi\\\"\\\\\\n\\t\\u0001 caf\xc3\xa9\"}}");
}

TEST(ErrorResponse, SetsStatusTypeAndLength) {
  Response res = error_response(make_error(ErrorCode::kPayloadTooLarge, "too big"));
  EXPECT_EQ(res.result(), bhttp::status::payload_too_large);
  EXPECT_EQ(res[bhttp::field::content_type], "application/json");
  EXPECT_EQ(res[bhttp::field::content_length], std::to_string(res.body().size()));
  EXPECT_EQ(res.count(bhttp::field::www_authenticate), 0u);
}

TEST(ErrorResponse, UnauthenticatedAsksForBearer) {
  Response res = error_response(make_error(ErrorCode::kUnauthenticated, "missing key"));
  EXPECT_EQ(res.result(), bhttp::status::unauthorized);
  EXPECT_EQ(res[bhttp::field::www_authenticate], "Bearer");
}

TEST(Json, SetsContentType) {
  Response res = json(bhttp::status::created, R"({"id":"c1"})");
  EXPECT_EQ(res.result(), bhttp::status::created);
  EXPECT_EQ(res[bhttp::field::content_type], "application/json");
  EXPECT_EQ(res.body(), R"({"id":"c1"})");
}

TEST(Protobuf, SetsContentType) {
  Response res = protobuf(bhttp::status::ok, std::string("\x0a\x02hi", 4));
  EXPECT_EQ(res[bhttp::field::content_type], "application/x-protobuf");
  EXPECT_EQ(res.body().size(), 4u);
}

}  // namespace
}  // namespace herald::http
