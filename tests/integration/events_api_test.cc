#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "service/events/event_store.h"
#include "tests/support/heraldd_process.h"

namespace herald::testing {
namespace {

using Clock = std::chrono::steady_clock;

// One AOF-backed Redis for the suite, so the persistence tests restart what the others wrote.
class EventsApi : public HeralddSuite {
 public:
  static void SetUpTestSuite() {
    RedisServerOptions options;
    options.aof = true;
    start_servers(std::move(options));
  }

 protected:
  void SetUp() override {
    if (!redis_server().running()) redis_server().restart();
    if (!heraldd().running()) heraldd().restart();
  }

  HttpResponse post(const std::string& path, const std::string& body, const std::string& key = "",
                    const std::string& credential = "") {
    Headers h = bearer(credential.empty() ? heraldd().operator_key() : credential);
    if (!key.empty()) h.emplace_back("Idempotency-Key", key);
    return http().request("POST", path, body, h);
  }
  HttpResponse create(const std::string& body, const std::string& key = "") {
    return post("/v1/events", body, key);
  }
  HttpResponse update(const std::string& id, const std::string& stage,
                      const std::string& key = "") {
    return post("/v1/events/" + id + "/updates", R"({"stage":")" + stage + R"("})", key);
  }
  HttpResponse get(const std::string& path, const std::string& credential = "") {
    return http().request("GET", path, "",
                          bearer(credential.empty() ? heraldd().operator_key() : credential, ""));
  }

  static std::string outage(const std::string& id) {
    return R"({"id":")" + id +
           R"(","kind":"OUTAGE","area":{"feeders":["F-12"]},)"
           R"("cause":"storm damage","estimatedRestoration":"2026-11-22T18:00:00Z"})";
  }
  static std::string maintenance(const std::string& id) {
    return R"({"id":")" + id +
           R"(","kind":"PLANNED_MAINTENANCE","area":{"zips":["10001"]},)"
           R"("windowStart":"2026-05-01T10:00:00Z","windowEnd":"2026-05-01T14:00:00Z"})";
  }
  static std::string boil_water(const std::string& id) {
    return R"({"id":")" + id +
           R"(","kind":"BOIL_WATER_ADVISORY","severity":"EMERGENCY",)"
           R"("area":{"circle":{"center":{"lat":40.7,"lon":-73.9},"radiusM":1500}}})";
  }

  static long long revisions_in_redis(const std::string& id) {
    auto r = redis_connection().command(redis::cmd("LLEN", events::revisions_key(id)));
    return r.ok() ? r->integer : -1;
  }
  struct Entry {
    std::string id;
    std::map<std::string, std::string> fields;
  };
  // A stream's entries from `start` (XRANGE syntax) on, in order.
  static std::vector<Entry> stream(const std::string& key, const std::string& start = "-") {
    auto r = redis_connection().command(redis::cmd("XRANGE", key, start, "+"));
    std::vector<Entry> out;
    if (!r.ok()) return out;
    for (const auto& entry : r->elements) {
      Entry& e = out.emplace_back();
      e.id = entry.elements[0].str;
      const auto& kv = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < kv.size(); i += 2) e.fields[kv[i].str] = kv[i + 1].str;
    }
    return out;
  }
  // The revisions accepted into the intake stream for `id`, in order (with `field`: that field's
  // value); the entries a planner adds for the parts of a split revision are left out.
  static std::vector<std::string> intake_of(const std::string& id,
                                            const std::string& field = "revision") {
    std::vector<std::string> out;
    for (auto& e : stream("intake")) {
      if (e.fields["event"] == id && !e.fields.contains("shard")) out.push_back(e.fields[field]);
    }
    return out;
  }
  static long long intake_length() {
    auto r = redis_connection().command(redis::cmd("XLEN", "intake"));
    return r.ok() ? r->integer : -1;
  }

  HttpResponse wait_for(const std::string& path, long status) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    HttpResponse r;
    do {
      r = get(path);
      if (r.status == status) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (Clock::now() < deadline);
    return r;
  }
};

TEST_F(EventsApi, AnOutageLifecycleIsAcceptedRevisionByRevision) {
  auto r = create(outage("OUT-life"));
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(json_at(r.body, "id"), "OUT-life");
  EXPECT_EQ(json_at(r.body, "revision"), "1");
  r = post("/v1/events/OUT-life/updates",
           R"({"stage":"UPDATED","estimatedRestoration":"2026-11-22T20:00:00Z"})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(json_at(r.body, "revision"), "2");
  r = update("OUT-life", "RESTORED");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(json_at(r.body, "revision"), "3");

  auto view = get("/v1/events/OUT-life");
  ASSERT_EQ(view.status, 200) << view.body;
  EXPECT_EQ(json_at(view.body, "state.event.stage"), "RESTORED");
  EXPECT_EQ(json_at(view.body, "state.event.revision"), "3");
  EXPECT_EQ(json_at(view.body, "state.event.cause"), "storm damage");  // kept across updates
  EXPECT_EQ(json_at(view.body, "state.event.estimatedRestoration"), "2026-11-22T20:00:00Z");
  EXPECT_EQ(json_at(view.body, "state.active"), "false");
  EXPECT_EQ(json_at(view.body, "revisions[0].stage"), "DETECTED");
  EXPECT_EQ(json_at(view.body, "revisions[0].severity"), "ADVISORY");
  EXPECT_EQ(json_at(view.body, "revisions[1].stage"), "UPDATED");
  EXPECT_EQ(json_at(view.body, "revisions[2].stage"), "RESTORED");
  EXPECT_EQ(json_at(view.body, "revisions[2].revision"), "3");
  EXPECT_EQ(intake_of("OUT-life"), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(get("/v1/events/OUT-none").status, 404);
  EXPECT_EQ(update("OUT-none", "UPDATED").status, 404);
}

// Planners put an EMERGENCY revision ahead of bulk work as soon as they take its intake entry.
TEST_F(EventsApi, EmergencyRevisionsAreMarkedUrgentInTheIntake) {
  ASSERT_EQ(create(outage("OUT-calm")).status, 202);
  ASSERT_EQ(post("/v1/events/OUT-calm/updates", R"({"stage":"UPDATED","severity":"EMERGENCY"})")
                .status,
            202);
  ASSERT_EQ(update("OUT-calm", "RESTORED").status, 202);
  ASSERT_EQ(create(boil_water("BW-urgent")).status, 202);
  EXPECT_EQ(intake_of("OUT-calm", "urgent"), (std::vector<std::string>{"", "1", "1"}));
  EXPECT_EQ(intake_of("BW-urgent", "urgent"), (std::vector<std::string>{"1"}));
}

// Other heraldd processes sharing the Redis hear of it too (the `urgent` stream, read by their
// gate relays): a lease while its first batch is planned, then the end of it.
TEST_F(EventsApi, EmergencyPlanningIsAnnouncedToTheOtherProcesses) {
  // Starts once earlier tests' urgent work is over: the last announcement is an end.
  std::string after = "0-0";
  for (int i = 0; i < 500; ++i) {
    auto all = stream("urgent");
    if (all.empty()) break;
    after = all.back().id;
    if (all.back().fields["lease"] == "0") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::vector<std::pair<std::string, std::string>> seen;  // (from, lease)
  // The announcer tells of urgent work still in progress when its thread wakes: on a loaded
  // machine an emergency's first batch can be committed before that, and then nothing is
  // announced. Up to five emergencies, until one is.
  for (int attempt = 0; attempt < 5 && seen.size() < 2; ++attempt) {
    ASSERT_EQ(create(boil_water("BW-relay-" + std::to_string(attempt))).status, 202);
    for (int i = 0; i < 150; ++i) {
      seen.clear();
      for (auto& e : stream("urgent", "(" + after)) {
        seen.emplace_back(e.fields["from"], e.fields["lease"]);
      }
      if (!seen.empty() && seen.back().second == "0") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.front().first.rfind("heraldd-", 0), 0u) << seen.front().first;
  EXPECT_EQ(seen.front().second, "1000");
  EXPECT_EQ(seen.back(), std::make_pair(seen.front().first, std::string("0")));
}

// For each kind, every stage an event can be at, and what may follow it.
struct Reached {
  std::string kind;
  std::vector<std::string> path;  // updates after creation
  std::vector<std::string> allowed;
};

TEST_F(EventsApi, EveryInvalidTransitionIs409NamingTheCurrentStage) {
  const std::vector<Reached> table = {
      {"OUTAGE", {}, {"UPDATED", "RESTORED", "CANCELLED"}},
      {"OUTAGE", {"UPDATED"}, {"UPDATED", "RESTORED", "CANCELLED"}},
      {"OUTAGE", {"RESTORED"}, {}},
      {"OUTAGE", {"CANCELLED"}, {}},
      {"PLANNED_MAINTENANCE", {}, {"SCHEDULED", "REMINDER", "STARTED", "CANCELLED"}},
      {"PLANNED_MAINTENANCE", {"REMINDER"}, {"STARTED", "CANCELLED"}},
      {"PLANNED_MAINTENANCE", {"STARTED"}, {"COMPLETED"}},
      {"PLANNED_MAINTENANCE", {"STARTED", "COMPLETED"}, {}},
      {"PLANNED_MAINTENANCE", {"CANCELLED"}, {}},
      {"BOIL_WATER_ADVISORY", {}, {"UPDATED", "LIFTED"}},
      {"BOIL_WATER_ADVISORY", {"UPDATED"}, {"UPDATED", "LIFTED"}},
      {"BOIL_WATER_ADVISORY", {"LIFTED"}, {}},
  };
  const std::vector<std::string> stages = {"DETECTED",  "UPDATED",  "RESTORED", "CANCELLED",
                                           "SCHEDULED", "REMINDER", "STARTED",  "COMPLETED",
                                           "ISSUED",    "LIFTED"};
  int n = 0;
  for (const auto& row : table) {
    const std::string id = "SM-" + std::to_string(n++);
    const std::string body = row.kind == "OUTAGE"                ? outage(id)
                             : row.kind == "PLANNED_MAINTENANCE" ? maintenance(id)
                                                                 : boil_water(id);
    ASSERT_EQ(create(body).status, 202);
    for (const auto& s : row.path) ASSERT_EQ(update(id, s).status, 202) << id << " " << s;
    const std::string current =
        row.path.empty() ? json_at(get("/v1/events/" + id).body, "state.event.stage").value_or("")
                         : row.path.back();
    const long long revisions = revisions_in_redis(id);
    for (const auto& next : stages) {
      if (std::find(row.allowed.begin(), row.allowed.end(), next) != row.allowed.end()) continue;
      auto r = update(id, next);
      EXPECT_EQ(r.status, 409) << row.kind << " " << current << " -> " << next << ": " << r.body;
      EXPECT_EQ(json_at(r.body, "error.code"), "conflict");
      EXPECT_NE(json_at(r.body, "error.message").value_or("").find("at stage " + current),
                std::string::npos)
          << r.body;
    }
    EXPECT_EQ(revisions_in_redis(id), revisions) << "a refused update left a revision";
  }
}

TEST_F(EventsApi, TheSameKeyAndBodyGetTheFirstAnswerAndNothingNew) {
  auto first = create(outage("OUT-idem"), "key-create-1");
  ASSERT_EQ(first.status, 202) << first.body;
  const long long intake = intake_length();
  // Other spacing, same request.
  std::string spaced = outage("OUT-idem");
  spaced.insert(1, "  ");
  auto again = create(spaced, "key-create-1");
  EXPECT_EQ(again.status, 202) << again.body;
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.header("idempotent-replayed"), "true");
  EXPECT_EQ(intake_length(), intake) << "a replay added an intake entry";
  EXPECT_EQ(revisions_in_redis("OUT-idem"), 1);

  auto other = create(outage("OUT-idem-2"), "key-create-1");
  EXPECT_EQ(other.status, 409) << other.body;
  EXPECT_EQ(json_at(other.body, "error.field"), "Idempotency-Key");
  EXPECT_EQ(get("/v1/events/OUT-idem-2").status, 404);
  auto dup = create(outage("OUT-idem"));
  EXPECT_EQ(dup.status, 409) << "a second create without a key must not pass: " << dup.body;
  EXPECT_EQ(json_at(dup.body, "error.field"), "id");

  auto u = update("OUT-idem", "UPDATED", "key-update-1");
  ASSERT_EQ(u.status, 202);
  EXPECT_EQ(json_at(u.body, "revision"), "2");
  ASSERT_EQ(update("OUT-idem", "RESTORED", "key-update-2").status, 202);
  // The replay answers as the first time did, though UPDATED cannot follow RESTORED now.
  auto replay = update("OUT-idem", "UPDATED", "key-update-1");
  EXPECT_EQ(replay.status, 202) << replay.body;
  EXPECT_EQ(json_at(replay.body, "revision"), "2");
  EXPECT_EQ(revisions_in_redis("OUT-idem"), 3);
  EXPECT_EQ(intake_of("OUT-idem"), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(update("OUT-idem", "CANCELLED", "key-update-1").status, 409);
  auto ttl = redis_connection().command(redis::cmd("TTL", events::idempotency_key("key-update-1")));
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer, 23 * 3600);
  EXPECT_LE(ttl->integer, 24 * 3600);
}

TEST_F(EventsApi, OperatorsAndAdminsWriteAndStaffRead) {
  ASSERT_EQ(post("/v1/events", outage("OUT-roles"), "", heraldd().admin_key()).status, 202);
  for (const auto& key : {heraldd().agent_key(), heraldd().analyst_key()}) {
    auto w = post("/v1/events", outage("OUT-roles-x"), "", key);
    EXPECT_EQ(w.status, 403) << w.body;
    EXPECT_EQ(post("/v1/events/OUT-roles/updates", R"({"stage":"RESTORED"})", "", key).status, 403);
    EXPECT_EQ(get("/v1/events/OUT-roles", key).status, 200);
    EXPECT_EQ(get("/v1/events?status=active", key).status, 200);
  }
  EXPECT_EQ(http().request("GET", "/v1/events/OUT-roles").status, 401);
  EXPECT_EQ(get("/v1/events/OUT-roles-x").status, 404);
  EXPECT_EQ(json_at(get("/v1/events/OUT-roles").body, "state.event.stage"), "DETECTED");
}

TEST_F(EventsApi, BadBodiesAre400NamingTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"kind":"OUTAGE","area":{"feeders":["F"]}})", "id"},
      {R"({"id":"B-1","area":{"feeders":["F"]}})", "kind"},
      {R"({"id":"B-1","kind":"OUTAGE"})", "area"},
      {R"({"id":"B-1","kind":"OUTAGE","stage":"RESTORED","area":{"feeders":["F"]}})", "stage"},
      {R"({"id":"B-1","kind":"OUTAGE","area":{"polygon":[{"lat":40,"lon":-73},)"
       R"({"lat":41,"lon":-73},{"lat":95,"lon":-72}]}})",
       "area.polygon[2].lat"},
      {R"({"id":"B-1","kind":"OUTAGE","area":{"feeders":["F"]},"colour":"red"})", "colour"},
      {R"({"id":"B-1","kind":"PLANNED_MAINTENANCE","area":{"feeders":["F"]},)"
       R"("windowStart":"2026-05-01T14:00:00Z","windowEnd":"2026-05-01T10:00:00Z"})",
       "windowEnd"},
  };
  for (const auto& [body, field] : cases) {
    auto r = create(body);
    EXPECT_EQ(r.status, 400) << body << " " << r.body;
    EXPECT_EQ(json_at(r.body, "error.field"), field) << r.body;
  }
  auto key = create(outage("B-2"), std::string(129, 'k'));
  EXPECT_EQ(key.status, 400);
  EXPECT_EQ(json_at(key.body, "error.field"), "Idempotency-Key");
  ASSERT_EQ(create(outage("B-3")).status, 202);
  auto u = post("/v1/events/B-3/updates", R"({"estimatedRestoration":"2026-11-22T20:00:00Z"})");
  EXPECT_EQ(u.status, 400);
  EXPECT_EQ(json_at(u.body, "error.field"), "stage");
  EXPECT_EQ(get("/v1/events?status=closed").status, 400);
}

TEST_F(EventsApi, OnlyActiveEventsAreListed) {
  ASSERT_EQ(create(outage("OUT-open")).status, 202);
  ASSERT_EQ(create(boil_water("BW-open")).status, 202);
  ASSERT_EQ(create(outage("OUT-closed")).status, 202);
  ASSERT_EQ(update("OUT-closed", "CANCELLED").status, 202);
  auto list = get("/v1/events?status=active&limit=1000");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_NE(list.body.find(R"("id":"OUT-open")"), std::string::npos);
  EXPECT_NE(list.body.find(R"("id":"BW-open")"), std::string::npos);
  EXPECT_EQ(list.body.find(R"("id":"OUT-closed")"), std::string::npos);
  EXPECT_EQ(json_at(get("/v1/events?status=active&limit=1").body, "events[1].event.id"),
            std::nullopt);
}

TEST_F(EventsApi, ConcurrentUpdatesEachGetTheirOwnRevision) {
  ASSERT_EQ(create(boil_water("BW-race")).status, 202);
  constexpr int kThreads = 4;
  constexpr int kEach = 10;
  std::vector<std::vector<std::string>> revisions(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &revisions] {
      HttpClient client(heraldd().base_url());
      for (int i = 0; i < kEach; ++i) {
        auto r = client.request("POST", "/v1/events/BW-race/updates", R"({"stage":"UPDATED"})",
                                bearer(heraldd().operator_key()));
        if (r.status == 202) revisions[t].push_back(json_at(r.body, "revision").value_or("?"));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<int> all;
  for (const auto& list : revisions) {
    for (const auto& r : list) all.push_back(std::atoi(r.c_str()));
  }
  std::sort(all.begin(), all.end());
  ASSERT_FALSE(all.empty());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], static_cast<int>(i) + 2);
  EXPECT_EQ(revisions_in_redis("BW-race"), static_cast<long long>(all.size()) + 1);
  EXPECT_EQ(intake_of("BW-race").size(), all.size() + 1);
}

TEST_F(EventsApi, AcceptedRevisionsSurviveARestartOfRedisAndHeraldd) {
  ASSERT_EQ(create(maintenance("PM-keep")).status, 202);
  ASSERT_EQ(update("PM-keep", "REMINDER").status, 202);
  ASSERT_EQ(update("PM-keep", "STARTED").status, 202);
  const long long intake = intake_length();

  EXPECT_EQ(heraldd().stop(), 0) << heraldd().log();
  redis_server().stop();
  redis_server().restart();
  heraldd().restart();

  auto view = get("/v1/events/PM-keep");
  ASSERT_EQ(view.status, 200) << view.body;
  EXPECT_EQ(json_at(view.body, "revisions[0].stage"), "SCHEDULED");
  EXPECT_EQ(json_at(view.body, "revisions[1].stage"), "REMINDER");
  EXPECT_EQ(json_at(view.body, "revisions[2].stage"), "STARTED");
  EXPECT_EQ(intake_length(), intake);
  EXPECT_EQ(intake_of("PM-keep"), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(json_at(update("PM-keep", "COMPLETED").body, "revision"), "4");
}

TEST_F(EventsApi, A202SurvivesKill9OfHeralddAndRedis) {
  ASSERT_EQ(create(outage("OUT-crash")).status, 202);
  auto r = update("OUT-crash", "RESTORED");
  ASSERT_EQ(r.status, 202);
  heraldd().kill();
  redis_server().kill();
  redis_server().restart();
  heraldd().restart();
  auto view = wait_for("/v1/events/OUT-crash", 200);
  ASSERT_EQ(view.status, 200) << view.body;
  EXPECT_EQ(json_at(view.body, "state.event.stage"), "RESTORED");
  EXPECT_EQ(json_at(view.body, "revisions[1].revision"), "2");
  EXPECT_EQ(intake_of("OUT-crash"), (std::vector<std::string>{"1", "2"}));
}

}  // namespace
}  // namespace herald::testing
