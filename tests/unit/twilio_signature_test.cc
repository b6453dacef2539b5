#include <gtest/gtest.h>

#include "service/inbound/signature.h"

namespace herald::inbound {
namespace {

// The worked example of Twilio's security documentation ("Validating Requests are coming from
// Twilio"), also in twilio-php's validation guide: auth token 12345, a POST from a <Gather>.
constexpr std::string_view kToken = "12345";
constexpr std::string_view kUrl = "https://mycompany.com/myapp.php?foo=1&bar=2";
constexpr std::string_view kSignature = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

FormParams documented_params() {
  return {{"Digits", "1234"},
          {"To", "+18005551212"},
          {"From", "+14158675309"},
          {"Caller", "+14158675309"},
          {"CallSid", "CA1234567890ABCDE"}};
}

TEST(TwilioSignature, MatchesTheDocumentedExample) {
  EXPECT_EQ(twilio_signature(kToken, kUrl, documented_params()), kSignature);
  EXPECT_TRUE(twilio_signature_valid(kToken, kUrl, documented_params(), kSignature));
}

TEST(TwilioSignature, FormBodyInAnyOrderGivesTheSameSignature) {
  const auto params = parse_form(
      "To=%2B18005551212&CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234"
      "&From=%2B14158675309");
  EXPECT_TRUE(twilio_signature_valid(kToken, kUrl, params, kSignature));
}

TEST(TwilioSignature, ForgeriesAreRejected) {
  auto tampered = documented_params();
  tampered[0].second = "9999";
  EXPECT_FALSE(twilio_signature_valid(kToken, kUrl, tampered, kSignature));
  EXPECT_FALSE(twilio_signature_valid("54321", kUrl, documented_params(), kSignature));
  EXPECT_FALSE(twilio_signature_valid(kToken, "https://mycompany.com/myapp.php?foo=1&bar=3",
                                      documented_params(), kSignature));
  EXPECT_FALSE(twilio_signature_valid(kToken, kUrl, documented_params(), ""));
  EXPECT_FALSE(twilio_signature_valid(kToken, kUrl, documented_params(), "RSOYDt4T1cUTdK1P"));
  // No token configured: nothing verifies, not even a signature made with the empty key.
  EXPECT_FALSE(twilio_signature_valid("", kUrl, documented_params(),
                                      twilio_signature("", kUrl, documented_params())));
}

TEST(FormParsing, DecodesPlusAndPercentAndKeepsEmptyValues) {
  const auto p = parse_form("Body=Stop+outage%21&From=%2B15551234567&Empty=&Flag");
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0], (std::pair<std::string, std::string>{"Body", "Stop outage!"}));
  EXPECT_EQ(p[1].second, "+15551234567");
  EXPECT_EQ(p[2].second, "");
  EXPECT_EQ(p[3].first, "Flag");
}

}  // namespace
}  // namespace herald::inbound
