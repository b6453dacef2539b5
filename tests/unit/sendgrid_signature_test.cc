#include <gtest/gtest.h>

#include "service/inbound/signature.h"

namespace herald::inbound {
namespace {

// The test vector of SendGrid's own Event Webhook libraries (sendgrid-nodejs, -python, -ruby,
// -java, -php, -go all carry it): verification key as the console shows it, payload, timestamp.
constexpr std::string_view kKey =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGh"
    "HPTnlvFYPAZFceEu/1FwCM/QmGUhA==";
constexpr std::string_view kOtherKey =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo"
    "7aNDthvj+y7GjUuFDb/R1NGe1OPzpA==";
constexpr std::string_view kPayload =
    R"({"category":"example_payload","event":"test_event","message_id":"message_id"})";
constexpr std::string_view kSignature =
    "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2"
    "j/0=";
constexpr std::string_view kTimestamp = "1588788367";

TEST(SendgridSignature, VerifiesTheDocumentedVector) {
  auto v = SendgridVerifier::from_key(kKey);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_TRUE(v->valid(kTimestamp, kPayload, kSignature));
}

TEST(SendgridSignature, RejectsForgeries) {
  auto v = SendgridVerifier::from_key(kKey);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->valid("1388788367", kPayload, kSignature));  // replayed with another time
  EXPECT_FALSE(v->valid(kTimestamp, "payload", kSignature));
  EXPECT_FALSE(v->valid(kTimestamp, kPayload,
                        "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQs"
                        "bVRamr2nlxFDWYNH3j/0="));
  EXPECT_FALSE(v->valid(kTimestamp, kPayload, ""));
  EXPECT_FALSE(v->valid("", kPayload, kSignature));
  EXPECT_FALSE(v->valid(kTimestamp, kPayload, "not base64 at all!"));
  auto other = SendgridVerifier::from_key(kOtherKey);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->valid(kTimestamp, kPayload, kSignature));
}

TEST(SendgridSignature, RefusesKeysThatAreNotP256PublicKeys) {
  EXPECT_FALSE(SendgridVerifier::from_key("").ok());
  EXPECT_FALSE(SendgridVerifier::from_key("bm90IGEga2V5").ok());
  auto bad = SendgridVerifier::from_key(kKey.substr(0, 40));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field, "sendgrid.verification_key");
}

}  // namespace
}  // namespace herald::inbound
