#include <gtest/gtest.h>

#include <string>

#include "templates/sms.h"

namespace herald::templates {
namespace {

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(SmsEncoding, ShortAsciiIsOneGsm7Segment) {
  const SmsInfo info = sms_info("hello");
  EXPECT_TRUE(info.gsm7);
  EXPECT_EQ(info.segments, 1);
  EXPECT_EQ(info.units, 5);
}

TEST(SmsEncoding, EmptyMessageHasNoSegments) {
  const SmsInfo info = sms_info("");
  EXPECT_EQ(info.segments, 0);
  EXPECT_EQ(info.units, 0);
}

TEST(SmsEncoding, Gsm7SplitsPast160Into153SeptetParts) {
  EXPECT_EQ(sms_info(repeat("a", 160)).segments, 1);
  EXPECT_EQ(sms_info(repeat("a", 161)).segments, 2);
  EXPECT_EQ(sms_info(repeat("a", 306)).segments, 2);
  EXPECT_EQ(sms_info(repeat("a", 307)).segments, 3);
}

TEST(SmsEncoding, ExtensionCharactersCostTwoSeptets) {
  const SmsInfo euro = sms_info("€");
  EXPECT_TRUE(euro.gsm7);
  EXPECT_EQ(euro.units, 2);
  EXPECT_EQ(sms_info("{[]}~^|\\").units, 16);
  // 159 septets + an escape pair: 161 septets no longer fit one part.
  EXPECT_EQ(sms_info(repeat("a", 159) + "€").segments, 2);
}

TEST(SmsEncoding, ExtensionPairIsNeverSplitAcrossSegments) {
  // 152 + 2 would straddle the 153-septet boundary, so the euro moves to part two.
  const SmsInfo info = sms_info(repeat("a", 152) + "€" + repeat("a", 152));
  EXPECT_EQ(info.units, 306);
  EXPECT_EQ(info.segments, 3);
}

TEST(SmsEncoding, SpanishCharactersInTheBasicTableStayGsm7) {
  const SmsInfo info = sms_info("¿Señal? ¡Sí! é Ñ ü");
  EXPECT_FALSE(info.gsm7);  // í is not in GSM 03.38
  const SmsInfo gsm = sms_info("¿Señal? ¡Bien! é Ñ ü à");
  EXPECT_TRUE(gsm.gsm7);
  EXPECT_EQ(gsm.units, 22);
}

TEST(SmsEncoding, AccentOutsideGsm7ForcesUcs2) {
  const SmsInfo info = sms_info("Corte de luz en Calle Río");
  EXPECT_FALSE(info.gsm7);
  EXPECT_EQ(info.units, 25);
  EXPECT_EQ(info.segments, 1);
  EXPECT_FALSE(sms_info("ó").gsm7);
  EXPECT_FALSE(sms_info("curly \u201cquotes\u201d").gsm7);
  EXPECT_FALSE(sms_info("back`tick").gsm7);
}

TEST(SmsEncoding, EmojiCountsTwoUtf16Units) {
  const SmsInfo info = sms_info("\U0001F4A1");
  EXPECT_FALSE(info.gsm7);
  EXPECT_EQ(info.units, 2);
  EXPECT_EQ(info.segments, 1);
}

TEST(SmsEncoding, Ucs2SplitsPast70Into67UnitParts) {
  EXPECT_EQ(sms_info(repeat("ó", 70)).segments, 1);
  EXPECT_EQ(sms_info(repeat("ó", 71)).segments, 2);
  EXPECT_EQ(sms_info(repeat("ó", 134)).segments, 2);
  EXPECT_EQ(sms_info(repeat("ó", 135)).segments, 3);
  EXPECT_EQ(sms_info(repeat("ó", 71)).units, 71);
}

TEST(SmsEncoding, MalformedUtf8IsCountedAsUcs2NotDropped) {
  const SmsInfo info = sms_info(std::string("ab\xff", 3));
  EXPECT_FALSE(info.gsm7);
  EXPECT_EQ(info.units, 3);
}

}  // namespace
}  // namespace herald::templates
