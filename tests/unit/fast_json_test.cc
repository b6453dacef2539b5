#include "service/api/fast_json.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "herald/v1/customer.pb.h"
#include "herald/v1/event.pb.h"
#include "service/api/json.h"

namespace herald::api {
namespace {

namespace pb = google::protobuf;

bool protobuf_parse(std::string_view json, pb::Message& msg) {
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  return pb::util::JsonStringToMessage(pb::StringPiece(json.data(), json.size()), &msg, options)
      .ok();
}

// Parses json with protobuf, with the fast path and with parse_json, and asserts that every
// answer is protobuf's. Returns whether the fast path took the input itself.
bool expect_same(const pb::Message& prototype, std::string_view json) {
  std::unique_ptr<pb::Message> canonical(prototype.New());
  std::unique_ptr<pb::Message> fast(prototype.New());
  std::unique_ptr<pb::Message> combined(prototype.New());
  const bool canonical_ok = protobuf_parse(json, *canonical);
  const bool fast_ok = fast_parse(json, *fast);
  if (fast_ok) {
    EXPECT_TRUE(canonical_ok) << "fast path accepted what protobuf refuses: " << json;
    EXPECT_TRUE(pb::util::MessageDifferencer::Equals(*fast, *canonical)) << json;
    // Also catches what Equals forgives, such as -0.0 against 0.0.
    EXPECT_EQ(fast->SerializeAsString(), canonical->SerializeAsString()) << json;
  }
  EXPECT_EQ(parse_json(json, *combined).ok(), canonical_ok) << json;
  // Bytes, not Equals: NaN (from "NaN", protobuf's path) never equals itself.
  if (canonical_ok) {
    EXPECT_EQ(combined->SerializeAsString(), canonical->SerializeAsString()) << json;
  }
  return fast_ok;
}

std::vector<std::string> generated_lines() {
  FILE* pipe = ::popen("/usr/bin/python3 " HERALD_SOURCE_DIR
                       "/scripts/gen_customers.py --count 3000 --seed 5 --bad-every 7",
                       "r");
  std::string out;
  if (pipe != nullptr) {
    char buf[65536];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
    ::pclose(pipe);
  }
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(FastJson, GeneratedCustomersParseAsProtobufDoesAndAllTakeTheFastPath) {
  const auto lines = generated_lines();
  ASSERT_EQ(lines.size(), 3000u);
  int canonical_ok = 0;
  for (const auto& line : lines) {
    v1::Customer c;
    const bool ok = protobuf_parse(line, c);
    canonical_ok += ok;
    // Every line protobuf accepts is one the import fast path must cover.
    EXPECT_EQ(expect_same(v1::Customer(), line), ok) << line;
  }
  EXPECT_GT(canonical_ok, 2500);
}

TEST(FastJson, EscapesAndUnicodeTakeTheFastPath) {
  for (const char* json : {
           R"({"name":"Ren\u00e9e"})",
           R"({"name":"smile \ud83d\ude00"})",
           R"({"name":"a\"b\\c\/d\n\t\r\b\f"})",
           "{\"name\":\"Zo\xc3\xab \xe6\x97\xa5\xe6\x9c\xac\"}",
           R"({"name":"nul\u0000byte"})",
           R"({"\u0069d":"C-1"})",
       }) {
    EXPECT_TRUE(expect_same(v1::Customer(), json)) << json;
  }
}

TEST(FastJson, LoneSurrogatesAreLeftToProtobuf) {
  for (const char* json :
       {R"({"name":"\ud83d"})", R"({"name":"\ude00"})", R"({"name":"\ud83d\u0041"})"}) {
    v1::Customer c;
    EXPECT_FALSE(fast_parse(json, c)) << json;
    expect_same(v1::Customer(), json);
  }
}

TEST(FastJson, NullsEmptiesAndDefaultsTakeTheFastPath) {
  for (const char* json : {
           R"({})",
           R"( {"id" : "C-1" } )",
           R"({"name":null,"premises":null,"preferences":null})",
           R"({"premises":[],"preferences":{"channels":{"OUTAGE":[]}}})",
           R"({"preferences":{"maxPerDay":null,"cadence":null,"quietHours":null}})",
           R"({"preferences":{}})",
           R"({"premises":[{}]})",
           R"({"medicallyDependent":false,"id":""})",
           R"({"time_zone":"Europe/Paris","preferences":{"quiet_hours":null}})",
           R"({"preferences":{"channels":{"planned_maintenance":["SMS"]}}})",
       }) {
    EXPECT_TRUE(expect_same(v1::Customer(), json)) << json;
  }
}

TEST(FastJson, OptionalFieldsGetPresenceEvenForDefaults) {
  for (const char* json : {R"({"maxPerDay":0})", R"({"callbackOffers":false})",
                           R"({"max_per_day":4294967295,"callback_offers":true})"}) {
    EXPECT_TRUE(expect_same(v1::Preferences(), json)) << json;
  }
  v1::Preferences p;
  ASSERT_TRUE(fast_parse(R"({"maxPerDay":0,"callbackOffers":false})", p));
  EXPECT_TRUE(p.has_max_per_day());
  EXPECT_TRUE(p.has_callback_offers());
}

TEST(FastJson, NumbersMatchProtobuf) {
  for (const char* n : {"0",
                        "-0",
                        "-0.0",
                        "-0e0",
                        "1e2",
                        "40.734682",
                        "-73.984429",
                        "1e-400",
                        "4.9e-324",
                        "1.7976931348623157e308",
                        "1e400",
                        "9007199254740993",
                        "-9223372036854775808",
                        "18446744073709551615",
                        "123456789012345678901234567890",
                        "\"1.5\"",
                        "\"NaN\"",
                        "\"Infinity\"",
                        "true",
                        "01",
                        "1.",
                        ".5"}) {
    expect_same(v1::Customer(),
                std::string(R"({"premises":[{"location":{"lat":)") + n + R"(,"lon":1}}]})");
    expect_same(v1::Preferences(), std::string(R"({"maxPerDay":)") + n + "}");
    expect_same(v1::Event(), std::string(R"({"revision":)") + n + "}");
  }
  for (const char* n : {"4294967296", "-1", "1.0", "1e2", "\"9\"", "1.5"}) {
    expect_same(v1::Preferences(), std::string(R"({"maxPerDay":)") + n + "}");
  }
}

TEST(FastJson, EnumsMatchProtobuf) {
  EXPECT_TRUE(expect_same(v1::Preferences(), R"({"cadence":"EVERY_UPDATE"})"));
  EXPECT_TRUE(expect_same(v1::Preferences(), R"({"cadence":"CADENCE_UNSPECIFIED"})"));
  for (const char* v : {"\"every_update\"", "\"every-update\"", "\"NOPE\"", "1", "\"1\"", "9",
                        "true", "[\"SMS\"]"}) {
    expect_same(v1::Preferences(), std::string(R"({"cadence":)") + v + "}");
    expect_same(v1::Preferences(), std::string(R"({"channels":{"OUTAGE":[)") + v + "]}}");
  }
}

TEST(FastJson, InvalidInputIsLeftToProtobuf) {
  for (const char* json : {
           R"({"id":"x"} x)",
           R"({"id":"x"}{})",
           R"({"id":"x"},)",
           R"({"id":"x")",
           "",
           "[]",
           "null",
           "\"x\"",
           "\xef\xbb\xbf{}",
           R"({"id":"a","id":"b"})",
           R"({"timeZone":"UTC","time_zone":"UTC"})",
           R"({"preferences":{},"preferences":{"cadence":"MILESTONES"}})",
           R"({"premises":[{"colour":"red"}]})",
           R"({"nickname":"x"})",
           R"({"preferences":{"channels":{"plannedMaintenance":["SMS"]}}})",
           R"({"premises":[null]})",
           R"({"preferences":{"channels":{"OUTAGE":[null]}}})",
           R"({"id":5})",
           R"({"id":["a"]})",
           R"({"premises":{}})",
           R"({"preferences":[]})",
           R"({"premises":"P-1"})",
           R"({"medicallyDependent":"true"})",
           R"({"name":"\ud83d"})",
           R"({"name":"\ude00"})",
           R"({"name":"\ud83dx"})",
           "{\"name\":\"\xff\"}",
           R"({"name":"tab	inside"})",
           R"({'id':"x"})",
           R"({id:"x"})",
           R"({"createdAt":"2026-11-22T18:00:00Z"})",
           R"({"createdAt":null})",
           R"({"createdAt":{}})",
       }) {
    expect_same(v1::Customer(), json);
  }
}

TEST(FastJson, EventsWithoutTimestampsTakeTheFastPath) {
  const std::string event =
      R"({"id":"E-1","kind":"OUTAGE","stage":"DETECTED","severity":"URGENT","cause":"storm",)"
      R"("area":{"premises":["P-1","P-2"],"feeders":[],"zips":["10009"],)"
      R"("polygon":[{"lat":1,"lon":2},{"lat":40.5,"lon":-73.25}],)"
      R"("circle":{"center":{"lat":1.5,"lon":2.5},"radiusM":100}},"revision":3)";
  EXPECT_TRUE(expect_same(v1::Event(), event + "}"));
  expect_same(v1::Event(), event + R"(,"windowStart":"2026-11-22T18:00:00Z"})");
  expect_same(v1::Event(), event + R"(,"acceptedAt":"2026-11-22T18:00:00.123+01:00"})");
  expect_same(v1::Event(), event + R"(,"estimatedRestoration":null})");
  expect_same(v1::Event(), event + R"(,"stage":"RESTORED"})");
}

TEST(FastJson, ParseReplacesWhatTheMessageHeld) {
  const char* json = R"({"id":"C-2","premises":[{"id":"P-2"}]})";
  v1::Customer canonical;
  canonical.set_name("Old Name");
  canonical.add_premises()->set_id("P-1");
  v1::Customer combined = canonical;
  ASSERT_TRUE(protobuf_parse(json, canonical));
  ASSERT_TRUE(parse_json(json, combined).ok());
  EXPECT_TRUE(pb::util::MessageDifferencer::Equals(combined, canonical));
}

TEST(FastJson, LargeBodiesTakeProtobufsPath) {
  const std::string json = R"({"name":")" + std::string(300 * 1024, 'a') + R"("})";
  v1::Customer c;
  EXPECT_FALSE(fast_parse(json, c));
  EXPECT_FALSE(expect_same(v1::Customer(), json));
}

TEST(ObjectMembers, NamesEachMemberAndOneLevelBelowWithNulls) {
  auto m = object_members(R"({"a":1,"b":null,"c":{"d":null,"e":[1]},"f":{}})");
  ASSERT_TRUE(m.has_value());
  std::vector<std::string> seen;
  for (const JsonMember& x : *m) seen.push_back(x.path + (x.null ? "=null" : "") + (x.object ? "{}" : ""));
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b=null", "c{}", "c.d=null", "c.e", "f{}"}));
  EXPECT_FALSE(object_members("[1,2]").has_value());
  EXPECT_FALSE(object_members("{\"a\":").has_value());
}

}  // namespace
}  // namespace herald::api
