#include "service/events/validate_event.h"

#include <gtest/gtest.h>

#include "service/api/json.h"

namespace herald::events {
namespace {

v1::Event parsed(const std::string& json) {
  v1::Event e;
  auto ok = api::parse_json(json, e);
  EXPECT_TRUE(ok.ok()) << ok.error().message;
  return e;
}

Error rejected(const std::string& json) {
  v1::Event e = parsed(json);
  auto ok = validate_new_event(e);
  EXPECT_FALSE(ok.ok()) << json;
  return ok.ok() ? Error{} : ok.error();
}

std::string outage(const std::string& extra) {
  return R"({"id":"OUT-1","kind":"OUTAGE","area":{"feeders":["F-12"]})" + extra + "}";
}

TEST(ValidateEvent, ANewOutageGetsItsFirstStageAndAdvisorySeverity) {
  v1::Event e = parsed(outage(R"(,"cause":"storm","estimatedRestoration":"2026-11-22T18:00:00Z")"));
  ASSERT_TRUE(validate_new_event(e).ok());
  EXPECT_EQ(e.stage(), v1::DETECTED);
  EXPECT_EQ(e.severity(), v1::ADVISORY);
}

TEST(ValidateEvent, RequiredFieldsAreNamed) {
  EXPECT_EQ(rejected(R"({"kind":"OUTAGE","area":{"zips":["10001"]}})").field, "id");
  EXPECT_EQ(rejected(R"({"id":"bad id!","kind":"OUTAGE","area":{"zips":["10001"]}})").field, "id");
  EXPECT_EQ(rejected(R"({"id":"E-1","area":{"zips":["10001"]}})").field, "kind");
  EXPECT_EQ(rejected(R"({"id":"E-1","kind":"OUTAGE"})").field, "area");
  EXPECT_EQ(rejected(R"({"id":"E-1","kind":"OUTAGE","area":{}})").field, "area");
  EXPECT_EQ(rejected(outage(R"(,"stage":"RESTORED")")).field, "stage");
  EXPECT_EQ(rejected(outage(R"(,"revision":3)")).field, "revision");
}

TEST(ValidateEvent, AreaFieldsAreCheckedByTheirJsonPath) {
  EXPECT_EQ(rejected(R"({"id":"E","kind":"OUTAGE","area":{"premises":["P-1","no way"]}})").field,
            "area.premises[1]");
  EXPECT_EQ(rejected(R"({"id":"E","kind":"OUTAGE","area":{"zips":["1234"]}})").field,
            "area.zips[0]");
  EXPECT_EQ(rejected(R"({"id":"E","kind":"OUTAGE","area":{"polygon":[)"
                     R"({"lat":40,"lon":-73},{"lat":41,"lon":-73},{"lat":91,"lon":-72}]}})")
                .field,
            "area.polygon[2].lat");
  EXPECT_EQ(rejected(R"({"id":"E","kind":"OUTAGE","area":{"polygon":[)"
                     R"({"lat":40,"lon":-73},{"lat":41,"lon":-73}]}})")
                .field,
            "area.polygon");
  EXPECT_EQ(rejected(R"({"id":"E","kind":"OUTAGE","area":{"circle":)"
                     R"({"center":{"lat":40,"lon":-73},"radiusM":0.5}}})")
                .field,
            "area.circle.radiusM");
  EXPECT_EQ(rejected(R"({"id":"E","kind":"OUTAGE","area":{"circle":{"radiusM":10}}})").field,
            "area.circle.center");
}

TEST(ValidateEvent, ZipsAreNormalisedAndACircleIsEnough) {
  v1::Event e = parsed(R"({"id":"E","kind":"BOIL_WATER_ADVISORY","area":{"zips":["100011234"],)"
                       R"("circle":{"center":{"lat":40,"lon":-73},"radiusM":200000}}})");
  ASSERT_TRUE(validate_new_event(e).ok());
  EXPECT_EQ(e.area().zips(0), "10001-1234");
  EXPECT_EQ(e.stage(), v1::ISSUED);
}

TEST(ValidateEvent, MaintenanceNeedsAnOrderedWindow) {
  const std::string base = R"({"id":"M-1","kind":"PLANNED_MAINTENANCE","area":{"feeders":["F"]})";
  EXPECT_EQ(rejected(base + "}").field, "windowStart");
  EXPECT_EQ(rejected(base + R"(,"windowStart":"2026-05-01T10:00:00Z",)"
                            R"("windowEnd":"2026-05-01T10:00:00Z"})")
                .field,
            "windowEnd");
  v1::Event ok = parsed(base + R"(,"windowStart":"2026-05-01T10:00:00Z",)"
                               R"("windowEnd":"2026-05-01T14:00:00Z"})");
  EXPECT_TRUE(validate_new_event(ok).ok());
  EXPECT_EQ(ok.stage(), v1::SCHEDULED);
  EXPECT_EQ(rejected(outage(R"(,"windowStart":"2026-05-01T10:00:00Z")")).field, "windowStart");
}

TEST(ValidateEvent, TimesBefore2000AreRefused) {
  EXPECT_EQ(rejected(outage(R"(,"estimatedRestoration":"1999-12-31T23:59:59Z")")).field,
            "estimatedRestoration");
}

TEST(ValidateUpdate, StageIsRequiredAndFieldsPresentAreChecked) {
  v1::EventUpdate u;
  EXPECT_EQ(validate_update(u).error().field, "stage");
  ASSERT_TRUE(
      api::parse_json(R"({"stage":"UPDATED","area":{"polygon":[{"lat":1,"lon":1}]}})", u).ok());
  EXPECT_EQ(validate_update(u).error().field, "area.polygon");
}

TEST(ValidateUpdate, PresentFieldsReplaceTheCurrentOnes) {
  v1::Event e = parsed(outage(R"(,"cause":"storm","severity":"URGENT")"));
  ASSERT_TRUE(validate_new_event(e).ok());
  v1::EventUpdate u;
  ASSERT_TRUE(api::parse_json(R"({"stage":"UPDATED","estimatedRestoration":"2026-11-22T20:00:00Z",)"
                              R"("area":{"zips":["10001"]}})",
                              u)
                  .ok());
  ASSERT_TRUE(validate_update(u).ok());
  apply_update(e, u);
  EXPECT_EQ(e.stage(), v1::UPDATED);
  EXPECT_EQ(e.cause(), "storm");          // absent: kept
  EXPECT_EQ(e.severity(), v1::URGENT);    // absent: kept
  EXPECT_EQ(e.area().feeders_size(), 0);  // a present area replaces the whole area
  EXPECT_EQ(e.area().zips(0), "10001");
  EXPECT_TRUE(e.has_estimated_restoration());
  EXPECT_TRUE(validate_merged(e).ok());
}

TEST(ValidateUpdate, AMergedWindowMustStayOrdered) {
  v1::Event e =
      parsed(R"({"id":"M-1","kind":"PLANNED_MAINTENANCE","area":{"feeders":["F"]},)"
             R"("windowStart":"2026-05-01T10:00:00Z","windowEnd":"2026-05-01T14:00:00Z"})");
  ASSERT_TRUE(validate_new_event(e).ok());
  v1::EventUpdate u;
  ASSERT_TRUE(
      api::parse_json(R"({"stage":"SCHEDULED","windowStart":"2026-05-01T15:00:00Z"})", u).ok());
  ASSERT_TRUE(validate_update(u).ok());
  apply_update(e, u);
  EXPECT_EQ(validate_merged(e).error().field, "windowEnd");
}

}  // namespace
}  // namespace herald::events
