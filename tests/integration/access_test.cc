#include <gtest/gtest.h>

#include <chrono>
#include <map>

#include "service/core/crypto.h"
#include "tests/support/heraldd_process.h"

namespace herald::testing {
namespace {

constexpr const char* kTarget = "C-acc-target";
constexpr const char* kOther = "C-acc-other";

enum class Route { kGet, kPut, kPatch, kDelete, kMintToken, kImport };

const char* route_name(Route r) {
  switch (r) {
    case Route::kGet:
      return "GET customer";
    case Route::kPut:
      return "PUT customer";
    case Route::kPatch:
      return "PATCH preferences";
    case Route::kDelete:
      return "DELETE customer";
    case Route::kMintToken:
      return "POST token";
    case Route::kImport:
      return "POST import";
  }
  return "?";
}

class Access : public HeralddSuite {
 protected:
  void SetUp() override {
    for (const char* id : {kTarget, kOther}) {
      SampleCustomer c;
      c.id = id;
      ASSERT_LT(put_customer(c).status, 300);
    }
  }

  std::string mint_token(const std::string& id) {
    auto r = http().request("POST", "/v1/customers/" + id + "/token", "",
                            bearer(heraldd().admin_key(), ""));
    EXPECT_EQ(r.status, 201) << r.body;
    return json_at(r.body, "token").value_or("");
  }

  // A token signed with heraldd's own key, for any customer and expiry.
  std::string forge(const std::string& id, int64_t expires_at, bool right_key = true) {
    auto signer =
        core::TokenSigner::from_key(right_key ? heraldd().token_key() : core::random_token(32));
    return signer.ok() ? signer->mint(id, expires_at) : std::string();
  }

  HttpResponse call(Route route, const Headers& auth) {
    const std::string path = std::string("/v1/customers/") + kTarget;
    auto with = [&auth](const char* type) {
      Headers h = auth;
      h.emplace_back("Content-Type", type);
      return h;
    };
    SampleCustomer c;
    c.id = kTarget;
    switch (route) {
      case Route::kGet:
        return http().request("GET", path, "", auth);
      case Route::kPut:
        return http().request("PUT", path, customer_json(c), with("application/json"));
      case Route::kPatch:
        return http().request("PATCH", path + "/preferences", R"({"cadence":"EVERY_UPDATE"})",
                              with("application/json"));
      case Route::kDelete:
        return http().request("DELETE", path, "", auth);
      case Route::kMintToken:
        return http().request("POST", path + "/token", "", auth);
      case Route::kImport:
        return http().request("POST", "/v1/customers:import", customer_json(c) + "\n",
                              with("application/x-ndjson"));
    }
    return {};
  }

  static int64_t now_s() {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
  }
};

Headers as(const std::string& credential) { return bearer(credential, ""); }

TEST_F(Access, EveryRoleOnEveryCustomerRoute) {
  const std::map<std::string, Headers> who = {
      {"admin", as(heraldd().admin_key())},   {"operator", as(heraldd().operator_key())},
      {"agent", as(heraldd().agent_key())},   {"analyst", as(heraldd().analyst_key())},
      {"own token", as(mint_token(kTarget))}, {"other's token", as(mint_token(kOther))},
  };
  struct Row {
    std::string who;
    std::map<Route, long> status;
  };
  const std::vector<Row> table = {
      {"admin",
       {{Route::kGet, 200},
        {Route::kPut, 200},
        {Route::kPatch, 200},
        {Route::kDelete, 204},
        {Route::kMintToken, 201},
        {Route::kImport, 200}}},
      {"agent",
       {{Route::kGet, 200},
        {Route::kPut, 403},
        {Route::kPatch, 403},
        {Route::kDelete, 403},
        {Route::kMintToken, 403},
        {Route::kImport, 403}}},
      {"operator",
       {{Route::kGet, 403},
        {Route::kPut, 403},
        {Route::kPatch, 403},
        {Route::kDelete, 403},
        {Route::kMintToken, 403},
        {Route::kImport, 403}}},
      {"analyst",
       {{Route::kGet, 403},
        {Route::kPut, 403},
        {Route::kPatch, 403},
        {Route::kDelete, 403},
        {Route::kMintToken, 403},
        {Route::kImport, 403}}},
      {"own token",
       {{Route::kGet, 200},
        {Route::kPut, 200},
        {Route::kPatch, 200},
        {Route::kDelete, 403},
        {Route::kMintToken, 403},
        {Route::kImport, 403}}},
      {"other's token",
       {{Route::kGet, 403},
        {Route::kPut, 403},
        {Route::kPatch, 403},
        {Route::kDelete, 403},
        {Route::kMintToken, 403},
        {Route::kImport, 403}}},
  };
  for (const Row& row : table) {
    for (const auto& [route, expected] : row.status) {
      SCOPED_TRACE(row.who + " " + route_name(route));
      SampleCustomer target;
      target.id = kTarget;
      ASSERT_LT(put_customer(target).status, 300);  // the admin DELETE row removes it
      auto r = call(route, who.at(row.who));
      EXPECT_EQ(r.status, expected) << r.body;
      if (expected == 403) {
        EXPECT_EQ(json_at(r.body, "error.code"), "permission_denied") << r.body;
      }
      if (expected == 403 && route == Route::kDelete) {
        EXPECT_EQ(get_customer(kTarget).status, 200) << "a refused DELETE erased the customer";
      }
    }
  }
}

TEST_F(Access, RefusedWritesChangeNothing) {
  auto r = call(Route::kPatch, as(heraldd().agent_key()));
  ASSERT_EQ(r.status, 403);
  auto got = get_customer(kTarget);
  EXPECT_EQ(json_at(got.body, "preferences.cadence"), "MILESTONES");
}

TEST_F(Access, MissingOrInvalidCredentialsAre401WithChallenge) {
  const std::map<std::string, Headers> who = {
      {"no header", {}},
      {"unknown key", as("not-a-key")},
      {"basic auth", {{"Authorization", "Basic YWRtaW46YWRtaW4="}}},
      {"expired token", as(forge(kTarget, now_s() - 60))},
      {"token from another key", as(forge(kTarget, now_s() + 3600, false))},
  };
  for (const auto& [name, auth] : who) {
    for (Route route : {Route::kGet, Route::kPut, Route::kDelete, Route::kImport}) {
      SCOPED_TRACE(name + " " + route_name(route));
      auto r = call(route, auth);
      EXPECT_EQ(r.status, 401) << r.body;
      EXPECT_EQ(json_at(r.body, "error.code"), "unauthenticated") << r.body;
      EXPECT_EQ(r.header("www-authenticate").rfind("Bearer", 0), 0u);
    }
  }
  EXPECT_EQ(get_customer(kTarget).status, 200);
}

TEST_F(Access, TamperedTokenIsRejected) {
  const std::string own = mint_token(kTarget);
  ASSERT_EQ(call(Route::kGet, as(own)).status, 200);
  // Re-point the token at another customer, keeping the signature.
  const std::string prefix = std::string(core::kTokenPrefix) + core::base64url(kTarget);
  ASSERT_EQ(own.rfind(prefix, 0), 0u) << own;
  const std::string moved =
      std::string(core::kTokenPrefix) + core::base64url(kOther) + own.substr(prefix.size());
  auto r = http().request("GET", std::string("/v1/customers/") + kOther, "", as(moved));
  EXPECT_EQ(r.status, 401) << r.body;
}

TEST_F(Access, ValidTokenForgedWithTheRightKeyWorksUntilExpiry) {
  // Guards the expiry check itself: a token valid for another minute is accepted.
  EXPECT_EQ(call(Route::kGet, as(forge(kTarget, now_s() + 60))).status, 200);
}

TEST_F(Access, HealthRoutesNeedNoCredentials) {
  EXPECT_EQ(http().request("GET", "/healthz").status, 200);
  EXPECT_EQ(http().request("GET", "/readyz").status, 200);
  auto metrics = http().request("GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("herald_"), std::string::npos);
}

}  // namespace
}  // namespace herald::testing
