#include "service/core/auth.h"

#include <gtest/gtest.h>

#include <string>

namespace herald::core {
namespace {

constexpr std::string_view kTokenKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

TEST(Role, NamesRoundTripAndCustomerIsNotAKeyRole) {
  for (Role role : {Role::kAdmin, Role::kOperator, Role::kAgent, Role::kAnalyst}) {
    EXPECT_EQ(parse_role(role_name(role)), role);
  }
  EXPECT_STREQ(role_name(Role::kCustomer), "customer");
  EXPECT_FALSE(parse_role("customer").has_value());
  EXPECT_FALSE(parse_role("Admin").has_value());
  EXPECT_FALSE(parse_role("").has_value());
}

TEST(ParseApiKeys, AcceptsCommaAndWhitespaceSeparatedEntries) {
  std::string a(64, 'a');
  std::string b(64, 'B');
  auto keys = parse_api_keys(" admin:" + a + ",\n operator:" + b + "  agent:" + a + ",", "X");
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ((*keys)[0].role, Role::kAdmin);
  EXPECT_EQ((*keys)[1].role, Role::kOperator);
  EXPECT_EQ((*keys)[1].sha256_hex, std::string(64, 'b'));  // normalised to lowercase
  EXPECT_EQ((*keys)[2].role, Role::kAgent);

  auto empty = parse_api_keys("  , ", "X");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(ParseApiKeys, ErrorsNameSourceAndEntryButNeverEchoTheEntry) {
  std::string hash(64, 'c');
  struct Case {
    std::string list;
    std::string expect;
  };
  for (const auto& c :
       {Case{"admin:" + hash + ",boss:" + hash, "entry 2: unknown role"},
        Case{"hk_secretkeymaterial", "entry 1: expected role:sha256hex"},
        Case{"admin:hk_secretkeymaterial", "entry 1: expected the key's SHA-256"},
        Case{"admin:" + hash + "0", "64 hex"}, Case{"customer:" + hash, "unknown role"},
        Case{"admin:" + std::string(63, 'c') + "g", "64 hex"}}) {
    auto keys = parse_api_keys(c.list, "HERALD_AUTH_KEYS");
    ASSERT_FALSE(keys.ok()) << c.list;
    const std::string& msg = keys.error().message;
    EXPECT_EQ(keys.error().code, ErrorCode::kInvalidArgument);
    EXPECT_TRUE(msg.starts_with("HERALD_AUTH_KEYS entry ")) << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
    EXPECT_EQ(msg.find("secretkeymaterial"), std::string::npos) << msg;
  }
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  AuthenticatorTest() {
    auto [admin_key, admin_entry] = new_api_key(Role::kAdmin);
    auto [op_key, op_entry] = new_api_key(Role::kOperator);
    admin_key_ = admin_key;
    operator_key_ = op_key;
    auto keys = parse_api_keys(admin_entry + "," + op_entry, "test");
    EXPECT_TRUE(keys.ok());
    signer_ = *TokenSigner::from_key(kTokenKey);
    auth_.emplace(*keys, signer_);
  }

  std::string admin_key_;
  std::string operator_key_;
  std::optional<TokenSigner> signer_;
  std::optional<Authenticator> auth_;
};

TEST_F(AuthenticatorTest, ApiKeysMapToTheirRoles) {
  auto admin = auth_->authenticate("Bearer " + admin_key_, 0);
  ASSERT_TRUE(admin.ok()) << admin.error().message;
  EXPECT_EQ(admin->role, Role::kAdmin);
  EXPECT_TRUE(admin->customer_id.empty());

  auto op = auth_->authenticate("bearer " + operator_key_, 0);
  ASSERT_TRUE(op.ok()) << op.error().message;
  EXPECT_EQ(op->role, Role::kOperator);
}

TEST_F(AuthenticatorTest, RejectsUnknownKeysAndMalformedHeaders) {
  struct Case {
    std::string header;
    std::string message;
  };
  for (const auto& c : {Case{"", "missing Authorization header"},
                        Case{"Bearer " + admin_key_ + "x", "unknown API key"},
                        Case{admin_key_, "malformed Authorization header"},
                        Case{"Basic YWRtaW46cGFzcw==", "malformed Authorization header"},
                        Case{"Bearer ", "malformed Authorization header"},
                        Case{"Bearer a b", "malformed Authorization header"}}) {
    auto p = auth_->authenticate(c.header, 0);
    ASSERT_FALSE(p.ok()) << c.header;
    EXPECT_EQ(p.error().code, ErrorCode::kUnauthenticated);
    EXPECT_TRUE(p.error().message.starts_with(c.message)) << p.error().message;
  }
}

TEST_F(AuthenticatorTest, CustomerTokensYieldCustomerPrincipals) {
  std::string token = signer_->mint("cust-7", 5000);
  auto p = auth_->authenticate("Bearer " + token, 4000);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->role, Role::kCustomer);
  EXPECT_EQ(p->customer_id, "cust-7");

  auto expired = auth_->authenticate("Bearer " + token, 5000);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().message, "token expired");
}

TEST(Authenticator, WithoutSignerCustomerTokensAreRefused) {
  Authenticator auth({}, std::nullopt);
  std::string token = TokenSigner::from_key(kTokenKey)->mint("cust-7", 5000);
  auto p = auth.authenticate("Bearer " + token, 0);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kUnauthenticated);
}

TEST(MayAccessCustomer, AdminAnyCustomerOnlyOwn) {
  EXPECT_TRUE(may_access_customer({Role::kAdmin, ""}, "cust-1"));
  EXPECT_TRUE(may_access_customer({Role::kCustomer, "cust-1"}, "cust-1"));
  EXPECT_FALSE(may_access_customer({Role::kCustomer, "cust-1"}, "cust-2"));
  EXPECT_FALSE(may_access_customer({Role::kCustomer, ""}, ""));
  EXPECT_FALSE(may_access_customer({Role::kOperator, ""}, "cust-1"));
}

TEST(NewApiKey, EntryHoldsRoleAndHashOfTheKey) {
  auto [key, entry] = new_api_key(Role::kAnalyst);
  EXPECT_TRUE(key.starts_with("hk_"));
  EXPECT_EQ(entry, "analyst:" + sha256_hex(key));
  EXPECT_EQ(entry.find(key), std::string::npos);
  EXPECT_NE(new_api_key(Role::kAnalyst).first, key);
  auto parsed = parse_api_keys(entry, "test");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ((*parsed)[0].role, Role::kAnalyst);
}

}  // namespace
}  // namespace herald::core
