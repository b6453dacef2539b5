// PhoneValidity must accept exactly the numbers libphonenumber accepts: it replaces
// libphonenumber's check on the import path, so any disagreement would let a bad number in or
// turn a good customer away.
#include "service/core/phone_validity.h"

#include <gtest/gtest.h>
#include <phonenumbers/phonenumberutil.h>

#include <random>
#include <set>
#include <string>

#include "service/core/validate.h"

namespace herald::core {
namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

struct Tally {
  int valid = 0;
  int invalid = 0;
  int left_open = 0;
};

// Compares one number asked in one region; counts the answers.
void compare(const PhoneNumber& n, const std::string& region, Tally& tally) {
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  const auto fast = PhoneValidity::instance().valid(n.country_code(), n.national_number(), region);
  if (!fast) {
    ++tally.left_open;
    return;
  }
  const bool slow = util.IsValidNumberForRegion(n, region) || util.IsValidNumber(n);
  ASSERT_EQ(*fast, slow) << "+" << n.country_code() << " " << n.national_number() << " in "
                         << region;
  ++(*fast ? tally.valid : tally.invalid);
}

std::set<std::string> regions() {
  std::set<std::string> out;
  PhoneNumberUtil::GetInstance()->GetSupportedRegions(&out);
  return out;
}

constexpr PhoneNumberUtil::PhoneNumberType kTypes[] = {
    PhoneNumberUtil::FIXED_LINE,      PhoneNumberUtil::MOBILE,      PhoneNumberUtil::TOLL_FREE,
    PhoneNumberUtil::PREMIUM_RATE,    PhoneNumberUtil::SHARED_COST, PhoneNumberUtil::VOIP,
    PhoneNumberUtil::PERSONAL_NUMBER, PhoneNumberUtil::PAGER,       PhoneNumberUtil::UAN,
    PhoneNumberUtil::VOICEMAIL};

TEST(PhoneValidity, ReadsLibphonenumbersMetadata) {
  EXPECT_TRUE(PhoneValidity::instance().loaded());
}

TEST(PhoneValidity, AgreesOnEveryRegionsExampleNumbersAndTheirNeighbours) {
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  Tally tally;
  for (const std::string& region : regions()) {
    for (auto type : kTypes) {
      PhoneNumber example;
      if (!util.GetExampleNumberForType(region, type, &example)) continue;
      if (example.italian_leading_zero()) continue;  // never reaches the checker
      for (uint64_t delta : {0, 1, 7, 10, 100, 1000, 123456}) {
        PhoneNumber n = example;
        n.set_national_number(example.national_number() + delta);
        for (const std::string& asked : {region, std::string("US"), std::string("GB")}) {
          compare(n, asked, tally);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
  // Both answers occur in numbers: the comparison is not all one way.
  EXPECT_GT(tally.valid, 3000);
  EXPECT_GT(tally.invalid, 500);
  EXPECT_LT(tally.left_open, tally.valid / 10);
}

TEST(PhoneValidity, AgreesOnRandomNumbersOfEveryLengthForEveryCallingCode) {
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  std::mt19937_64 random(20261204);
  Tally tally;
  for (const std::string& region : regions()) {
    const int code = util.GetCountryCodeForRegion(region);
    for (int length = 2; length <= 15; ++length) {
      uint64_t low = 1;
      for (int i = 1; i < length; ++i) low *= 10;
      std::uniform_int_distribution<uint64_t> pick(low, low * 10 - 1);
      for (int k = 0; k < 12; ++k) {
        PhoneNumber n;
        n.set_country_code(code);
        n.set_national_number(pick(random));
        compare(n, k % 2 ? region : std::string("US"), tally);
        if (HasFatalFailure()) return;
      }
    }
  }
  EXPECT_GT(tally.valid, 100);
  EXPECT_GT(tally.invalid, 10000);
}

TEST(PhoneValidity, NorthAmericanNumbersFindTheirOwnRegion) {
  // +1 is shared by the US, Canada and the Caribbean: a Canadian or Jamaican number is valid
  // when the default region is the US, a number in an unassigned area code is not.
  const auto& v = PhoneValidity::instance();
  v.prepare("US");                                 // what heraldd does at start
  v.prepare("XX");                                 // an unknown region is ignored
  EXPECT_EQ(v.valid(1, 2015550123, "US"), true);   // New Jersey
  EXPECT_EQ(v.valid(1, 4165550123, "US"), true);   // Toronto
  EXPECT_EQ(v.valid(1, 8765550123, "US"), true);   // Jamaica
  EXPECT_EQ(v.valid(1, 1115550123, "US"), false);  // no area code starts with 1
  EXPECT_EQ(v.valid(44, 7400123456, "US"), true);  // a UK mobile, asked in the US
  EXPECT_EQ(v.valid(44, 740012345, "GB"), false);  // one digit short
}

TEST(PhoneValidity, NonGeographicCodesAreLeftToLibphonenumber) {
  EXPECT_FALSE(PhoneValidity::instance().valid(800, 12345678, "US").has_value());
  // ...which normalize_phone then asks: a valid international freephone number passes.
  auto e164 = normalize_phone("phone", "+800 1234 5678", "US");
  ASSERT_TRUE(e164.ok()) << e164.error().message;
  EXPECT_EQ(*e164, "+80012345678");
}

}  // namespace
}  // namespace herald::core
