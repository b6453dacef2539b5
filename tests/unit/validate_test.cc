#include "service/core/validate.h"

#include <gtest/gtest.h>
#include <phonenumbers/phonenumberutil.h>

#include <cmath>
#include <limits>

namespace herald::core {
namespace {

v1::Customer valid_customer() {
  v1::Customer c;
  c.set_id("c-1001");
  c.set_name("  Ana García ");
  c.set_phone("(202) 555-0143");
  c.set_email(" Ana.Garcia@Example.COM ");
  c.set_time_zone("America/New_York");
  v1::Premise* p = c.add_premises();
  p->set_id("p-1");
  p->set_address("12 Main St, Springfield");
  p->set_feeder("F-12");
  p->set_transformer("T-7.3");
  p->set_zip("200011234");
  p->mutable_location()->set_lat(38.9);
  p->mutable_location()->set_lon(-77.03);
  c.mutable_preferences()->mutable_channels()->add_outage(v1::SMS);
  c.mutable_preferences()->mutable_channels()->add_outage(v1::EMAIL);
  return c;
}

// The field of the error from validating c, or "ok".
std::string error_field(v1::Customer c, std::string_view id_from_path = "") {
  Status s = validate_customer(c, id_from_path, "US");
  return s.ok() ? "ok" : s.error().field;
}

std::string pref_error_field(v1::Preferences p, std::string_view path = "preferences") {
  Status s = validate_preferences(p, path);
  return s.ok() ? "ok" : s.error().field;
}

TEST(SupportedLanguage, EnglishAndSpanishOnly) {
  EXPECT_TRUE(supported_language("en"));
  EXPECT_TRUE(supported_language("es"));
  EXPECT_FALSE(supported_language("fr"));
  EXPECT_FALSE(supported_language("EN"));
  EXPECT_FALSE(supported_language(""));
}

TEST(ValidateId, AcceptsIdentifierCharacters) {
  EXPECT_TRUE(validate_id("id", "c-1001").ok());
  EXPECT_TRUE(validate_id("id", "ACME.cust_42-a").ok());
  EXPECT_TRUE(validate_id("id", std::string(64, 'a')).ok());
}

TEST(ValidateId, RejectsWithTheGivenField) {
  const std::string too_long(65, 'a');
  for (std::string_view bad :
       {"", "-c1", ".c1", "c 1", "c/1", "c1\n", "cliente-ñ", too_long.c_str()}) {
    Status s = validate_id("premises[2].feeder", bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(s.error().field, "premises[2].feeder");
  }
}

TEST(ParseHhmm, StrictTwoDigitTimes) {
  EXPECT_EQ(*parse_hhmm("f", "00:00"), 0);
  EXPECT_EQ(*parse_hhmm("f", "07:05"), 425);
  EXPECT_EQ(*parse_hhmm("f", "21:00"), 1260);
  EXPECT_EQ(*parse_hhmm("f", "23:59"), 1439);
  for (const char* bad :
       {"24:00", "9:00", "12:60", "12-00", "12:00 ", "", "ab:cd", "1200", "-1:00"}) {
    auto r = parse_hhmm("preferences.quietHours.start", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().field, "preferences.quietHours.start");
    EXPECT_NE(r.error().message.find("HH:MM"), std::string::npos);
  }
}

TEST(NormalizePhone, UsNumbersInAnyCommonFormat) {
  for (const char* raw : {"(202) 555-0143", "202-555-0143", "202.555.0143", "+1 202 555 0143",
                          "1 (202) 555-0143", " +12025550143 ", "tel:+1-202-555-0143"}) {
    auto r = normalize_phone("phone", raw, "US");
    ASSERT_TRUE(r.ok()) << raw;
    EXPECT_EQ(*r, "+12025550143");
  }
}

TEST(NormalizePhone, SpanishNumbers) {
  EXPECT_EQ(*normalize_phone("phone", "+34 612 345 678", "US"), "+34612345678");
  EXPECT_EQ(*normalize_phone("phone", "612 34 56 78", "ES"), "+34612345678");
  EXPECT_EQ(*normalize_phone("phone", "91 234 56 78", "ES"), "+34912345678");
  EXPECT_FALSE(normalize_phone("phone", "+34 012 345 678", "US").ok());
  // A Spanish mobile typed without +34 is not a US number.
  EXPECT_FALSE(normalize_phone("phone", "612 345 678", "US").ok());
}

TEST(NormalizePhone, RejectsInvalidNumbersWithoutEchoingThem) {
  for (const char* raw : {"+1 999 555 0143", "202 555 014", "abc", "123", "+1 202 555 01433",
                          "202-555-0143 ext. 12"}) {
    auto r = normalize_phone("phone", raw, "US");
    ASSERT_FALSE(r.ok()) << raw;
    EXPECT_EQ(r.error().field, "phone");
    EXPECT_EQ(r.error().message.find("999"), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("555 014"), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("0143"), std::string::npos) << r.error().message;
  }
}

TEST(NormalizePhone, NationalNumberWithoutRegionAsksForCountryCode) {
  auto r = normalize_phone("phone", "(202) 555-0143", "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("country code"), std::string::npos);
  EXPECT_EQ(*normalize_phone("phone", "+1 202 555 0143", ""), "+12025550143");
}

TEST(NormalizePhone, RejectsExtensions) {
  auto r = normalize_phone("phone", "+1 202 555 0143 x12", "US");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("extension"), std::string::npos);
}

// What libphonenumber's own Parse + IsValidNumber make of raw; normalize_phone takes shortcuts
// for speed and must agree with it.
std::string reference_e164(const std::string& raw, const std::string& region) {
  using i18n::phonenumbers::PhoneNumberUtil;
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  i18n::phonenumbers::PhoneNumber number;
  if (util.Parse(raw, region, &number) != PhoneNumberUtil::NO_PARSING_ERROR ||
      !util.IsValidNumber(number) || number.has_extension()) {
    return "invalid";
  }
  std::string out;
  util.Format(number, PhoneNumberUtil::E164, &out);
  return out;
}

TEST(NormalizePhone, AgreesWithLibphonenumberParse) {
  const char* inputs[] = {"(202) 555-0143",
                          "202 555 0143",
                          "12025550143",
                          "+12025550143",
                          "+1 (416) 555-0199",
                          "(416) 555-0199",
                          "+1 787 555 0100",
                          "+1 800 555 0199",
                          "+1 199 555 0143",
                          "+1 202 555 014",
                          "2025550143",
                          "1025550143",
                          "+34 612 345 678",
                          "+34912345678",
                          "+34 512 345 678",
                          "+44 20 7946 0958",
                          "+44 7700 900123",
                          "020 7946 0958",
                          "+39 06 1234 5678",
                          "+39 312 345 6789",
                          "+52 55 1234 5678",
                          "+999 1234",
                          "+0 123",
                          "+1",
                          "+",
                          "+8613812345678",
                          "+882 1234 5678",
                          "612 34 56 78",
                          "91 234 56 78",
                          "+1-202-555-0143",
                          "+1.202.555.0143",
                          "001 202 555 0143",
                          "011 34 612 345 678",
                          "+12025550143123456",
                          "1-800-FLOWERS"};
  for (const char* region : {"US", "ES", "GB", "IT", "CA"}) {
    for (const char* raw : inputs) {
      auto r = normalize_phone("phone", raw, region);
      EXPECT_EQ(r.ok() ? *r : "invalid", reference_e164(raw, region)) << raw << " in " << region;
    }
  }
}

TEST(NormalizeEmail, TrimsAndLowerCasesOnlyTheDomain) {
  EXPECT_EQ(*normalize_email("email", " Ana.Garcia@Example.COM "), "Ana.Garcia@example.com");
  EXPECT_EQ(*normalize_email("email", "a+outages@mail.utility.co.uk"),
            "a+outages@mail.utility.co.uk");
  EXPECT_EQ(*normalize_email("email", "o'brien@xn--bcher-kva.example"),
            "o'brien@xn--bcher-kva.example");
}

TEST(NormalizeEmail, RejectsMalformedAddressesWithoutEchoingThem) {
  const std::string long_local = std::string(65, 'x') + "@example.com";
  const std::string long_total = "x@" + std::string(250, 'a') + ".com";
  for (const std::string& raw :
       {std::string("anagarcia"), std::string("anagarcia@"), std::string("@example.com"),
        std::string("anagarcia@example"), std::string("ana@garcia@example.com"),
        std::string("ana garcia@example.com"), std::string("ana..garcia@example.com"),
        std::string(".anagarcia@example.com"), std::string("anagarcia.@example.com"),
        std::string("anagarcia@-example.com"), std::string("anagarcia@example.c"),
        std::string("anagarcia@exam_ple.com"), std::string("anagarcia@example..com"),
        std::string("anagarcia@example.com."), std::string("anagarcía@example.com"),
        std::string("anagarcia@example.c0m"), long_local, long_total, std::string("  ")}) {
    auto r = normalize_email("email", raw);
    ASSERT_FALSE(r.ok()) << raw;
    EXPECT_EQ(r.error().field, "email");
    EXPECT_EQ(r.error().message.find("anagarc"), std::string::npos) << r.error().message;
  }
}

TEST(ValidateTimeZone, KnownIanaNamesOnly) {
  EXPECT_TRUE(validate_time_zone("timeZone", "America/New_York").ok());
  EXPECT_TRUE(validate_time_zone("timeZone", "Europe/Madrid").ok());
  EXPECT_TRUE(validate_time_zone("timeZone", "America/Puerto_Rico").ok());
  EXPECT_TRUE(validate_time_zone("timeZone", "UTC").ok());
  for (const char* bad : {"Mars/Base", "america/new_york", "", "EST-5", "../../etc/passwd"}) {
    Status s = validate_time_zone("timeZone", bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error().field, "timeZone");
    EXPECT_NE(s.error().message.find("America/New_York"), std::string::npos);
  }
}

TEST(NormalizeZip, FiveDigitAndZipPlusFour) {
  EXPECT_EQ(*normalize_zip("zip", "20001"), "20001");
  EXPECT_EQ(*normalize_zip("zip", "20001-1234"), "20001-1234");
  EXPECT_EQ(*normalize_zip("zip", "200011234"), "20001-1234");
  EXPECT_EQ(*normalize_zip("zip", " 02134 "), "02134");
  for (const char* bad : {"2000", "ABCDE", "20001-12", "20001 1234", "SW1A 1AA", ""}) {
    EXPECT_FALSE(normalize_zip("zip", bad).ok()) << bad;
  }
}

TEST(ValidatePreferences, DefaultsCadenceToMilestones) {
  v1::Preferences p;
  ASSERT_TRUE(validate_preferences(p, "preferences").ok());
  EXPECT_EQ(p.cadence(), v1::MILESTONES);
  p.set_cadence(v1::RESTORATION_ONLY);
  ASSERT_TRUE(validate_preferences(p, "preferences").ok());
  EXPECT_EQ(p.cadence(), v1::RESTORATION_ONLY);
  p.set_cadence(static_cast<v1::Cadence>(42));
  EXPECT_EQ(pref_error_field(p), "preferences.cadence");
}

TEST(ValidatePreferences, QuietHours) {
  v1::Preferences p;
  p.mutable_quiet_hours()->set_start("21:00");
  p.mutable_quiet_hours()->set_end("07:00");
  EXPECT_EQ(pref_error_field(p), "ok");

  p.mutable_quiet_hours()->set_end("");
  EXPECT_EQ(pref_error_field(p), "preferences.quietHours.end");
  p.mutable_quiet_hours()->set_end("07:00");
  p.mutable_quiet_hours()->set_start("");
  EXPECT_EQ(pref_error_field(p), "preferences.quietHours.start");
  p.mutable_quiet_hours()->set_start("9pm");
  EXPECT_EQ(pref_error_field(p), "preferences.quietHours.start");
  p.mutable_quiet_hours()->set_start("21:00");
  p.mutable_quiet_hours()->set_end("7:00");
  EXPECT_EQ(pref_error_field(p), "preferences.quietHours.end");
  p.mutable_quiet_hours()->set_end("21:00");
  EXPECT_EQ(pref_error_field(p), "preferences.quietHours.end");
}

TEST(ValidatePreferences, EmptyQuietHoursAreDropped) {
  v1::Preferences p;
  p.mutable_quiet_hours();
  ASSERT_TRUE(validate_preferences(p, "preferences").ok());
  EXPECT_FALSE(p.has_quiet_hours());
}

TEST(ValidatePreferences, MaxPerDay) {
  v1::Preferences p;
  p.set_max_per_day(0);
  EXPECT_EQ(pref_error_field(p), "preferences.maxPerDay");
  p.set_max_per_day(51);
  EXPECT_EQ(pref_error_field(p), "preferences.maxPerDay");
  p.set_max_per_day(1);
  EXPECT_EQ(pref_error_field(p), "ok");
  p.set_max_per_day(50);
  EXPECT_EQ(pref_error_field(p), "ok");
}

TEST(ValidatePreferences, ChannelListsNameTheOffendingEntry) {
  v1::Preferences p;
  p.mutable_channels()->add_outage(v1::CHANNEL_UNSPECIFIED);
  EXPECT_EQ(pref_error_field(p), "preferences.channels.OUTAGE[0]");

  p.mutable_channels()->clear_outage();
  p.mutable_channels()->add_planned_maintenance(v1::EMAIL);
  p.mutable_channels()->add_planned_maintenance(v1::EMAIL);
  EXPECT_EQ(pref_error_field(p), "preferences.channels.PLANNED_MAINTENANCE[1]");

  p.mutable_channels()->clear_planned_maintenance();
  p.mutable_channels()->add_boil_water_advisory(v1::VOICE);
  p.mutable_channels()->add_boil_water_advisory(v1::WEBHOOK);
  Status s = validate_preferences(p, "preferences");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().field, "preferences.channels.BOIL_WATER_ADVISORY[1]");
  EXPECT_NE(s.error().message.find("WEBHOOK"), std::string::npos);

  p.mutable_channels()->clear_boil_water_advisory();
  p.mutable_channels()->add_outage(static_cast<v1::Channel>(9));
  EXPECT_EQ(pref_error_field(p), "preferences.channels.OUTAGE[0]");
}

TEST(ValidatePreferences, StandaloneBodyHasTopLevelPaths) {
  v1::Preferences p;
  p.set_max_per_day(0);
  EXPECT_EQ(pref_error_field(p, ""), "maxPerDay");
  p.clear_max_per_day();
  p.mutable_channels()->add_outage(v1::WEBHOOK);
  EXPECT_EQ(pref_error_field(p, ""), "channels.OUTAGE[0]");
}

TEST(ValidateCustomer, NormalisesAValidCustomer) {
  v1::Customer c = valid_customer();
  Status s = validate_customer(c, "", "US");
  ASSERT_TRUE(s.ok()) << s.error().field << ": " << s.error().message;
  EXPECT_EQ(c.name(), "Ana García");
  EXPECT_EQ(c.phone(), "+12025550143");
  EXPECT_EQ(c.email(), "Ana.Garcia@example.com");
  EXPECT_EQ(c.language(), "en");
  EXPECT_EQ(c.premises(0).zip(), "20001-1234");
  EXPECT_EQ(c.preferences().cadence(), v1::MILESTONES);
}

TEST(ValidateCustomer, ValidatingTwiceChangesNothing) {
  v1::Customer c = valid_customer();
  ASSERT_TRUE(validate_customer(c, "", "US").ok());
  v1::Customer again = c;
  ASSERT_TRUE(validate_customer(again, "", "US").ok());
  EXPECT_EQ(again.SerializeAsString(), c.SerializeAsString());
}

TEST(ValidateCustomer, IdComesFromThePath) {
  v1::Customer c = valid_customer();
  c.clear_id();
  ASSERT_TRUE(validate_customer(c, "c-2002", "US").ok());
  EXPECT_EQ(c.id(), "c-2002");
  EXPECT_EQ(error_field(valid_customer(), "c-1001"), "ok");
  EXPECT_EQ(error_field(valid_customer(), "c-9999"), "id");
  v1::Customer no_id = valid_customer();
  no_id.clear_id();
  EXPECT_EQ(error_field(no_id), "id");
  EXPECT_EQ(error_field(no_id, "bad id"), "id");
}

TEST(ValidateCustomer, NeedsAPhoneOrAnEmail) {
  v1::Customer c = valid_customer();
  c.clear_phone();
  c.clear_email();
  c.clear_preferences();
  EXPECT_EQ(error_field(c), "phone");

  v1::Customer email_only = valid_customer();
  email_only.clear_phone();
  email_only.mutable_preferences()->mutable_channels()->clear_outage();
  email_only.mutable_preferences()->mutable_channels()->add_outage(v1::EMAIL);
  EXPECT_EQ(error_field(email_only), "ok");
}

TEST(ValidateCustomer, ChosenChannelsMustBeReachable) {
  v1::Customer c = valid_customer();
  c.clear_phone();  // OUTAGE is [SMS, EMAIL]
  Status s = validate_customer(c, "", "US");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().field, "preferences.channels.OUTAGE[0]");
  EXPECT_NE(s.error().message.find("phone"), std::string::npos);

  v1::Customer no_email = valid_customer();
  no_email.clear_email();
  EXPECT_EQ(error_field(no_email), "preferences.channels.OUTAGE[1]");

  v1::Customer voice = valid_customer();
  voice.clear_phone();
  voice.mutable_preferences()->mutable_channels()->clear_outage();
  voice.mutable_preferences()->mutable_channels()->add_boil_water_advisory(v1::VOICE);
  EXPECT_EQ(error_field(voice), "preferences.channels.BOIL_WATER_ADVISORY[0]");
}

TEST(ValidateCustomer, ContactErrorsDoNotEchoContactDetails) {
  v1::Customer c = valid_customer();
  c.set_phone("+1 999 867 5309");
  Status s = validate_customer(c, "", "US");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().field, "phone");
  EXPECT_EQ(s.error().message.find("867"), std::string::npos);

  c = valid_customer();
  c.set_email("jenny.secret@@example.com");
  s = validate_customer(c, "", "US");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().field, "email");
  EXPECT_EQ(s.error().message.find("jenny"), std::string::npos);
}

TEST(ValidateCustomer, Language) {
  v1::Customer c = valid_customer();
  c.set_language("es-MX");
  ASSERT_TRUE(validate_customer(c, "", "US").ok());
  EXPECT_EQ(c.language(), "es");
  c.set_language("EN");
  ASSERT_TRUE(validate_customer(c, "", "US").ok());
  EXPECT_EQ(c.language(), "en");
  c.set_language("fr");
  EXPECT_EQ(error_field(c), "language");
}

TEST(ValidateCustomer, TimeZoneIsRequiredAndKnown) {
  v1::Customer c = valid_customer();
  c.clear_time_zone();
  EXPECT_EQ(error_field(c), "timeZone");
  c.set_time_zone("Mars/Base");
  EXPECT_EQ(error_field(c), "timeZone");
}

TEST(ValidateCustomer, NameAndAddressAreBoundedSingleLineText) {
  v1::Customer c = valid_customer();
  c.set_name(std::string(201, 'a'));
  EXPECT_EQ(error_field(c), "name");
  std::string accented;
  for (int i = 0; i < 200; ++i) accented += "é";  // 400 bytes, 200 characters
  c.set_name(accented);
  EXPECT_EQ(error_field(c), "ok");
  c.set_name("Ana\nGarcía");
  EXPECT_EQ(error_field(c), "name");

  c = valid_customer();
  c.mutable_premises(0)->set_address(std::string(201, 'a'));
  EXPECT_EQ(error_field(c), "premises[0].address");
  c.mutable_premises(0)->set_address("12 Main St\r\nBcc: x");
  EXPECT_EQ(error_field(c), "premises[0].address");
}

TEST(ValidateCustomer, PremiseCountAndIds) {
  v1::Customer c = valid_customer();
  c.clear_premises();
  EXPECT_EQ(error_field(c), "premises");

  c = valid_customer();
  for (int i = 2; i <= 50; ++i) c.add_premises()->set_id("p-" + std::to_string(i));
  EXPECT_EQ(error_field(c), "ok");
  c.add_premises()->set_id("p-51");
  EXPECT_EQ(error_field(c), "premises");

  c = valid_customer();
  c.add_premises()->set_id("p-2");
  c.add_premises()->set_id("p-1");
  Status s = validate_customer(c, "", "US");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().field, "premises[2].id");
  EXPECT_NE(s.error().message.find("premises[0]"), std::string::npos);

  c = valid_customer();
  c.add_premises();
  EXPECT_EQ(error_field(c), "premises[1].id");
}

TEST(ValidateCustomer, PremiseGridIdsAndZip) {
  v1::Customer c = valid_customer();
  c.mutable_premises(0)->set_feeder("F 12");
  EXPECT_EQ(error_field(c), "premises[0].feeder");
  c = valid_customer();
  c.mutable_premises(0)->set_transformer("-T7");
  EXPECT_EQ(error_field(c), "premises[0].transformer");
  c = valid_customer();
  c.mutable_premises(0)->clear_feeder();
  c.mutable_premises(0)->clear_transformer();
  c.mutable_premises(0)->clear_zip();
  EXPECT_EQ(error_field(c), "ok");
  c.mutable_premises(0)->set_zip("2000");
  EXPECT_EQ(error_field(c), "premises[0].zip");
}

TEST(ValidateCustomer, PremiseLocation) {
  auto with_location = [](double lat, double lon) {
    v1::Customer c = valid_customer();
    v1::Premise* p = c.add_premises();
    p->set_id("p-2");
    p->mutable_location()->set_lat(lat);
    p->mutable_location()->set_lon(lon);
    return c;
  };
  EXPECT_EQ(error_field(with_location(85.0511287, 180)), "ok");
  EXPECT_EQ(error_field(with_location(-85.0511287, -180)), "ok");
  EXPECT_EQ(error_field(with_location(0, 12.5)), "ok");
  // Redis's GEO index refuses latitudes past 85.05112878 (and 85.05112878 is sent as 85.0511288):
  // refused here, not by a failed write.
  EXPECT_EQ(error_field(with_location(85.05112878, 10)), "premises[1].location.lat");
  EXPECT_EQ(error_field(with_location(-85.06, 10)), "premises[1].location.lat");
  EXPECT_EQ(error_field(with_location(-90, 10)), "premises[1].location.lat");
  EXPECT_EQ(error_field(with_location(90.5, 10)), "premises[1].location.lat");
  EXPECT_EQ(error_field(with_location(40, -180.01)), "premises[1].location.lon");
  EXPECT_EQ(error_field(with_location(0, 0)), "premises[1].location");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(error_field(with_location(nan, 10)), "premises[1].location.lat");
  EXPECT_EQ(error_field(with_location(10, std::numeric_limits<double>::infinity())),
            "premises[1].location.lon");
}

TEST(ValidateCustomer, PreferencesErrorsCarryTheirPath) {
  v1::Customer c = valid_customer();
  c.mutable_preferences()->mutable_quiet_hours()->set_start("21:00");
  EXPECT_EQ(error_field(c), "preferences.quietHours.end");
  c.mutable_preferences()->mutable_quiet_hours()->set_end("07:00");
  c.mutable_preferences()->set_max_per_day(100);
  EXPECT_EQ(error_field(c), "preferences.maxPerDay");
}

}  // namespace
}  // namespace herald::core
