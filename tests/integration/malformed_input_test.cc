#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/heraldd_process.h"

namespace herald::testing {
namespace {

// Every write route and the query parameters of the reads, fed seeded random damage: values of
// the wrong type or out of range, broken JSON, deep nesting, stray bytes. Whatever arrives,
// heraldd answers with a status below 500 and, for an error, a JSON body with an error code;
// it stays up, and what it had accepted before is still there.
class MalformedInput : public HeralddSuite {
 protected:
  struct Route {
    std::string method;
    std::string path;
    std::string body;  // '$' marks a value position; defaults fill those not damaged
    std::vector<std::string> defaults;
    std::string content_type = "application/json";
  };

  // Values that are wrong somewhere: types, ranges, encodings, sizes.
  static const std::vector<std::string>& odd_values() {
    static const std::vector<std::string> values = {
        "null", "true", "0", "-1", "1e308", "-1e308", "18446744073709551616", "1.5", "[]", "{}",
        "[[[]]]", R"({"a":{"b":{}}})", R"("")", R"("\u0000")", R"("\ud800")", R"("é𝓍")",
        R"("2026-13-45T99:99:99Z")", R"("99:99")", R"("NaN")", R"("../../etc/passwd")",
        R"(" ")", "\"" + std::string(70000, 'x') + "\"", R"(["SMS","SMS","FAX"])",
        R"("+1")", R"("OUTAGE")", R"("EMERGENCY")", R"({"lat":91,"lon":-181})"};
    return values;
  }

  std::string render(const Route& r, bool damage) {
    std::string out;
    size_t k = 0;
    for (char ch : r.body) {
      if (ch != '$') {
        out += ch;
        continue;
      }
      const auto& odd = odd_values();
      out += damage && rng_() % 3 == 0 ? odd[rng_() % odd.size()] : r.defaults[k];
      ++k;
    }
    return out;
  }

  std::string break_bytes(std::string s) {
    static const std::vector<std::string> inserts = {"{", "}", "[", "]", "\"", ",", ":", "\\",
                                                     "\\u", "\xff", "1e999", std::string(1, '\0')};
    const int edits = 1 + static_cast<int>(rng_() % 5);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t at = rng_() % s.size();
      switch (rng_() % 3) {
        case 0: s[at] = static_cast<char>(rng_() % 256); break;
        case 1: s.erase(at, 1 + rng_() % 10); break;
        default: s.insert(at, inserts[rng_() % inserts.size()]); break;
      }
    }
    return s;
  }

  std::string body_for(const Route& r) {
    const unsigned roll = rng_() % 100;
    if (roll < 3) {
      const size_t depth = 100 + rng_() % 20000;
      return std::string(depth, '[') + std::string(depth, ']');
    }
    if (r.content_type == "application/x-ndjson") {
      std::string lines;
      const int n = 1 + static_cast<int>(rng_() % 8);
      for (int i = 0; i < n; ++i) {
        std::string line = render(r, true);
        if (rng_() % 3 == 0) line = break_bytes(line);
        lines += line + "\n";
      }
      return lines;
    }
    if (roll < 40) return break_bytes(render(r, false));
    return render(r, true);
  }

  // A response a client can act on: no server error, and an error says what it is in JSON.
  void expect_answer(const HttpResponse& res, const std::string& what) {
    ++statuses_[res.status];
    ASSERT_NE(res.status, 0) << what << ": " << res.transport_error;
    EXPECT_LT(res.status, 500) << what << " -> " << res.body.substr(0, 300);
    if (res.status >= 400) {
      EXPECT_TRUE(json_at(res.body, "error.code").has_value())
          << what << " -> " << res.status << " " << res.body.substr(0, 300);
    }
  }

  std::mt19937 rng_{20261203};
  std::map<long, int> statuses_;
};

TEST_F(MalformedInput, EveryRouteAnswersDamagedRequestsWithA4xxAndLosesNothing) {
  SampleCustomer keep;
  keep.id = "C-KEEP";
  ASSERT_EQ(put_customer(keep).status, 201);
  const std::string kept = get_customer("C-KEEP").body;

  const std::string customer =
      R"({"id":$,"name":$,"phone":$,"email":$,"language":$,"timeZone":$,)"
      R"("premises":[{"id":$,"address":$,"feeder":$,"transformer":$,"zip":$,"location":$}],)"
      R"("preferences":{"channels":{"OUTAGE":$},"cadence":$,"quietHours":{"start":$,"end":$},)"
      R"("callbackOffers":$}})";
  const std::vector<std::string> customer_values = {
      R"("C-1001")",    R"("Ada Lovelace")", R"("+12014316859")",    R"("ada@example.net")",
      R"("en")",        R"("America/New_York")", R"("P-9")",         R"("12 Elm St")",
      R"("F-12")",      R"("T-1")",          R"("10001")",           R"({"lat":40.75,"lon":-73.99})",
      R"(["SMS"])",     R"("MILESTONES")",   R"("22:00")",           R"("07:00")",
      "true"};
  const std::vector<Route> routes = {
      {"PUT", "/v1/customers/C-1001", customer, customer_values},
      {"POST", "/v1/customers:import", customer, customer_values, "application/x-ndjson"},
      {"PATCH", "/v1/customers/C-1001/preferences",
       R"({"channels":{"OUTAGE":$},"quietHours":$,"cadence":$,"language":$})",
       {R"(["SMS"])", "null", R"("EVERY_UPDATE")", R"("es")"}},
      {"POST", "/v1/events",
       R"({"id":$,"kind":$,"stage":$,"severity":$,"area":{"feeders":$,"polygon":$,"circle":$},)"
       R"("cause":$,"estimatedRestoration":$})",
       {R"("OUT-F1")", R"("OUTAGE")", R"("DETECTED")", R"("ADVISORY")", R"(["F-12"])",
        R"([{"lat":40.7,"lon":-74.0},{"lat":40.8,"lon":-74.0},{"lat":40.8,"lon":-73.9}])",
        R"({"center":{"lat":40.75,"lon":-73.99},"radiusM":500})", R"("storm")",
        R"("2026-11-22T18:00:00Z")"}},
      {"POST", "/v1/events/OUT-F1/updates", R"({"stage":$,"estimatedRestoration":$,"cause":$})",
       {R"("UPDATED")", R"("2026-11-22T20:00:00Z")", R"("tree")"}},
      {"PUT", "/v1/callback-capacity", R"({"slots":[{"start":$,"minutes":$,"agents":$}]})",
       {R"("2026-12-25T17:00:00Z")", "15", "4"}},
      {"POST", "/v1/callbacks", R"({"customerId":$,"reason":$,"eventId":$,"whenRestored":$})",
       {R"("C-1001")", R"("billing")", R"("OUT-F1")", "false"}},
      {"POST", "/v1/callbacks/cb-1/outcome", R"({"result":$,"at":$,"notBefore":$})",
       {R"("COMPLETED")", R"("2026-11-25T17:03:00Z")", R"("2026-11-26T17:00:00Z")"}},
      {"POST", "/v1/complaints/x/resolve", R"({"note":$})", {R"("done")"}},
  };
  const std::vector<std::string> reads = {
      "/v1/events?status=", "/v1/customers/C-1001/journey?limit=", "/v1/touchpoints?event=",
      "/v1/reports/summary?since=", "/v1/complaints?status=", "/v1/callbacks?status=BOOKED&from=",
      "/v1/callback-capacity?from=", "/v1/reports/callbacks?since=", "/v1/customers/C-1001/journey?cursor="};
  const std::vector<std::string> read_values = {"", "-1", "0", "99999999999999999999", "%zz",
                                                "2026-99-99", std::string(5000, 'a'), "%00",
                                                "%C3%A9", "active&status=x"};
  for (int round = 0; round < 60; ++round) {
    for (const Route& r : routes) {
      const std::string body = body_for(r);
      const auto res = http().request(r.method, r.path, body,
                                      bearer(heraldd().admin_key(), r.content_type));
      expect_answer(res, r.method + " " + r.path + " " + body.substr(0, 200));
    }
    for (const std::string& read : reads) {
      const std::string path = read + read_values[rng_() % read_values.size()];
      expect_answer(http().request("GET", path, {}, bearer(heraldd().admin_key())), "GET " + path);
    }
    if (HasFatalFailure()) return;
  }
  // The damage was seen as such, and some of it was still acceptable.
  EXPECT_GT(statuses_[400], 300);
  EXPECT_GT(statuses_[200] + statuses_[201] + statuses_[202], 20);
  EXPECT_EQ(http().request("GET", "/healthz").status, 200);
  EXPECT_EQ(get_customer("C-KEEP").body, kept);
}

}  // namespace
}  // namespace herald::testing
