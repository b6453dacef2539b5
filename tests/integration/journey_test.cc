#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "service/journey/stream_id.h"
#include "service/redis/connection.h"
#include "service/store/redis_settings.h"
#include "service/store/touchpoints.h"
#include "tests/support/journey_fixture.h"

namespace herald::testing {
namespace {

// The ids of a journey or search page, in order ("touchpoints[i].id").
std::vector<std::string> ids_of(const std::string& body) {
  std::vector<std::string> out;
  for (int i = 0;; ++i) {
    auto id = json_at(body, "touchpoints[" + std::to_string(i) + "].id");
    if (!id) return out;
    out.push_back(*id);
  }
}

size_t count_of(const std::string& body, const std::string& needle) {
  size_t n = 0;
  for (size_t at = body.find(needle); at != std::string::npos; at = body.find(needle, at + 1)) ++n;
  return n;
}

class Journey : public JourneyFixture {
 protected:
  // A preference change, then an outage raised, moved and restored, with each SMS delivered
  // and an OUT reply: the lifecycle every journey test reads.
  void run_outage() {
    put_customer("C-A", "F-1", R"(["SMS","EMAIL"])");
    put_customer("C-B", "F-1", R"(["SMS"])");
    auto patch = http_->request("PATCH", "/v1/customers/C-A/preferences", R"({"maxPerDay":9})",
                                bearer(heraldd_->admin_key()));
    ASSERT_EQ(patch.status, 200) << patch.body;
    post_event("/v1/events", R"({"id":"OUT-1","kind":"OUTAGE","stage":"DETECTED",)"
                             R"("severity":"EMERGENCY","area":{"feeders":["F-1"]},)"
                             R"("estimatedRestoration":"2030-01-01T18:00:00Z"})");
    ASSERT_EQ(await_sent("sms.jsonl", "C-A", 1).size(), 1u) << heraldd_->log();
    append("C-A", delivery("OUT-1", v1::SMS, "delivered"));
    post_event("/v1/events/OUT-1/updates",
               R"({"stage":"UPDATED","estimatedRestoration":"2030-01-01T21:00:00Z"})");
    ASSERT_EQ(await_sent("sms.jsonl", "C-A", 2).size(), 2u) << heraldd_->log();
    append("C-A", delivery("OUT-1", v1::SMS, "delivered"));
    post_event("/v1/events/OUT-1/updates", R"({"stage":"RESTORED"})");
    ASSERT_EQ(await_sent("sms.jsonl", "C-A", 3).size(), 3u) << heraldd_->log();
    ASSERT_EQ(await_sent("email.jsonl", "C-A", 3).size(), 3u) << heraldd_->log();
    append("C-A", delivery("OUT-1", v1::SMS, "delivered"));
    append("C-A", reply("OUT-1", "OUT"));
  }
};

TEST_F(Journey, AnOutageLifecycleReadsInOrderWithWhatTheCustomerWasTold) {
  run_outage();
  auto r = get("/v1/customers/C-A/journey", heraldd_->agent_key());
  ASSERT_EQ(r.status, 200) << r.body;
  auto ids = ids_of(r.body);
  ASSERT_GE(ids.size(), 11u) << r.body;  // 1 preference, 6 decisions, 3 deliveries, 1 reply
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end(), [](const auto& a, const auto& b) {
    return *journey::StreamId::parse(a) < *journey::StreamId::parse(b);
  })) << "time order";
  EXPECT_EQ(json_at(r.body, "touchpoints[0].kind"), "PREFERENCE_CHANGE") << r.body;
  EXPECT_NE(json_at(r.body, "touchpoints[0].detail")->find("\"maxPerDay\":9"), std::string::npos);
  EXPECT_NE(r.body.find("ETR "), std::string::npos) << "the ETR the message gave: " << r.body;
  EXPECT_NE(r.body.find("9:00"), std::string::npos) << "the moved ETR (21:00 UTC): " << r.body;
  EXPECT_EQ(json_at(r.body, "touchpoints[" + std::to_string(ids.size() - 1) + "].status"), "OUT");

  auto email = get("/v1/customers/C-A/journey?channel=EMAIL", heraldd_->agent_key());
  EXPECT_EQ(count_of(email.body, R"("channel":"EMAIL")"), ids_of(email.body).size());
  // Three decisions (first notice, the moved ETR, restoration) and the three sends that followed.
  EXPECT_EQ(ids_of(email.body).size(), 6u) << email.body;
  EXPECT_EQ(count_of(email.body, R"("kind":"SEND")"), 3u) << email.body;
  auto deliveries = get("/v1/customers/C-A/journey?kind=DELIVERY&event=OUT-1",
                        heraldd_->analyst_key());
  EXPECT_EQ(ids_of(deliveries.body).size(), 3u) << deliveries.body;
  auto of_event = get("/v1/customers/C-A/journey?event=OUT-1", heraldd_->agent_key());
  EXPECT_EQ(ids_of(of_event.body).size(), ids.size() - 1) << "all but the preference change";

  // since/until cut on time: nothing after the last entry, everything from the start.
  auto future = get("/v1/customers/C-A/journey?since=2099-01-01T00:00:00Z", heraldd_->agent_key());
  EXPECT_TRUE(ids_of(future.body).empty()) << future.body;
  auto past = get("/v1/customers/C-A/journey?until=2000-01-01T00:00:00Z", heraldd_->agent_key());
  EXPECT_TRUE(ids_of(past.body).empty()) << past.body;
  auto bad = get("/v1/customers/C-A/journey?kind=HUG", heraldd_->agent_key());
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json_at(bad.body, "error.field"), "kind");
}

// Journeys share a stream 16 customers to a bucket: when one stream was a customer's own, every
// customer an outage reached cost Redis a key and a 1 KB stream node (4.7 KB for one decision
// before heraldd set stream-node-max-bytes).
TEST_F(Journey, AnOutagesJourneysTakeUnderHalfAKilobyteOfRedisPerCustomer) {
  std::vector<std::string> ids;
  for (int i = 0; i < 32; ++i) {
    ids.push_back("C-" + std::to_string(100 + i));
    put_customer(ids.back(), "F-1", R"(["SMS"])");
  }
  post_event("/v1/events", R"({"id":"OUT-1","kind":"OUTAGE","stage":"DETECTED",)"
                           R"("severity":"EMERGENCY","area":{"feeders":["F-1"]}})");
  for (const auto& id : ids) ASSERT_EQ(await_sent("sms.jsonl", id, 1).size(), 1u) << id;
  append(ids[0], delivery("OUT-1", v1::SMS, "delivered"));
  auto conn = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
  ASSERT_TRUE(conn.ok());
  const uint64_t first = number_of(ids[0]);
  auto range = conn->command(redis::cmd("XRANGE", store::journey_key(first), "-", "+"));
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(store::touchpoints_in(*range, first, false).size(), 3u) << "queued, sent, delivered";
  std::set<std::string> buckets;
  for (const auto& id : ids) buckets.insert(store::journey_key(number_of(id)));
  EXPECT_LE(buckets.size(), 3u) << "32 customers numbered together fill two or three buckets";
  long long bytes = 0;
  for (const auto& key : buckets) {
    auto usage = conn->command(redis::cmd("MEMORY", "USAGE", key));
    ASSERT_TRUE(usage.ok());
    bytes += usage->integer;
  }
  EXPECT_GT(bytes, 0);
  EXPECT_LT(bytes / static_cast<long long>(ids.size()), 512) << bytes << " bytes in all";
}

// Every setting in store/redis_settings is in force once heraldd has started, whatever the
// Redis it found (this one runs with Redis's defaults).
TEST_F(Journey, HeralddPutsItsRedisSettingsInForceAtStartUp) {
  auto conn = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
  ASSERT_TRUE(conn.ok());
  for (const store::RedisSetting& s : store::redis_settings()) {
    std::string value;
    for (int tries = 0; tries < 100 && value != s.value; ++tries) {
      auto got = conn->command(redis::cmd("CONFIG", "GET", std::string(s.name)));
      ASSERT_TRUE(got.ok());
      ASSERT_EQ(got->elements.size(), 2u) << s.name;
      value = got->elements[1].str;
      if (value != s.value) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(value, s.value) << s.name;
  }
}

TEST_F(Journey, PagesFollowTheCursorWithoutGapsOrRepeats) {
  put_customer("C-P", "F-9", R"(["SMS"])");
  for (int i = 0; i < 25; ++i) append("C-P", reply("", i % 2 ? "HELP" : "STATUS"));
  auto all = ids_of(get("/v1/customers/C-P/journey?limit=1000", heraldd_->agent_key()).body);
  ASSERT_EQ(all.size(), 25u);
  std::vector<std::string> paged;
  std::string cursor;
  int pages = 0;
  do {
    auto r = get("/v1/customers/C-P/journey?limit=10" + (cursor.empty() ? "" : "&cursor=" + cursor),
                 heraldd_->agent_key());
    ASSERT_EQ(r.status, 200) << r.body;
    for (auto& id : ids_of(r.body)) paged.push_back(id);
    cursor = json_at(r.body, "nextCursor").value_or("");
    ASSERT_LT(++pages, 6);
  } while (!cursor.empty());
  EXPECT_EQ(paged, all);
  auto help = get("/v1/customers/C-P/journey?status=help&limit=5", heraldd_->agent_key());
  EXPECT_EQ(ids_of(help.body).size(), 5u);
}

// Customers numbered together share a journey bucket: each journey holds only its own
// touchpoints, interleaved writes page cleanly, and a customer's entry is never another's.
TEST_F(Journey, CustomersSharingABucketEachSeeOnlyTheirOwn) {
  put_customer("C-X", "F-9", R"(["SMS"])");
  put_customer("C-Y", "F-9", R"(["SMS"])");
  ASSERT_EQ(store::journey_key(number_of("C-X")), store::journey_key(number_of("C-Y")));
  for (int i = 0; i < 12; ++i) {
    append("C-X", reply("", "STATUS"));
    append("C-Y", reply("", "HELP"));
    append("C-Y", reply("", "HELP"));
  }
  auto x = get("/v1/customers/C-X/journey?limit=1000", heraldd_->agent_key());
  ASSERT_EQ(ids_of(x.body).size(), 12u) << x.body;
  EXPECT_EQ(x.body.find("HELP"), std::string::npos) << x.body;
  std::vector<std::string> paged;
  std::string cursor;
  for (int pages = 0; pages < 20; ++pages) {
    auto r = get("/v1/customers/C-Y/journey?limit=5" + (cursor.empty() ? "" : "&cursor=" + cursor),
                 heraldd_->agent_key());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body.find("STATUS"), std::string::npos) << r.body;
    for (auto& id : ids_of(r.body)) paged.push_back(id);
    cursor = json_at(r.body, "nextCursor").value_or("");
    if (cursor.empty()) break;
  }
  EXPECT_EQ(paged.size(), 24u);
  EXPECT_EQ(std::set<std::string>(paged.begin(), paged.end()).size(), 24u) << "ids repeat";
  EXPECT_TRUE(std::is_sorted(paged.begin(), paged.end(), [](const auto& a, const auto& b) {
    return *journey::StreamId::parse(a) < *journey::StreamId::parse(b);
  }));
}

// A journey stream of its own, as earlier releases wrote one per customer, is still read:
// merged by id with the customer's entries in its bucket, paged across both, and erased.
TEST_F(Journey, AJourneyWrittenByAnEarlierReleaseIsStillReadAndErased) {
  put_customer("C-L", "F-9", R"(["SMS"])");
  const uint64_t n = number_of("C-L");
  auto conn = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
  ASSERT_TRUE(conn.ok());
  // Written a minute ago, before the upgrade: the old stream holds only older ids.
  const auto minute_ago = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count() -
                          60'000;
  int seq = 0;
  for (const char* keyword : {"STOP", "START"}) {
    v1::Touchpoint tp = reply("", keyword);
    tp.clear_customer_id();
    const std::string id = std::to_string(minute_ago) + "-" + std::to_string(seq++);
    ASSERT_FALSE(conn->command(redis::cmd("XADD", store::legacy_journey_key(n), id, "t",
                                          tp.SerializeAsString()))
                     ->is_error());
  }
  append("C-L", reply("", "HELP"));
  auto all = get("/v1/customers/C-L/journey?limit=10", heraldd_->agent_key());
  ASSERT_EQ(ids_of(all.body).size(), 3u) << all.body;
  EXPECT_EQ(json_at(all.body, "touchpoints[0].status"), "STOP") << all.body;
  EXPECT_EQ(json_at(all.body, "touchpoints[2].status"), "HELP") << all.body;
  std::vector<std::string> paged;
  std::string cursor;
  for (int pages = 0; pages < 5; ++pages) {
    auto r = get("/v1/customers/C-L/journey?limit=1" + (cursor.empty() ? "" : "&cursor=" + cursor),
                 heraldd_->agent_key());
    for (auto& id : ids_of(r.body)) paged.push_back(id);
    cursor = json_at(r.body, "nextCursor").value_or("");
    if (cursor.empty()) break;
  }
  EXPECT_EQ(paged, ids_of(all.body));

  auto del = http_->request("DELETE", "/v1/customers/C-L", "", bearer(heraldd_->admin_key()));
  ASSERT_EQ(del.status, 204) << del.body;
  EXPECT_EQ(conn->command(redis::cmd("EXISTS", store::legacy_journey_key(n)))->integer, 0);
  EXPECT_EQ(conn->command(redis::cmd("EXISTS", store::journey_key(n)))->integer, 0)
      << "the bucket held only C-L's entry";
}

TEST_F(Journey, EachRoleSeesWhatItMay) {
  put_customer("C-A", "F-1", R"(["SMS"])");
  put_customer("C-B", "F-1", R"(["SMS"])");
  append("C-A", reply("", "HELP"));
  auto agent = get("/v1/customers/C-A/journey", heraldd_->agent_key());
  ASSERT_EQ(agent.status, 200) << agent.body;
  EXPECT_EQ(json_at(agent.body, "customer.phone"), "+12014316859");
  EXPECT_EQ(json_at(agent.body, "customer.name"), "Grace Hopper");
  auto analyst = get("/v1/customers/C-A/journey", heraldd_->analyst_key());
  ASSERT_EQ(analyst.status, 200) << analyst.body;
  EXPECT_EQ(json_at(analyst.body, "customer.id"), "C-A");
  EXPECT_EQ(analyst.body.find("2014316859"), std::string::npos) << analyst.body;
  EXPECT_EQ(analyst.body.find("Grace"), std::string::npos) << analyst.body;
  EXPECT_EQ(analyst.body.find("grace@"), std::string::npos) << analyst.body;
  const std::string token = token_for("C-A");
  EXPECT_EQ(get("/v1/customers/C-A/journey", token).status, 200);
  EXPECT_EQ(get("/v1/customers/C-B/journey", token).status, 403);
  EXPECT_EQ(get("/v1/customers/C-A/journey", heraldd_->operator_key()).status, 403);
  EXPECT_EQ(get("/v1/customers/C-A/journey", "nonsense").status, 401);
  EXPECT_EQ(get("/v1/customers/C-Z/journey", heraldd_->agent_key()).status, 404);
  EXPECT_EQ(get("/v1/touchpoints", token).status, 403);
}

TEST_F(Journey, SearchFindsTouchpointsAcrossCustomers) {
  run_outage();
  auto queued = get("/v1/touchpoints?event=OUT-1&status=queued&channel=SMS&limit=1000",
                    heraldd_->analyst_key());
  ASSERT_EQ(queued.status, 200) << queued.body;
  // C-A: three milestones; C-B: three as well (MILESTONES cadence, SMS).
  EXPECT_EQ(ids_of(queued.body).size(), 6u) << queued.body;
  EXPECT_EQ(count_of(queued.body, R"("customerId":"C-A")"), 3u);
  EXPECT_EQ(count_of(queued.body, R"("customerId":"C-B")"), 3u);
  EXPECT_EQ(queued.body.find("2014316859"), std::string::npos);

  // Without an event: every event touched is merged, pages of 4 cover the whole set.
  std::set<std::string> seen;
  std::string cursor;
  for (int pages = 0; pages < 10; ++pages) {
    auto r = get("/v1/touchpoints?kind=DELIVERY&limit=2" +
                     (cursor.empty() ? "" : "&cursor=" + cursor),
                 heraldd_->agent_key());
    ASSERT_EQ(r.status, 200) << r.body;
    for (auto& id : ids_of(r.body)) EXPECT_TRUE(seen.insert(id).second) << "repeated " << id;
    cursor = json_at(r.body, "nextCursor").value_or("");
    if (cursor.empty()) break;
  }
  EXPECT_EQ(seen.size(), 3u);
  auto prefs = get("/v1/touchpoints?kind=PREFERENCE_CHANGE", heraldd_->agent_key());
  EXPECT_EQ(json_at(prefs.body, "touchpoints[0].customerId"), "C-A") << prefs.body;
}

// The planner writes a batch's decisions as a few stream entries holding many touchpoints each
// (an event's search copies 100 to an entry, a customer's journey one entry per batch): pages
// still hand out each touchpoint once, whatever the limit, with cursors inside an entry.
TEST_F(Journey, TouchpointsSharingAStreamEntryPageOneByOne) {
  constexpr int kCustomers = 130;
  for (int i = 0; i < kCustomers; ++i) {
    put_customer("C-M" + std::to_string(i), "F-M", R"(["SMS","EMAIL"])");
  }
  post_event("/v1/events", R"({"id":"OUT-M","kind":"OUTAGE","stage":"DETECTED",)"
                           R"("severity":"EMERGENCY","area":{"feeders":["F-M"]}})");
  const std::string base = "/v1/touchpoints?event=OUT-M&kind=DECISION";
  std::vector<std::string> all;
  for (int tries = 0; tries < 150 && all.size() < 2u * kCustomers; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    all = ids_of(get(base + "&limit=1000", heraldd_->analyst_key()).body);
  }
  ASSERT_EQ(all.size(), 2u * kCustomers) << heraldd_->log();
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), all.size()) << "ids repeat";
  EXPECT_TRUE(std::any_of(all.begin(), all.end(),
                          [](const std::string& id) { return id.find('.') != std::string::npos; }))
      << "the decisions were not written several to an entry";

  std::vector<std::string> paged;
  std::string cursor;
  for (int pages = 0; pages < 100; ++pages) {
    auto r = get(base + "&limit=7" + (cursor.empty() ? "" : "&cursor=" + cursor),
                 heraldd_->analyst_key());
    ASSERT_EQ(r.status, 200) << r.body;
    for (auto& id : ids_of(r.body)) paged.push_back(id);
    cursor = json_at(r.body, "nextCursor").value_or("");
    if (cursor.empty()) break;
  }
  EXPECT_EQ(paged, all) << "paging by 7 lost or repeated touchpoints";

  // One customer's two decisions share a journey entry: a page of one each.
  auto first = get("/v1/customers/C-M7/journey?kind=DECISION&limit=1", heraldd_->agent_key());
  ASSERT_EQ(ids_of(first.body).size(), 1u) << first.body;
  const std::string next = json_at(first.body, "nextCursor").value_or("");
  ASSERT_FALSE(next.empty()) << first.body;
  auto second = get("/v1/customers/C-M7/journey?kind=DECISION&limit=1&cursor=" + next,
                    heraldd_->agent_key());
  ASSERT_EQ(ids_of(second.body).size(), 1u) << second.body;
  EXPECT_NE(ids_of(first.body)[0], ids_of(second.body)[0]);
  EXPECT_NE(json_at(first.body, "touchpoints[0].channel"),
            json_at(second.body, "touchpoints[0].channel"));
}

}  // namespace
}  // namespace herald::testing
