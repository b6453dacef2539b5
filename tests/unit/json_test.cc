#include <gtest/gtest.h>

#include "herald/v1/customer.pb.h"
#include "service/api/json.h"
#include "service/common/json_string.h"

namespace herald::api {
namespace {

Error parse_error(const std::string& json) {
  v1::Customer c;
  auto status = parse_json(json, c);
  EXPECT_FALSE(status.ok()) << json;
  return status.ok() ? Error{} : status.error();
}

TEST(StrictJson, UnknownTopLevelFieldIsNamed) {
  auto e = parse_error(R"({"id":"C-1","nickname":"x"})");
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(e.field, "nickname");
}

TEST(StrictJson, UnknownNestedFieldCarriesItsPath) {
  auto e = parse_error(R"({"premises":[{"id":"P-1","colour":"red"}]})");
  EXPECT_EQ(e.field, "premises[0].colour");
}

TEST(StrictJson, WrongTypeNamesJsonPathAndExpectedType) {
  auto e = parse_error(R"({"premises":[{"location":{"lat":"north"}}]})");
  EXPECT_EQ(e.field, "premises[0].location.lat");
  EXPECT_NE(e.message.find("a number"), std::string::npos);
}

TEST(StrictJson, EnumErrorsListTheAllowedValuesInWireNames) {
  auto e = parse_error(R"({"preferences":{"channels":{"OUTAGE":["SMS","FAX"]}}})");
  EXPECT_EQ(e.field, "preferences.channels.OUTAGE[1]");
  EXPECT_NE(e.message.find("SMS, EMAIL, VOICE"), std::string::npos);
}

TEST(StrictJson, RejectedValueIsNeverEchoed) {
  auto e = parse_error(R"({"phone": 14155550101})");
  EXPECT_EQ(e.field, "phone");
  EXPECT_EQ(e.message.find("4155550101"), std::string::npos);
}

TEST(StrictJson, MalformedJsonIsAnErrorWithoutField) {
  auto e = parse_error(R"({"name": )");
  EXPECT_TRUE(e.field.empty());
  EXPECT_NE(e.message.find("malformed JSON"), std::string::npos);
}

TEST(StrictJson, ProtobufBodiesAreAcceptedAndOtherTypesAre415) {
  v1::Customer c;
  c.set_id("C-9");
  v1::Customer out;
  ASSERT_TRUE(parse_body("application/x-protobuf", c.SerializeAsString(), out).ok());
  EXPECT_EQ(out.id(), "C-9");
  auto status = parse_body("text/plain", "{}", out);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kUnsupportedMediaType);
}

TEST(StrictJson, PrintsWireNamesForChannelKinds) {
  v1::Customer c;
  c.mutable_preferences()->mutable_channels()->add_outage(v1::SMS);
  EXPECT_NE(to_json(c).find(R"("OUTAGE":["SMS"])"), std::string::npos);
}

TEST(JsonString, EscapesWhatJsonRequiresAndPassesTheRestThrough) {
  std::string out = "x:";
  append_json_string(out, "Se\u00f1ora \"Ana\" \\ C:\\dir\n\ttab\x01" "end");
  EXPECT_EQ(out, "x:\"Se\u00f1ora \\\"Ana\\\" \\\\ C:\\\\dir\\n\\ttab\\u0001end\"");
  std::string plain;
  append_json_string(plain, "");
  append_json_string(plain, "no escapes at all");
  EXPECT_EQ(plain, "\"\"\"no escapes at all\"");
}

}  // namespace
}  // namespace herald::api
