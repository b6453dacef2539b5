#include "service/core/crypto.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace herald::core {
namespace {

constexpr std::string_view kHexKey =
    "fbfffbfffbfffbfffbfffbfffbfffbfffbfffbfffbfffbfffbfffbfffbfffbff";
constexpr std::string_view kBase64Key = "+//7//v/+//7//v/+//7//v/+//7//v/+//7//v/+/8=";
constexpr std::string_view kBase64UrlKey = "-__7__v_-__7__v_-__7__v_-__7__v_-__7__v_-_8";
constexpr std::string_view kOtherKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

std::string to_hex(std::string_view raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

Sealer sealer(std::string_view key = kHexKey) {
  auto s = Sealer::from_key(key);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return *s;
}

TokenSigner signer(std::string_view key = kHexKey) {
  auto s = TokenSigner::from_key(key);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return *s;
}

TEST(DecodeKey, AcceptsHexAndBothBase64AlphabetsWithOrWithoutPadding) {
  std::string expected(16 * 2, '\0');
  for (size_t i = 0; i < expected.size(); i += 2) {
    expected[i] = static_cast<char>(0xfb);
    expected[i + 1] = static_cast<char>(0xff);
  }
  for (auto text :
       {kHexKey, kBase64Key, kBase64Key.substr(0, kBase64Key.size() - 1), kBase64UrlKey}) {
    auto key = decode_key(text, "HERALD_PII_KEY");
    ASSERT_TRUE(key.ok()) << text << ": " << key.error().message;
    EXPECT_EQ(*key, expected) << text;
  }
  auto trailing_newline = decode_key(std::string(kBase64Key) + "\n", "HERALD_PII_KEY");
  EXPECT_TRUE(trailing_newline.ok());
}

TEST(DecodeKey, RejectsWrongLengthAndGarbageWithoutEchoingTheKey) {
  auto short_key = decode_key("c2hvcnQ=", "HERALD_TOKEN_KEY");
  ASSERT_FALSE(short_key.ok());
  EXPECT_NE(short_key.error().message.find("HERALD_TOKEN_KEY"), std::string::npos);
  EXPECT_NE(short_key.error().message.find("got 5"), std::string::npos);
  EXPECT_EQ(short_key.error().message.find("c2hvcnQ"), std::string::npos);

  auto garbage = decode_key("not a key at all!", "HERALD_PII_KEY");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().message.find("not a key"), std::string::npos);
  EXPECT_FALSE(decode_key("", "HERALD_PII_KEY").ok());
}

TEST(Sealer, FromKeyErrorNamesThePiiKeyVariable) {
  auto s = Sealer::from_key("too-short");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("HERALD_PII_KEY"), std::string::npos);
  auto t = TokenSigner::from_key("too-short");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("HERALD_TOKEN_KEY"), std::string::npos);
}

TEST(Sealer, RoundTripsAndHidesThePlaintext) {
  Sealer s = sealer();
  std::string sealed = s.seal("+15551234567", "cust-1");
  EXPECT_EQ(sealed.find("5551234567"), std::string::npos);
  auto opened = s.open(sealed, "cust-1");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(*opened, "+15551234567");

  auto empty = s.open(s.seal(""));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST(Sealer, KeyFormsAreInterchangeable) {
  std::string sealed = sealer(kHexKey).seal("jane@example.com");
  auto opened = sealer(kBase64UrlKey).open(sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, "jane@example.com");
}

TEST(Sealer, TwoSealsOfTheSameValueDiffer) {
  Sealer s = sealer();
  EXPECT_NE(s.seal("same"), s.seal("same"));
}

// Nonces come from a per-thread pool refilled 170 at a time: across refills and threads none
// repeats (a repeated nonce under one key would expose both plaintexts) and none is all zero.
TEST(Sealer, NoncesNeverRepeatAcrossPoolRefillsAndThreads) {
  Sealer s = sealer();
  constexpr size_t kNonce = 24;
  std::vector<std::string> nonces;
  std::mutex m;
  auto seal_many = [&] {
    std::vector<std::string> mine;
    for (int i = 0; i < 1000; ++i) mine.push_back(s.seal("same").substr(0, kNonce));
    std::lock_guard lock(m);
    nonces.insert(nonces.end(), mine.begin(), mine.end());
  };
  std::thread a(seal_many), b(seal_many);
  seal_many();
  a.join();
  b.join();
  ASSERT_EQ(nonces.size(), 3000u);
  std::set<std::string> distinct(nonces.begin(), nonces.end());
  EXPECT_EQ(distinct.size(), 3000u);
  EXPECT_EQ(distinct.count(std::string(kNonce, '\0')), 0u);
}

TEST(Sealer, DetectsTamperingAnywhere) {
  Sealer s = sealer();
  std::string sealed = s.seal("12 Elm Street", "cust-1");
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_FALSE(s.open(bad, "cust-1").ok()) << "flipped byte " << i;
  }
  EXPECT_FALSE(s.open(sealed.substr(0, sealed.size() - 1), "cust-1").ok());
  EXPECT_FALSE(s.open("short", "cust-1").ok());
}

TEST(Sealer, RejectsWrongKeyAndWrongOwner) {
  std::string sealed = sealer().seal("Jane Doe", "cust-1");
  EXPECT_FALSE(sealer(kOtherKey).open(sealed, "cust-1").ok());
  EXPECT_FALSE(sealer().open(sealed, "cust-2").ok());
  EXPECT_FALSE(sealer().open(sealed).ok());
}

TEST(TokenSigner, MintsTokensThatVerify) {
  TokenSigner t = signer();
  std::string token = t.mint("cust-42", 2000);
  EXPECT_TRUE(token.starts_with("hct1."));
  EXPECT_EQ(token.find('='), std::string::npos);
  auto claims = t.verify(token, 1999);
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_EQ(claims->customer_id, "cust-42");
  EXPECT_EQ(claims->expires_at, 2000);
}

TEST(TokenSigner, ExpiredTokenIsRejected) {
  TokenSigner t = signer();
  auto claims = t.verify(t.mint("cust-42", 2000), 2000);
  ASSERT_FALSE(claims.ok());
  EXPECT_EQ(claims.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(claims.error().message, "token expired");
}

TEST(TokenSigner, TamperedIdExpiryOrMacIsRejected) {
  TokenSigner t = signer();
  std::string token = t.mint("cust-42", 2000);
  std::string forged_id = t.mint("cust-43", 2000);
  // Splice the victim's id into an otherwise valid token.
  std::string spliced = "hct1." + base64url("cust-43") + token.substr(token.find(".2000"));
  std::string later = token;
  later.replace(later.find(".2000"), 5, ".9000");
  std::string bad_mac = token;
  char& mac_char = bad_mac[bad_mac.rfind('.') + 5];
  mac_char = mac_char == 'A' ? 'B' : 'A';
  for (const std::string& bad : {spliced, later, bad_mac}) {
    auto claims = t.verify(bad, 1000);
    ASSERT_FALSE(claims.ok()) << bad;
    EXPECT_EQ(claims.error().code, ErrorCode::kUnauthenticated);
  }
  EXPECT_TRUE(t.verify(forged_id, 1000).ok());
}

TEST(TokenSigner, TokenFromAnotherKeyIsRejected) {
  auto claims = signer().verify(signer(kOtherKey).mint("cust-42", 2000), 1000);
  ASSERT_FALSE(claims.ok());
  EXPECT_EQ(claims.error().code, ErrorCode::kUnauthenticated);
}

TEST(TokenSigner, MalformedTokensAreRejected) {
  TokenSigner t = signer();
  std::string good = t.mint("cust-42", 2000);
  for (std::string bad :
       {std::string(""), std::string("hct1."), std::string("hct1.a.b"), "hct2" + good.substr(4),
        good + ".x", good + "=", std::string("hct1..2000.") + base64url(std::string(32, 'x'))}) {
    auto claims = t.verify(bad, 1000);
    ASSERT_FALSE(claims.ok()) << bad;
    EXPECT_EQ(claims.error().code, ErrorCode::kUnauthenticated) << bad;
  }
}

TEST(TokenSigner, MacIsHmacSha256OverTheSignedPrefix) {
  std::string raw_key = *decode_key(kHexKey, "k");
  std::string token = signer().mint("cust-42", 2000);
  std::string prefix = token.substr(0, token.rfind('.'));
  EXPECT_EQ(token.substr(token.rfind('.') + 1), base64url(hmac_sha256(raw_key, prefix)));
}

// RFC 4231 test cases 1, 2 and 6 (short key, text key, key longer than a block).
TEST(HmacSha256, MatchesRfc4231Vectors) {
  EXPECT_EQ(to_hex(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(to_hex(hmac_sha256(std::string(131, '\xaa'),
                               "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// The keyed state is hashed once and copied per message: one object gives each message its
// own MAC, in any order, equal to the one-shot function's.
TEST(HmacSha256, AKeyedObjectMatchesTheVectorsOverAndOver) {
  const HmacSha256 jefe("Jefe");
  const HmacSha256 long_key(std::string(131, '\xaa'));
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(to_hex(jefe.mac("what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_EQ(to_hex(long_key.mac("Test Using Larger Than Block-Size Key - Hash Key First")),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  }
  const HmacSha256 copy = jefe;
  EXPECT_EQ(copy.mac("x"), hmac_sha256("Jefe", "x"));
  EXPECT_NE(copy.mac("x"), copy.mac("y"));
}

TEST(Sha256Hex, MatchesKnownVectors) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(RandomToken, IsUrlSafeAndUnique) {
  std::string a = random_token(32);
  EXPECT_EQ(a.size(), 43u);
  EXPECT_EQ(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  EXPECT_NE(a, random_token(32));
}

TEST(Base64Url, UsesTheUrlAlphabetWithoutPadding) {
  EXPECT_EQ(base64url("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url(""), "");
  auto back = base64_decode("-_8");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "\xfb\xff");
}

}  // namespace
}  // namespace herald::core
