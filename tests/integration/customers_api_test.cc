#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "service/store/keys.h"
#include "tests/support/heraldd_process.h"
#include "tests/support/store_layout.h"

namespace herald::testing {
namespace {

class CustomersApi : public HeralddSuite {
 protected:
  HttpResponse put_raw(const std::string& id, const std::string& body,
                       const std::string& content_type = "application/json") {
    return http().request("PUT", "/v1/customers/" + id, body,
                          bearer(heraldd().admin_key(), content_type));
  }

  HttpResponse patch(const std::string& id, const std::string& body) {
    return http().request("PATCH", "/v1/customers/" + id + "/preferences", body,
                          bearer(heraldd().admin_key()));
  }

  HttpResponse erase(const std::string& id) {
    return http().request("DELETE", "/v1/customers/" + id, "", bearer(heraldd().admin_key(), ""));
  }
};

std::string field_of(const HttpResponse& r) { return json_at(r.body, "error.field").value_or(""); }
std::string code_of(const HttpResponse& r) { return json_at(r.body, "error.code").value_or(""); }

TEST_F(CustomersApi, PutCreatesThenUpdatesKeepingCreatedAt) {
  SampleCustomer c;
  c.id = "C-crud-1";
  auto created = put_customer(c);
  ASSERT_EQ(created.status, 201) << created.body;
  const auto created_at = json_at(created.body, "createdAt");
  ASSERT_TRUE(created_at.has_value()) << created.body;

  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  c.name = "Augusta Ada King";
  auto updated = put_customer(c);
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(json_at(updated.body, "createdAt"), created_at);
  EXPECT_NE(json_at(updated.body, "updatedAt"), json_at(created.body, "updatedAt"));

  auto got = get_customer(c.id);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(json_at(got.body, "name"), "Augusta Ada King");
  EXPECT_EQ(json_at(got.body, "createdAt"), created_at);
}

TEST_F(CustomersApi, GetReturnsNormalisedE164Phone) {
  SampleCustomer c;
  c.id = "C-phone";
  c.phone = "(201) 431-6859";
  c.email = "  Ada.Lovelace@EXAMPLE.net ";
  ASSERT_EQ(put_customer(c).status, 201);
  auto got = get_customer(c.id);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(json_at(got.body, "phone"), "+12014316859");
  EXPECT_EQ(json_at(got.body, "email"), "Ada.Lovelace@example.net");
  EXPECT_EQ(json_at(got.body, "premises[0].address"), c.premises[0].address);
  EXPECT_EQ(got.header("content-type").rfind("application/json", 0), 0u);
}

TEST_F(CustomersApi, DeleteThenGetAndDeleteAgainAreNotFound) {
  SampleCustomer c;
  c.id = "C-erase";
  ASSERT_EQ(put_customer(c).status, 201);
  auto erased = erase(c.id);
  EXPECT_EQ(erased.status, 204) << erased.body;
  auto got = get_customer(c.id);
  EXPECT_EQ(got.status, 404);
  EXPECT_EQ(code_of(got), "not_found") << got.body;
  auto again = erase(c.id);
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(code_of(again), "not_found") << again.body;
}

TEST_F(CustomersApi, PatchPreferencesMergesOnlyWhatIsNamed) {
  SampleCustomer c;
  c.id = "C-patch-merge";
  ASSERT_EQ(put_customer(c).status, 201);
  auto patched = patch(c.id, R"({"channels":{"OUTAGE":["EMAIL","VOICE"]}})");
  ASSERT_EQ(patched.status, 200) << patched.body;

  auto got = get_customer(c.id);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(json_at(got.body, "preferences.channels.OUTAGE[0]"), "EMAIL");
  EXPECT_EQ(json_at(got.body, "preferences.channels.OUTAGE[1]"), "VOICE");
  EXPECT_EQ(json_at(got.body, "preferences.channels.PLANNED_MAINTENANCE[0]"), "EMAIL");
  EXPECT_EQ(json_at(got.body, "preferences.cadence"), "MILESTONES");
  EXPECT_EQ(json_at(got.body, "preferences.quietHours.start"), "22:00");
}

TEST_F(CustomersApi, PatchNullClearsQuietHours) {
  SampleCustomer c;
  c.id = "C-patch-null";
  ASSERT_EQ(put_customer(c).status, 201);
  auto patched = patch(c.id, R"({"quietHours":null})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  auto got = get_customer(c.id);
  ASSERT_EQ(got.status, 200);
  EXPECT_FALSE(json_at(got.body, "preferences.quietHours.start").has_value()) << got.body;
  EXPECT_EQ(json_at(got.body, "preferences.cadence"), "MILESTONES");
}

TEST_F(CustomersApi, InvalidPatchIsRejectedAndChangesNothing) {
  SampleCustomer c;
  c.id = "C-patch-bad";
  ASSERT_EQ(put_customer(c).status, 201);
  auto patched =
      patch(c.id, R"({"cadence":"EVERY_UPDATE","quietHours":{"start":"25:00","end":"07:00"}})");
  EXPECT_EQ(patched.status, 400);
  EXPECT_EQ(field_of(patched), "preferences.quietHours.start") << patched.body;
  auto got = get_customer(c.id);
  EXPECT_EQ(json_at(got.body, "preferences.quietHours.start"), "22:00");
  EXPECT_EQ(json_at(got.body, "preferences.cadence"), "MILESTONES");
}

TEST_F(CustomersApi, PatchChoosingAChannelTheCustomerCannotBeReachedOnIsRejected) {
  SampleCustomer c;
  c.id = "C-patch-unreachable";
  c.email = "";
  c.preferences = R"({"channels":{"OUTAGE":["SMS"]}})";
  ASSERT_EQ(put_customer(c).status, 201);
  auto patched = patch(c.id, R"({"channels":{"OUTAGE":["SMS","EMAIL"]}})");
  EXPECT_EQ(patched.status, 400) << patched.body;
  EXPECT_EQ(field_of(patched), "preferences.channels.OUTAGE[1]") << patched.body;
  auto got = get_customer(c.id);
  EXPECT_EQ(got.body.find("\"EMAIL\""), std::string::npos) << got.body;
}

TEST_F(CustomersApi, PatchWithUnknownOrMistypedFieldsIsRejected) {
  SampleCustomer c;
  c.id = "C-patch-strict";
  ASSERT_EQ(put_customer(c).status, 201);
  for (const char* body : {R"({"cadense":"EVERY_UPDATE"})", R"({"maxPerDay":"lots"})",
                           R"({"channels":{"OUTAGE":["PIGEON"]}})", "", "[]"}) {
    SCOPED_TRACE(body);
    auto r = patch(c.id, body);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(code_of(r), "invalid_argument") << r.body;
  }
  EXPECT_EQ(field_of(patch(c.id, R"({"cadense":"EVERY_UPDATE"})")), "cadense");
  auto got = get_customer(c.id);
  EXPECT_EQ(json_at(got.body, "preferences.cadence"), "MILESTONES");
  EXPECT_EQ(json_at(got.body, "preferences.channels.OUTAGE[0]"), "SMS");
}

TEST_F(CustomersApi, EmptyBodyAndInvalidIdAreBadRequests) {
  auto empty = put_raw("C-empty", "");
  EXPECT_EQ(empty.status, 400) << empty.body;
  SampleCustomer c;
  c.id = "bad!id";
  auto bad_id = put_raw("bad!id", customer_json(c));
  EXPECT_EQ(bad_id.status, 400) << bad_id.body;
  EXPECT_EQ(field_of(bad_id), "id") << bad_id.body;
}

TEST_F(CustomersApi, PatchOfUnknownCustomerIsNotFound) {
  auto patched = patch("C-nobody", R"({"cadence":"EVERY_UPDATE"})");
  EXPECT_EQ(patched.status, 404);
  EXPECT_EQ(code_of(patched), "not_found") << patched.body;
}

TEST_F(CustomersApi, UnknownFieldIsNamed) {
  std::string body = customer_json(SampleCustomer{});
  body.insert(1, R"("nickname":"Ada",)");
  auto r = put_raw("C-1", body);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(field_of(r), "nickname") << r.body;
}

TEST_F(CustomersApi, WrongTypeNamesTheNestedField) {
  std::string body = customer_json(SampleCustomer{});
  const std::string lat = R"("lat":40.735700)";
  ASSERT_NE(body.find(lat), std::string::npos);
  body.replace(body.find(lat), lat.size(), R"("lat":"north")");
  auto r = put_raw("C-1", body);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(field_of(r), "premises[0].location.lat") << r.body;
}

TEST_F(CustomersApi, InvalidPhoneIsRejectedWithoutEchoingIt) {
  SampleCustomer c;
  c.phone = "+1 212 555";
  auto r = put_customer(c);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(field_of(r), "phone") << r.body;
  EXPECT_EQ(r.body.find("212"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("555"), std::string::npos) << r.body;
}

TEST_F(CustomersApi, UnknownTimeZoneIsRejected) {
  SampleCustomer c;
  c.time_zone = "Mars/Olympus_Mons";
  auto r = put_customer(c);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(field_of(r), "timeZone") << r.body;
}

TEST_F(CustomersApi, BodyIdDifferentFromPathIsRejected) {
  SampleCustomer c;
  c.id = "C-other";
  auto r = put_raw("C-path", customer_json(c));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(field_of(r), "id") << r.body;
  EXPECT_EQ(get_customer("C-path").status, 404);
  EXPECT_EQ(get_customer("C-other").status, 404);
}

TEST_F(CustomersApi, MalformedJsonIsBadRequest) {
  auto r = put_raw("C-1", R"({"id":"C-1","name":)");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(code_of(r), "invalid_argument") << r.body;
}

TEST_F(CustomersApi, BodyOverOneMebibyteIsTooLarge) {
  std::string body = customer_json(SampleCustomer{});
  body.insert(body.size() - 1, ",\"name\":\"" + std::string((1 << 20) + 100, 'x') + "\"");
  auto r = put_raw("C-1", body);
  EXPECT_EQ(r.status, 413) << r.transport_error;
  EXPECT_EQ(code_of(r), "payload_too_large") << r.body;
}

TEST_F(CustomersApi, NonJsonContentTypeIsUnsupported) {
  auto r = put_raw("C-1", customer_json(SampleCustomer{}), "text/plain");
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(code_of(r), "unsupported_media_type") << r.body;
  auto p = http().request("PATCH", "/v1/customers/C-1/preferences", R"({"cadence":"MILESTONES"})",
                          bearer(heraldd().admin_key(), "text/plain"));
  EXPECT_EQ(p.status, 415);
}

TEST_F(CustomersApi, NoContentTypeIsTakenAsJson) {
  SampleCustomer c;
  c.id = "C-no-type";
  auto r = put_raw(c.id, customer_json(c), "");
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST_F(CustomersApi, UnknownRouteAndWrongMethodAnswerJson) {
  auto missing = http().request("GET", "/v1/nothing-here", "", bearer(heraldd().admin_key(), ""));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(code_of(missing), "not_found") << missing.body;
  auto wrong = http().request("POST", "/v1/customers/C-1", "{}", bearer(heraldd().admin_key()));
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(code_of(wrong), "method_not_allowed") << wrong.body;
}

SamplePremise premise(std::string id, std::string feeder, std::string transformer = "T-1",
                      std::string zip = "10009") {
  SamplePremise p;
  p.id = std::move(id);
  p.feeder = std::move(feeder);
  p.transformer = std::move(transformer);
  p.zip = std::move(zip);
  return p;
}

SamplePremise premise_at(std::string id, std::string address) {
  SamplePremise p;
  p.id = std::move(id);
  p.address = std::move(address);
  return p;
}

// Reads the Redis layout of docs/architecture.md directly.
class CustomerIndexes : public HeralddSuite {
 protected:
  void SetUp() override { conn_.emplace(redis_connection()); }

  redis::Reply run(const redis::Command& cmd) {
    auto r = conn_->command(cmd);
    if (!r.ok()) ADD_FAILURE() << "redis: " << r.error().message;
    return r.ok() ? std::move(*r) : redis::Reply{};
  }

  // The customer's internal number, or "" when cid:{h} has no entry.
  std::string number_of(const std::string& id) {
    auto r = run(redis::cmd("HGET", store::customer_id_key(id), id));
    return r.is_nil() ? std::string() : r.str.substr(0, r.str.find('|'));
  }

  // The slice of a feeder's or ZIP's set that customer number n belongs to.
  static std::string feeder_slice(std::string_view feeder, const std::string& n) {
    return store::feeder_key(feeder, store::index_slice(std::stoull(n)));
  }
  static std::string zip_slice(std::string_view zip, const std::string& n) {
    return store::zip_key(zip, store::index_slice(std::stoull(n)));
  }

  bool in_set(const std::string& key, const std::string& n) {
    return run(redis::cmd("SISMEMBER", key, n)).integer == 1;
  }

  std::vector<std::string> at_premise(const std::string& premise) {
    return premise_customers(*conn_, premise);
  }

  // Every GEO cell that holds premise k of customer n (the store keeps exactly one).
  std::vector<std::string> geo_cells_of(const std::string& n, int premise_index) {
    const std::string member = n + "." + std::to_string(premise_index);
    std::vector<std::string> cells;
    std::string cursor = "0";
    do {
      auto page = run(redis::cmd("SCAN", cursor, "MATCH", "gc1:*", "COUNT", "1000"));
      if (page.elements.size() != 2) break;
      cursor = page.elements[0].str;
      for (const redis::Reply& key : page.elements[1].elements) {
        if (!run(redis::cmd("ZSCORE", key.str, member)).is_nil()) cells.push_back(key.str);
      }
    } while (cursor != "0");
    return cells;
  }

  bool in_geo(const std::string& n, int premise_index) {
    return !geo_cells_of(n, premise_index).empty();
  }

  // {lon, lat} of premise k of customer n, from the one cell that holds it ({0, 0}: none).
  std::pair<double, double> geo_pos(const std::string& n, int premise_index) {
    const auto cells = geo_cells_of(n, premise_index);
    if (cells.size() != 1) return {0, 0};
    auto r = run(redis::cmd("GEOPOS", cells[0], n + "." + std::to_string(premise_index)));
    if (r.elements.size() != 1 || r.elements[0].elements.size() != 2) return {0, 0};
    return {std::stod(r.elements[0].elements[0].str), std::stod(r.elements[0].elements[1].str)};
  }

  bool has_record(const std::string& n) {
    const uint64_t num = std::stoull(n);
    return !run(redis::cmd("HGET", store::record_key(num), store::record_field(num))).is_nil();
  }

  static bool contains(const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  }

  std::optional<redis::Connection> conn_;
};

TEST_F(CustomerIndexes, PutIndexesEveryPremise) {
  SampleCustomer c;
  c.id = "C-ix-put";
  c.premises = {premise("P-ix-1", "F-A", "T-A", "10001")};
  ASSERT_EQ(put_customer(c).status, 201);
  const std::string n = number_of(c.id);
  ASSERT_FALSE(n.empty());
  EXPECT_TRUE(in_set(feeder_slice("F-A", n), n));
  EXPECT_TRUE(in_set(store::transformer_key("T-A"), n));
  EXPECT_TRUE(in_set(zip_slice("10001", n), n));
  EXPECT_TRUE(contains(at_premise("P-ix-1"), n));
  EXPECT_TRUE(in_geo(n, 0));
  EXPECT_TRUE(has_record(n));
}

TEST_F(CustomerIndexes, MovingAPremiseLeavesTheOldIndexes) {
  SampleCustomer c;
  c.id = "C-ix-move";
  c.premises = {premise("P-ix-2", "F-OLD", "T-OLD", "10002")};
  ASSERT_EQ(put_customer(c).status, 201);
  const std::string n = number_of(c.id);
  c.premises = {premise("P-ix-3", "F-NEW", "T-NEW", "10003")};
  ASSERT_EQ(put_customer(c).status, 200);

  EXPECT_EQ(number_of(c.id), n);
  EXPECT_FALSE(in_set(feeder_slice("F-OLD", n), n));
  EXPECT_FALSE(in_set(store::transformer_key("T-OLD"), n));
  EXPECT_FALSE(in_set(zip_slice("10002", n), n));
  EXPECT_FALSE(contains(at_premise("P-ix-2"), n));
  EXPECT_TRUE(in_set(feeder_slice("F-NEW", n), n));
  EXPECT_TRUE(in_set(store::transformer_key("T-NEW"), n));
  EXPECT_TRUE(in_set(zip_slice("10003", n), n));
  EXPECT_TRUE(contains(at_premise("P-ix-3"), n));
  EXPECT_TRUE(in_geo(n, 0));
}

TEST_F(CustomerIndexes, FewerPremisesDropTheirGeoEntries) {
  SampleCustomer c;
  c.id = "C-ix-shrink";
  c.premises = {premise("P-ix-4", "F-S1"), premise("P-ix-5", "F-S2")};
  ASSERT_EQ(put_customer(c).status, 201);
  const std::string n = number_of(c.id);
  EXPECT_TRUE(in_geo(n, 1));
  c.premises.pop_back();
  ASSERT_EQ(put_customer(c).status, 200);
  EXPECT_TRUE(in_geo(n, 0));
  EXPECT_FALSE(in_geo(n, 1));
  EXPECT_FALSE(in_set(feeder_slice("F-S2", n), n));
  EXPECT_FALSE(contains(at_premise("P-ix-5"), n));
}

TEST_F(CustomerIndexes, MovingOneOfTwoPremisesOnAFeederKeepsTheCustomerThere) {
  SampleCustomer c;
  c.id = "C-ix-two";
  c.premises = {premise("P-ix-7", "F-TWO"), premise("P-ix-8", "F-TWO")};
  ASSERT_EQ(put_customer(c).status, 201);
  const std::string n = number_of(c.id);
  c.premises[1].feeder = "F-ELSEWHERE";
  c.premises[1].lat = 40.8;
  ASSERT_EQ(put_customer(c).status, 200);
  EXPECT_TRUE(in_set(feeder_slice("F-TWO", n), n));
  EXPECT_TRUE(in_set(feeder_slice("F-ELSEWHERE", n), n));

  EXPECT_EQ(geo_cells_of(n, 1), std::vector<std::string>{store::geo_cell_key(40.8, -73.9851)});
  EXPECT_NEAR(geo_pos(n, 1).second, 40.8, 1e-4) << "geo kept the old spot";
}

TEST_F(CustomerIndexes, DeleteRemovesTheCustomerFromEveryIndex) {
  SampleCustomer c;
  c.id = "C-ix-del";
  c.premises = {premise("P-ix-6", "F-D", "T-D", "10006")};
  ASSERT_EQ(put_customer(c).status, 201);
  const std::string n = number_of(c.id);
  ASSERT_EQ(http()
                .request("DELETE", "/v1/customers/" + c.id, "", bearer(heraldd().admin_key(), ""))
                .status,
            204);
  EXPECT_EQ(number_of(c.id), "");
  EXPECT_FALSE(has_record(n));
  EXPECT_FALSE(in_set(feeder_slice("F-D", n), n));
  EXPECT_FALSE(in_set(store::transformer_key("T-D"), n));
  EXPECT_FALSE(in_set(zip_slice("10006", n), n));
  EXPECT_TRUE(at_premise("P-ix-6").empty());
  EXPECT_FALSE(in_geo(n, 0));
}

TEST_F(CustomerIndexes, CustomersSharingAPremiseAreBothListed) {
  SampleCustomer landlord, tenant;
  landlord.id = "C-ix-landlord";
  tenant.id = "C-ix-tenant";
  landlord.premises = tenant.premises = {premise("P-ix-shared", "F-SH")};
  ASSERT_EQ(put_customer(landlord).status, 201);
  ASSERT_EQ(put_customer(tenant).status, 201);
  const auto listed = at_premise("P-ix-shared");
  EXPECT_EQ(listed.size(), 2u);
  EXPECT_TRUE(contains(listed, number_of(landlord.id)));
  EXPECT_TRUE(contains(listed, number_of(tenant.id)));

  ASSERT_EQ(
      http()
          .request("DELETE", "/v1/customers/" + tenant.id, "", bearer(heraldd().admin_key(), ""))
          .status,
      204);
  EXPECT_EQ(at_premise("P-ix-shared"), std::vector<std::string>{number_of(landlord.id)});
}

TEST_F(CustomerIndexes, ANewLocationMovesTheGeoEntryAndAPatchLeavesIt) {
  SampleCustomer c;
  c.id = "C-ix-geo-move";
  c.premises = {premise("P-ix-geo", "F-G")};
  ASSERT_EQ(put_customer(c).status, 201);
  const std::string n = number_of(c.id);
  auto lon_of = [&] { return geo_pos(n, 0).first; };
  EXPECT_NEAR(lon_of(), -73.9851, 1e-4);

  c.premises[0].lon = -73.9853;  // a few metres: same GEO cell, index list unchanged
  ASSERT_EQ(store::geo_cell_key(40.7357, -73.9853), store::geo_cell_key(40.7357, -73.9851));
  ASSERT_EQ(put_customer(c).status, 200);
  EXPECT_NEAR(lon_of(), -73.9853, 1e-5);

  c.premises[0].lon = -73.9001;  // across town: another cell, and nothing left in the old one
  ASSERT_EQ(put_customer(c).status, 200);
  EXPECT_EQ(geo_cells_of(n, 0), std::vector<std::string>{store::geo_cell_key(40.7357, -73.9001)});
  EXPECT_NEAR(lon_of(), -73.9001, 1e-4);

  auto patched = http().request("PATCH", "/v1/customers/" + c.id + "/preferences",
                                R"({"cadence":"RESTORATION_ONLY"})", bearer(heraldd().admin_key()));
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_NEAR(lon_of(), -73.9001, 1e-4);
  EXPECT_TRUE(in_set(feeder_slice("F-G", n), n));
}

TEST_F(CustomerIndexes, NewCustomersSharingAPremiseInOneImportAreBothListed) {
  SampleCustomer owner, tenant;
  owner.id = "C-ix-imp-owner";
  owner.premises = {premise("P-ix-imp-shared", "F-IS")};
  tenant.id = "C-ix-imp-tenant";
  tenant.premises = {premise("P-ix-imp-shared", "F-IS")};
  auto r = http().request("POST", "/v1/customers:import",
                          customer_json(owner) + "\n" + customer_json(tenant) + "\n",
                          bearer(heraldd().admin_key(), "application/x-ndjson"));
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string a = number_of(owner.id), b = number_of(tenant.id);
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  const auto listed = at_premise("P-ix-imp-shared");
  EXPECT_EQ(listed.size(), 2u);
  EXPECT_TRUE(contains(listed, a));
  EXPECT_TRUE(contains(listed, b));
}

// A feeder's and a ZIP's sets are split by customer number (store::index_slice): a number in
// the wrong slice is a customer a move or an erasure leaves behind in the index.
TEST_F(CustomerIndexes, EachCustomerIsInItsOwnSliceOfAFeederAndAZipAndNoOther) {
  // Numbers are handed out in order: move the next ones to 20 before a run of slices ends.
  auto skip_to = [&](uint64_t next) {
    const auto at = static_cast<uint64_t>(run(redis::cmd("INCRBY", "seq:customer", "0")).integer);
    ASSERT_LT(at, next);
    run(redis::cmd("INCRBY", "seq:customer", std::to_string(next - 1 - at)));
  };
  skip_to(3 * store::kIndexSliceRun - 20);
  std::string body;
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) {  // through the bulk create path
    SampleCustomer c;
    c.id = "C-ix-sl-" + std::to_string(i);
    c.premises = {premise("P-ix-sl-" + std::to_string(i), "F-SL", "T-SL", "10020")};
    body += customer_json(c) + "\n";
    ids.push_back(c.id);
  }
  auto r = http().request("POST", "/v1/customers:import", body,
                          bearer(heraldd().admin_key(), "application/x-ndjson"));
  ASSERT_EQ(r.status, 200) << r.body;
  skip_to(7 * store::kIndexSliceRun + 5);  // a slice of its own
  SampleCustomer one;  // through the script, then moved to another feeder and ZIP
  one.id = "C-ix-sl-put";
  one.premises = {premise("P-ix-sl-put", "F-SL", "T-SL", "10020")};
  ASSERT_EQ(put_customer(one).status, 201);
  ids.push_back(one.id);
  SampleCustomer moved = one;
  moved.premises = {premise("P-ix-sl-put", "F-SL2", "T-SL", "10021")};
  ASSERT_EQ(put_customer(moved).status, 200);

  std::map<uint32_t, std::set<std::string>> want, want_moved;
  for (const std::string& id : ids) {
    const std::string n = number_of(id);
    ASSERT_FALSE(n.empty()) << id;
    (id == one.id ? want_moved : want)[store::index_slice(std::stoull(n))].insert(n);
  }
  ASSERT_EQ(want.size(), 2u) << "the import spans two slices";
  ASSERT_EQ(want_moved.size(), 1u);
  ASSERT_EQ(want.count(want_moved.begin()->first), 0u) << "the PUT's slice is another";
  auto members = [&](const std::string& key) {
    std::set<std::string> out;
    for (const auto& m : run(redis::cmd("SMEMBERS", key)).elements) out.insert(m.str);
    return out;
  };
  for (uint32_t s = 0; s < store::kIndexSlices; ++s) {
    EXPECT_EQ(members(store::feeder_key("F-SL", s)), want[s]) << "feeder slice " << s;
    EXPECT_EQ(members(store::zip_key("10020", s)), want[s]) << "ZIP slice " << s;
    EXPECT_EQ(members(store::feeder_key("F-SL2", s)), want_moved[s]) << "feeder slice " << s;
    EXPECT_EQ(members(store::zip_key("10021", s)), want_moved[s]) << "ZIP slice " << s;
  }
}

TEST_F(CustomerIndexes, ReimportMovesExistingCustomersAndKeepsTheirNumbers) {
  SampleCustomer a, b, fresh;
  a.id = "C-ix-re-a";
  a.premises = {premise("P-ix-re-a", "F-RA")};
  b.id = "C-ix-re-b";
  b.premises = {premise("P-ix-re-b", "F-RB")};
  fresh.id = "C-ix-re-new";
  fresh.premises = {premise("P-ix-re-new", "F-RN")};
  auto first = put_customer(a);
  ASSERT_EQ(first.status, 201) << first.body;
  ASSERT_EQ(put_customer(b).status, 201);
  const std::string na = number_of(a.id), nb = number_of(b.id);

  // a moves twice in one upload (the second line wins), b is unchanged, one customer is new.
  std::string body;
  a.premises = {premise("P-ix-re-a", "F-RC")};
  body += customer_json(a) + "\n" + customer_json(b) + "\n" + customer_json(fresh) + "\n";
  a.premises = {premise("P-ix-re-a2", "F-RD")};
  body += customer_json(a) + "\n";
  auto r = http().request("POST", "/v1/customers:import", body,
                          bearer(heraldd().admin_key(), "application/x-ndjson"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_at(r.body, "accepted"), "4") << r.body;

  EXPECT_EQ(number_of(a.id), na);
  EXPECT_EQ(number_of(b.id), nb);
  EXPECT_FALSE(in_set(feeder_slice("F-RA", na), na));
  EXPECT_FALSE(in_set(feeder_slice("F-RC", na), na));
  EXPECT_TRUE(in_set(feeder_slice("F-RD", na), na));
  EXPECT_FALSE(contains(at_premise("P-ix-re-a"), na));
  EXPECT_TRUE(contains(at_premise("P-ix-re-a2"), na));
  EXPECT_TRUE(in_set(feeder_slice("F-RB", nb), nb));
  const std::string nn = number_of(fresh.id);
  ASSERT_FALSE(nn.empty());
  EXPECT_TRUE(in_set(feeder_slice("F-RN", nn), nn));
  auto got = get_customer(a.id);
  EXPECT_EQ(json_at(got.body, "createdAt"), json_at(first.body, "createdAt")) << got.body;
}

TEST_F(CustomerIndexes, ConcurrentPutsLeaveExactlyOneFeeder) {
  constexpr int kThreads = 4;
  constexpr int kPutsEach = 15;
  const std::string id = "C-ix-race";
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client(heraldd().base_url());
      SampleCustomer c;
      c.id = id;
      c.premises = {premise("P-ix-race", "F-R" + std::to_string(t))};
      for (int i = 0; i < kPutsEach; ++i) {
        auto r = client.request("PUT", "/v1/customers/" + id, customer_json(c),
                                bearer(heraldd().admin_key()));
        if (r.status != 200 && r.status != 201) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);

  auto got = get_customer(id);
  ASSERT_EQ(got.status, 200);
  const auto feeder = json_at(got.body, "premises[0].feeder").value_or("");
  const std::string n = number_of(id);
  int sets_with_it = 0;
  for (int t = 0; t < kThreads; ++t) {
    const std::string f = "F-R" + std::to_string(t);
    if (in_set(feeder_slice(f, n), n)) {
      ++sets_with_it;
      EXPECT_EQ(f, feeder);
    }
  }
  EXPECT_EQ(sets_with_it, 1);
  EXPECT_EQ(at_premise("P-ix-race"), std::vector<std::string>{n});
}

// PATCHes replace only the record (the customer's index entries stay) while PUTs move its
// premise: every request lands, the indexes end exact, and each PATCH that landed, and only
// those, left one PREFERENCE_CHANGE touchpoint (a write that lost its compare-and-set leaves
// nothing and is retried).
TEST_F(CustomerIndexes, ConcurrentPatchesAndPutsEachLandOnceWithTheirTouchpoints) {
  const std::string id = "C-patch-race";
  SampleCustomer c;
  c.id = id;
  c.premises = {premise("P-patch-race", "F-PR0")};
  ASSERT_EQ(put_customer(c).status, 201);
  constexpr int kEach = 12;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client(heraldd().base_url());
      for (int i = 0; i < kEach; ++i) {
        const std::string body = R"({"maxPerDay":)" + std::to_string(1 + t * kEach + i) + "}";
        auto r = client.request("PATCH", "/v1/customers/" + id + "/preferences", body,
                                bearer(heraldd().admin_key()));
        if (r.status != 200) ++failures;
      }
    });
  }
  threads.emplace_back([&] {
    HttpClient client(heraldd().base_url());
    for (int i = 0; i < kEach; ++i) {
      SampleCustomer moved = c;
      moved.premises = {premise("P-patch-race", "F-PR" + std::to_string(1 + i % 3))};
      auto r = client.request("PUT", "/v1/customers/" + id, customer_json(moved),
                              bearer(heraldd().admin_key()));
      if (r.status != 200) ++failures;
    }
  });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);

  auto got = get_customer(id);
  ASSERT_EQ(got.status, 200);
  const std::string n = number_of(id);
  int sets_with_it = 0;
  for (int f = 0; f < 4; ++f)
    sets_with_it += in_set(feeder_slice("F-PR" + std::to_string(f), n), n);
  EXPECT_EQ(sets_with_it, 1);
  EXPECT_EQ(in_set(feeder_slice(*json_at(got.body, "premises[0].feeder"), n), n), true);
  auto journey = http().request("GET", "/v1/customers/" + id + "/journey?limit=500", "",
                                bearer(heraldd().admin_key(), ""));
  ASSERT_EQ(journey.status, 200) << journey.body;
  size_t changes = 0;
  for (size_t at = journey.body.find("PREFERENCE_CHANGE"); at != std::string::npos;
       at = journey.body.find("PREFERENCE_CHANGE", at + 1)) {
    ++changes;
  }
  EXPECT_EQ(changes, 2u * kEach);
}

// Every value in Redis, as text, to search for contact details in clear.
std::string everything_in(redis::Connection& conn) {
  std::string all;
  std::string cursor = "0";
  do {
    auto page = conn.command(redis::cmd("SCAN", cursor, "COUNT", "1000"));
    if (!page.ok() || page->elements.size() != 2) break;
    cursor = page->elements[0].str;
    for (const auto& key : page->elements[1].elements) {
      const std::string type = conn.command(redis::cmd("TYPE", key.str))->str;
      redis::Command read = type == "hash"   ? redis::cmd("HGETALL", key.str)
                            : type == "set"  ? redis::cmd("SMEMBERS", key.str)
                            : type == "zset" ? redis::cmd("ZRANGE", key.str, "0", "-1")
                            : type == "list" ? redis::cmd("LRANGE", key.str, "0", "-1")
                                             : redis::cmd("GET", key.str);
      auto value = conn.command(read);
      all += key.str + "\n";
      if (!value.ok()) continue;
      all += value->str;
      for (const auto& e : value->elements) all += e.str + "\n";
    }
  } while (cursor != "0");
  return all;
}

TEST_F(CustomerIndexes, ContactDetailsAreNotStoredOrLoggedInClear) {
  SampleCustomer c;
  c.id = "C-pii";
  c.name = "Grace Brewster Hopper";
  c.phone = "+1 (415) 867-5309";
  c.email = "grace.hopper@navy.example.org";
  c.premises = {premise_at("P-pii", "1701 Cobol Circle")};
  ASSERT_EQ(put_customer(c).status, 201);
  ASSERT_EQ(get_customer(c.id).status, 200);

  const std::string stored = everything_in(*conn_);
  ASSERT_NE(stored.find("P-pii"), std::string::npos) << "the scan did not see the customer";
  for (const std::string secret : {"Grace Brewster Hopper", "Hopper", "4158675309", "8675309",
                                   "grace.hopper", "Cobol Circle"}) {
    EXPECT_EQ(stored.find(secret), std::string::npos) << secret << " is in Redis in clear";
    EXPECT_EQ(heraldd().log().find(secret), std::string::npos) << secret << " is in the log";
  }
}

}  // namespace
}  // namespace herald::testing
