#include <gtest/gtest.h>

#include "service/common/result.h"

namespace herald {
namespace {

TEST(Result, CarriesValueOrError) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = invalid("phone", "not a number");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field, "phone");
  EXPECT_STREQ(code_name(bad.error().code), "invalid_argument");
}

}  // namespace
}  // namespace herald
