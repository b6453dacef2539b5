#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "service/store/keys.h"
#include "service/store/touchpoints.h"
#include "tests/support/heraldd_process.h"

namespace herald::testing {
namespace {

using google::protobuf::util::TimeUtil;
using Clock = std::chrono::steady_clock;

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339(int64_t seconds) {
  return TimeUtil::ToString(TimeUtil::SecondsToTimestamp(seconds));
}

// `days` ahead of today (UTC) at hh:mm UTC.
int64_t day_at(int days, int hour, int minute = 0) {
  return (now_s() / 86'400 + days) * 86'400 + hour * 3600 + minute * 60;
}

std::string slot_json(int64_t start, int minutes, int agents) {
  return R"({"start":")" + rfc3339(start) + R"(","minutes":)" + std::to_string(minutes) +
         R"(,"agents":)" + std::to_string(agents) + "}";
}

std::string capacity_json(const std::vector<std::string>& slots) {
  std::string body = R"({"slots":[)";
  for (size_t i = 0; i < slots.size(); ++i) body += (i ? "," : "") + slots[i];
  return body + "]}";
}

// One Redis and one heraldd for the suite, with a horizon that reaches the next DST change and
// a sandbox directory whose SMS file shows what customers were told.
class Callbacks : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    redis_ = std::make_unique<RedisServer>();
    sandbox_ = std::filesystem::temp_directory_path() /
               ("herald-callbacks-" + std::to_string(::getpid()));
    std::filesystem::create_directories(sandbox_);
    HeralddOptions options;
    options.redis_url = redis_->url();
    options.extra_env = {{"HERALD_CALLBACK_HORIZON_DAYS", "366"},
                         {"HERALD_SANDBOX_DIR", sandbox_.string()}};
    heraldd_ = std::make_unique<HeralddProcess>(std::move(options));
  }
  static void TearDownTestSuite() {
    heraldd_.reset();
    redis_.reset();
    std::filesystem::remove_all(sandbox_);
  }

 protected:
  // Every test starts with no capacity and no callbacks (the outbox group stays).
  void SetUp() override {
    auto conn = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
    ASSERT_TRUE(conn.ok());
    auto r = conn->command(redis::cmd(
        "EVAL",
        "for _, k in ipairs(redis.call('KEYS', 'cb:{cb}:*')) do "
        "if k ~= 'cb:{cb}:out' then redis.call('DEL', k) end end",
        "0"));
    ASSERT_TRUE(r.ok() && !r->is_error());
    http_ = std::make_unique<HttpClient>(heraldd_->base_url());
  }

  HttpResponse as(const std::string& key, const char* method, const std::string& path,
                  const std::string& body = "") {
    return http_->request(method, path, body, bearer(key, body.empty() ? "" : "application/json"));
  }
  HttpResponse agent(const char* method, const std::string& path, const std::string& body = "") {
    return as(heraldd_->agent_key(), method, path, body);
  }
  HttpResponse capacity(const std::vector<std::string>& slots) {
    return agent("PUT", "/v1/callback-capacity", capacity_json(slots));
  }
  static std::string request_json(const std::string& customer, const std::string& extra = "") {
    return R"({"customerId":")" + customer + R"(","reason":"billing question")" + extra + "}";
  }
  HttpResponse request(const std::string& customer, const std::string& extra = "") {
    return agent("POST", "/v1/callbacks", request_json(customer, extra));
  }

  void add_customer(const std::string& id, const std::string& zone = "America/New_York",
                    const std::string& quiet = R"("quietHours":{"start":"22:00","end":"07:00"})",
                    const std::string& language = "en") {
    SampleCustomer c;
    c.id = id;
    c.time_zone = zone;
    c.preferences = R"({"channels":{"OUTAGE":["SMS"]},"cadence":"MILESTONES")" +
                    (quiet.empty() ? "" : "," + quiet) + "}";
    std::string body = customer_json(c);
    body.insert(body.size() - 1, R"(,"language":")" + language + "\"");
    auto r = http_->request("PUT", "/v1/customers/" + id, body, bearer(heraldd_->admin_key()));
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.body;
  }
  std::string token_for(const std::string& id) {
    auto r = as(heraldd_->admin_key(), "POST", "/v1/customers/" + id + "/token");
    EXPECT_EQ(r.status, 201) << r.body;
    return json_at(r.body, "token").value_or("");
  }

  // Polls GET /v1/callbacks/{id} until the status shows (10 s at most).
  HttpResponse wait_status(const std::string& id, const std::string& status) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    HttpResponse r;
    do {
      r = agent("GET", "/v1/callbacks/" + id);
      if (json_at(r.body, "status") == status) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (Clock::now() < deadline);
    return r;
  }

  // The SMS lines the sandbox wrote for a customer containing `text` (waits up to 10 s).
  static std::string sms_to(const std::string& customer, const std::string& text) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    do {
      std::ifstream in(sandbox_ / "sms.jsonl");
      std::string line;
      while (std::getline(in, line)) {
        if (json_at(line, "customerId") == customer &&
            json_at(line, "sms").value_or("").find(text) != std::string::npos) {
          return *json_at(line, "sms");
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (Clock::now() < deadline);
    return "";
  }

  static long long booked_in(int64_t slot_start) {
    auto conn = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
    auto r = conn->command(redis::cmd("ZCARD", "cb:{cb}:in:" + std::to_string(slot_start)));
    return r.ok() ? r->integer : -1;
  }
  // What an inbound "CALL" SMS leaves on the callback queue (`cbq`) for the customer.
  void reply_call(const std::string& id) {
    const uint64_t n = customer_number(id);
    ASSERT_GT(n, 0u);
    auto conn = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE(conn->command(redis::cmd("XADD", "cbq", "*", "n", std::to_string(n), "event", "",
                                         "reason", "CALL", "at", std::to_string(now_s() * 1000)))
                    .ok());
  }

  static uint64_t customer_number(const std::string& id) {
    auto conn = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
    auto r = conn->command(redis::cmd("HGET", store::customer_id_key(id), id));
    return r.ok() ? std::stoull(r->str) : 0;
  }

  static std::unique_ptr<RedisServer> redis_;
  static std::unique_ptr<HeralddProcess> heraldd_;
  static std::filesystem::path sandbox_;
  std::unique_ptr<HttpClient> http_;
};

std::unique_ptr<RedisServer> Callbacks::redis_;
std::unique_ptr<HeralddProcess> Callbacks::heraldd_;
std::filesystem::path Callbacks::sandbox_;

TEST_F(Callbacks, FiftyConcurrentRequestsForTenPlacesBookExactlyTen) {
  const int64_t slot = day_at(2, 17);  // 12:00 in New York
  ASSERT_EQ(capacity({slot_json(slot, 30, 10)}).status, 200);
  for (int i = 0; i < 50; ++i) add_customer("C-race-" + std::to_string(i));
  std::atomic<int> created{0}, full{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      HttpClient client(heraldd_->base_url());
      auto r = client.request("POST", "/v1/callbacks", request_json("C-race-" + std::to_string(i)),
                              bearer(heraldd_->agent_key()));
      (r.status == 201 ? created : r.status == 409 ? full : other)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 10);
  EXPECT_EQ(full.load(), 40);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(booked_in(slot), 10);
  auto view = agent("GET", "/v1/callback-capacity?from=" + rfc3339(slot - 60));
  ASSERT_EQ(view.status, 200) << view.body;
  EXPECT_EQ(json_at(view.body, "slots[0].booked"), "10");
  EXPECT_EQ(json_at(view.body, "slots[0].agents"), "10");
}

TEST_F(Callbacks, TheFullAnswerSaysWhy) {
  ASSERT_EQ(capacity({slot_json(day_at(2, 17), 15, 0)}).status, 200);
  add_customer("C-none");
  auto r = request("C-none");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(json_at(r.body, "error.message").value_or("").find("no callback slot is free"),
            std::string::npos);
}

TEST_F(Callbacks, QuietHoursAreKeptInTheCustomersOwnTimeZone) {
  const int64_t six_ny = day_at(3, 11);    // 06:00 New York, 12:00 Madrid
  const int64_t seven_ny = day_at(3, 12);  // 07:00 New York
  ASSERT_EQ(capacity({slot_json(six_ny, 15, 5), slot_json(seven_ny, 15, 5)}).status, 200);
  add_customer("C-ny");
  add_customer("C-madrid", "Europe/Madrid");
  auto ny = request("C-ny");
  ASSERT_EQ(ny.status, 201) << ny.body;
  EXPECT_EQ(json_at(ny.body, "promisedAt"), rfc3339(seven_ny));
  auto madrid = request("C-madrid");
  ASSERT_EQ(madrid.status, 201) << madrid.body;
  EXPECT_EQ(json_at(madrid.body, "promisedAt"), rfc3339(six_ny));
  // The customer is told the time on their own clock.
  EXPECT_NE(sms_to("C-ny", "7:00 AM"), "");
}

TEST_F(Callbacks, ADaylightSavingChangeMovesTheQuietWindow) {
  // 11:00Z is 06:00 EST on 13 March 2027 (quiet) and 07:00 EDT on 14 March.
  const int64_t before = 1804935600;  // 2027-03-13T11:00:00Z
  const int64_t after = 1805022000;   // 2027-03-14T11:00:00Z
  ASSERT_EQ(rfc3339(before), "2027-03-13T11:00:00Z");
  ASSERT_EQ(rfc3339(after), "2027-03-14T11:00:00Z");
  ASSERT_EQ(capacity({slot_json(before, 15, 3), slot_json(after, 15, 3)}).status, 200);
  add_customer("C-dst");
  auto r = request("C-dst");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(json_at(r.body, "promisedAt"), "2027-03-14T11:00:00Z");
}

TEST_F(Callbacks, ACapacityCutMovesTheLatestBookingAndTellsThatCustomer) {
  const int64_t a = day_at(4, 17);
  const int64_t b = day_at(4, 17, 15);
  ASSERT_EQ(capacity({slot_json(a, 15, 2), slot_json(b, 15, 2)}).status, 200);
  add_customer("C-cut-1");
  add_customer("C-cut-2", "America/New_York", R"("quietHours":{"start":"22:00","end":"07:00"})",
               "es");
  add_customer("C-cut-3");
  auto first = request("C-cut-1");
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto second = request("C-cut-2");
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto third = request("C-cut-3");
  ASSERT_EQ(third.status, 201) << third.body;
  EXPECT_EQ(json_at(third.body, "promisedAt"), rfc3339(b));
  const std::string moved_id = json_at(second.body, "id").value_or("?");

  auto cut = capacity({slot_json(a, 15, 1), slot_json(b, 15, 2)});
  ASSERT_EQ(cut.status, 200) << cut.body;
  EXPECT_EQ(json_at(cut.body, "moved[0]"), moved_id);
  EXPECT_EQ(json_at(cut.body, "moved[1]"), std::nullopt);
  EXPECT_EQ(json_at(cut.body, "slots[0].booked"), "1");
  EXPECT_EQ(json_at(cut.body, "slots[1].booked"), "2");
  auto moved = agent("GET", "/v1/callbacks/" + moved_id);
  EXPECT_EQ(json_at(moved.body, "promisedAt"), rfc3339(b));
  EXPECT_EQ(json_at(moved.body, "moves"), "1");
  EXPECT_EQ(json_at(agent("GET", "/v1/callbacks/" + *json_at(first.body, "id")).body,
                    "promisedAt"),
            rfc3339(a));
  // The moved customer is told the new time in Spanish and local time (12:15 in New York).
  EXPECT_NE(sms_to("C-cut-2", "nuevo horario"), "");
  EXPECT_NE(sms_to("C-cut-2", "12:15"), "");

  // A slot cut to no agents: its bookings move on, or wait for capacity if none is free.
  auto gone = capacity({slot_json(a, 15, 0), slot_json(b, 15, 2)});
  ASSERT_EQ(gone.status, 200) << gone.body;
  EXPECT_EQ(json_at(gone.body, "unplaced[0]"), *json_at(first.body, "id"));
  EXPECT_EQ(json_at(agent("GET", "/v1/callbacks/" + *json_at(first.body, "id")).body, "status"),
            "REQUESTED");
  // ... and that customer learns the promised time no longer holds.
  EXPECT_NE(sms_to("C-cut-1", "no longer call you at the time we gave you"), "");
  ASSERT_EQ(capacity({slot_json(b, 15, 2), slot_json(b + 900, 15, 1)}).status, 200);
  EXPECT_EQ(json_at(agent("GET", "/v1/callbacks/" + *json_at(first.body, "id")).body,
                    "promisedAt"),
            rfc3339(b + 900));
}

TEST_F(Callbacks, ARequestTiedToAnOutageIsBookedWhenItIsRestored) {
  ASSERT_EQ(capacity({slot_json(day_at(2, 18), 15, 3)}).status, 200);
  add_customer("C-dark");
  auto ev = as(heraldd_->operator_key(), "POST", "/v1/events",
               R"({"id":"OUT-cb-1","kind":"OUTAGE","stage":"DETECTED","severity":"ADVISORY",)"
               R"("area":{"feeders":["F-none"]},"cause":"storm"})");
  ASSERT_EQ(ev.status, 202) << ev.body;
  auto r = request("C-dark", R"(,"eventId":"OUT-cb-1","whenRestored":true)");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(json_at(r.body, "status"), "REQUESTED");
  const std::string id = *json_at(r.body, "id");
  // Asked again meanwhile: the same request comes back.
  auto again = request("C-dark", R"(,"eventId":"OUT-cb-1","whenRestored":true)");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(json_at(again.body, "id"), id);

  auto restored = as(heraldd_->operator_key(), "POST", "/v1/events/OUT-cb-1/updates",
                     R"({"stage":"RESTORED"})");
  ASSERT_EQ(restored.status, 202) << restored.body;
  auto booked = wait_status(id, "BOOKED");
  EXPECT_EQ(json_at(booked.body, "status"), "BOOKED") << booked.body;
  EXPECT_EQ(json_at(booked.body, "promisedAt"), rfc3339(day_at(2, 18)));
  EXPECT_NE(sms_to("C-dark", "We will call you"), "");
}

TEST_F(Callbacks, ACallReplyOnTheQueueIsBooked) {
  ASSERT_EQ(capacity({slot_json(day_at(2, 19), 15, 3)}).status, 200);
  add_customer("C-sms");
  ASSERT_NO_FATAL_FAILURE(reply_call("C-sms"));
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  HttpResponse list;
  do {
    list = agent("GET", "/v1/callbacks?status=BOOKED");
    if (json_at(list.body, "callbacks[0].callback.customerId")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (Clock::now() < deadline);
  EXPECT_EQ(json_at(list.body, "callbacks[0].callback.customerId"), "C-sms") << list.body;
  EXPECT_EQ(json_at(list.body, "callbacks[0].callback.source"), "sms");
  EXPECT_EQ(json_at(list.body, "callbacks[0].customerPhone"), "+12014316859");
  EXPECT_EQ(json_at(list.body, "callbacks[0].customerName"), "Ada Lovelace");
}

// The agents' list shows the customer's own last messages, read from a journey stream shared
// with the customers numbered next to it, however many entries the neighbours added since.
TEST_F(Callbacks, TheListShowsTheCustomersOwnLastMessages) {
  ASSERT_EQ(capacity({slot_json(day_at(2, 18), 15, 3)}).status, 200);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back("C-last-" + std::to_string(i));
    add_customer(ids.back());
  }
  // Of three customers numbered one after another, two share a journey bucket.
  std::string mine, neighbour;
  for (size_t i = 0; i + 1 < ids.size() && mine.empty(); ++i) {
    if (store::journey_key(customer_number(ids[i])) ==
        store::journey_key(customer_number(ids[i + 1]))) {
      mine = ids[i];
      neighbour = ids[i + 1];
    }
  }
  ASSERT_FALSE(mine.empty());
  auto sent = [](const std::string& detail) {
    v1::Touchpoint tp;
    tp.set_kind(v1::SEND);
    tp.set_event_id("OUT-LAST");
    tp.set_channel(v1::SMS);
    tp.set_status("sent");
    tp.set_detail(detail);
    *tp.mutable_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(now_s());
    return tp;
  };
  // The neighbour's 300 messages since push the customer's out of the bucket's latest 200
  // entries: the list reads further back for them.
  redis::Batch writes;
  store::append_touchpoint(writes, customer_number(mine), sent("ETR 6:00 PM"));
  for (int i = 0; i < 300; ++i) {
    store::append_touchpoint(writes, customer_number(neighbour), sent("ETR 9:00 PM"));
  }
  auto conn = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(conn->pipeline(writes).ok());
  ASSERT_EQ(request(mine).status, 201);
  auto list = agent("GET", "/v1/callbacks?status=BOOKED");
  ASSERT_EQ(json_at(list.body, "callbacks[0].callback.customerId"), mine) << list.body;
  EXPECT_EQ(json_at(list.body, "callbacks[0].lastMessages[0].detail"), "ETR 6:00 PM") << list.body;
  EXPECT_FALSE(json_at(list.body, "callbacks[0].lastMessages[1].detail")) << list.body;
  EXPECT_EQ(list.body.find("9:00 PM"), std::string::npos) << list.body;
}

// A CALL reply when every agent is booked waits for capacity, and the customer is told so,
// then told the time once capacity appears.
TEST_F(Callbacks, ACallReplyWithNoFreeSlotWaitsAndTellsTheCustomer) {
  add_customer("C-full");
  ASSERT_NO_FATAL_FAILURE(reply_call("C-full"));
  const std::string told = sms_to("C-full", "We have your callback request");
  EXPECT_NE(told.find("Every agent is booked"), std::string::npos) << told;
  auto list = agent("GET", "/v1/callbacks?status=REQUESTED");
  EXPECT_EQ(json_at(list.body, "callbacks[0].callback.customerId"), "C-full") << list.body;
  ASSERT_EQ(capacity({slot_json(day_at(2, 19), 15, 1)}).status, 200);
  EXPECT_NE(sms_to("C-full", "We will call you"), "");
}

TEST_F(Callbacks, ACancelCallReplyCancelsTheOpenCallbackAndTellsTheCustomer) {
  const int64_t slot = day_at(2, 18);
  ASSERT_EQ(capacity({slot_json(slot, 15, 1)}).status, 200);
  add_customer("C-sms-cancel");
  const uint64_t n = customer_number("C-sms-cancel");
  auto booked = request("C-sms-cancel");
  ASSERT_EQ(booked.status, 201) << booked.body;
  const std::string id = *json_at(booked.body, "id");
  // What the inbound side files for the reply CANCEL CALL.
  auto conn = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
  ASSERT_TRUE(conn->command(redis::cmd("XADD", "cbq", "*", "n", std::to_string(n), "op", "cancel",
                                       "at", std::to_string(now_s() * 1000)))
                  .ok());
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  HttpResponse got;
  do {
    got = agent("GET", "/v1/callbacks/" + id);
    if (json_at(got.body, "status") == "CANCELED") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (Clock::now() < deadline);
  EXPECT_EQ(json_at(got.body, "status"), "CANCELED") << got.body;
  EXPECT_EQ(booked_in(slot), 0) << "the place is free again";
  EXPECT_NE(sms_to("C-sms-cancel", "canceled"), "");
}

TEST_F(Callbacks, OutcomesAreRecordedAndReportedOnTime) {
  // A slot starting two minutes from now can be called on time within the test.
  const int64_t soon = (now_s() / 60 + 2) * 60;
  const int64_t later = day_at(5, 17);
  ASSERT_EQ(capacity({slot_json(soon, 15, 1), slot_json(later, 15, 5)}).status, 200);
  add_customer("C-on-time", "Etc/UTC", "");
  add_customer("C-no-answer");
  add_customer("C-resched");
  auto on_time = request("C-on-time");
  ASSERT_EQ(on_time.status, 201) << on_time.body;
  EXPECT_EQ(json_at(on_time.body, "promisedAt"), rfc3339(soon));
  auto no_answer = request("C-no-answer");
  auto resched = request("C-resched");
  ASSERT_EQ(resched.status, 201) << resched.body;
  const std::string id1 = *json_at(on_time.body, "id");
  const std::string id2 = *json_at(no_answer.body, "id");
  const std::string id3 = *json_at(resched.body, "id");

  auto r = agent("POST", "/v1/callbacks/" + id1 + "/outcome",
                 R"({"result":"COMPLETED","at":")" + rfc3339(soon + 60) + R"("})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_at(r.body, "callback.status"), "COMPLETED");
  r = agent("POST", "/v1/callbacks/" + id2 + "/outcome", R"({"result":"NO_ANSWER"})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = agent("POST", "/v1/callbacks/" + id3 + "/outcome", R"({"result":"RESCHEDULED"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_at(r.body, "rescheduled.status"), "BOOKED");
  EXPECT_EQ(json_at(r.body, "rescheduled.rescheduledFrom"), id3);
  EXPECT_EQ(json_at(r.body, "callback.rescheduledTo"), json_at(r.body, "rescheduled.id"));

  // A finished callback takes no second outcome.
  r = agent("POST", "/v1/callbacks/" + id1 + "/outcome", R"({"result":"NO_ANSWER"})");
  EXPECT_EQ(r.status, 409) << r.body;

  auto report = as(heraldd_->analyst_key(), "GET",
                   "/v1/reports/callbacks?since=" + rfc3339(now_s() - 3600) +
                       "&until=" + rfc3339(now_s() + 3600));
  ASSERT_EQ(report.status, 200) << report.body;
  EXPECT_EQ(json_at(report.body, "calls"), "3");
  EXPECT_EQ(json_at(report.body, "completed"), "1");
  EXPECT_EQ(json_at(report.body, "noAnswer"), "1");
  EXPECT_EQ(json_at(report.body, "rescheduled"), "1");
  EXPECT_EQ(json_at(report.body, "onTime"), "1");
  EXPECT_NEAR(std::stod(json_at(report.body, "onTimeShare").value_or("0")), 1.0 / 3, 1e-6);

  // The agents' list is in call order and pages.
  auto page = agent("GET", "/v1/callbacks?status=NO_ANSWER&limit=1");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(json_at(page.body, "callbacks[0].callback.id"), id2);
}

TEST_F(Callbacks, CancellingFreesThePlaceAndTellsTheCustomer) {
  const int64_t slot = day_at(2, 20);
  ASSERT_EQ(capacity({slot_json(slot, 15, 1)}).status, 200);
  add_customer("C-cancel-1");
  add_customer("C-cancel-2");
  auto first = request("C-cancel-1");
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(request("C-cancel-2").status, 409);
  const std::string id = *json_at(first.body, "id");
  auto token = token_for("C-cancel-1");
  auto canceled = as(token, "DELETE", "/v1/callbacks/" + id);
  ASSERT_EQ(canceled.status, 200) << canceled.body;
  EXPECT_EQ(json_at(canceled.body, "status"), "CANCELED");
  EXPECT_EQ(booked_in(slot), 0);
  auto second = request("C-cancel-2");
  ASSERT_EQ(second.status, 201) << second.body;
  EXPECT_EQ(json_at(second.body, "promisedAt"), rfc3339(slot));
  // Canceling twice is a conflict; the other route cancels too.
  EXPECT_EQ(agent("POST", "/v1/callbacks/" + id + "/cancel").status, 409);
  EXPECT_EQ(agent("POST", "/v1/callbacks/" + *json_at(second.body, "id") + "/cancel").status, 200);
  EXPECT_NE(sms_to("C-cancel-1", "canceled"), "");
}

TEST_F(Callbacks, ACustomerTokenReachesOnlyItsOwnCallbacks) {
  ASSERT_EQ(capacity({slot_json(day_at(2, 21), 15, 5)}).status, 200);
  add_customer("C-own");
  add_customer("C-other");
  auto other = request("C-other");
  ASSERT_EQ(other.status, 201) << other.body;
  const std::string other_id = *json_at(other.body, "id");
  const std::string token = token_for("C-own");

  auto mine = as(token, "POST", "/v1/callbacks", R"({"reason":"my bill"})");
  ASSERT_EQ(mine.status, 201) << mine.body;
  EXPECT_EQ(json_at(mine.body, "customerId"), "C-own");
  EXPECT_EQ(json_at(mine.body, "source"), "customer");
  auto again = as(token, "POST", "/v1/callbacks", R"({"reason":"my bill"})");
  EXPECT_EQ(again.status, 200);  // the open callback, not a second one
  EXPECT_EQ(json_at(again.body, "id"), json_at(mine.body, "id"));
  EXPECT_EQ(as(token, "GET", "/v1/callbacks/" + *json_at(mine.body, "id")).status, 200);

  EXPECT_EQ(as(token, "POST", "/v1/callbacks", request_json("C-other")).status, 403);
  EXPECT_EQ(as(token, "GET", "/v1/callbacks/" + other_id).status, 403);
  EXPECT_EQ(as(token, "DELETE", "/v1/callbacks/" + other_id).status, 403);
  EXPECT_EQ(as(token, "GET", "/v1/callbacks").status, 403);
  EXPECT_EQ(as(token, "POST", "/v1/callbacks/" + other_id + "/outcome",
               R"({"result":"COMPLETED"})")
                .status,
            403);
  EXPECT_EQ(json_at(agent("GET", "/v1/callbacks/" + other_id).body, "status"), "BOOKED");
}

TEST_F(Callbacks, BadInputIsAClear4xx) {
  auto r = capacity({slot_json(day_at(2, 17), 2, 1)});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json_at(r.body, "error.field"), "slots[0].minutes");
  r = agent("PUT", "/v1/callback-capacity", R"({"slots":[{"start":"tomorrow","minutes":15}]})");
  EXPECT_EQ(r.status, 400);
  r = agent("PUT", "/v1/callback-capacity", R"({"slots":[{"minutes":15,"agents":1}]})");
  EXPECT_EQ(json_at(r.body, "error.field"), "slots[0].start");
  add_customer("C-bad");
  r = agent("POST", "/v1/callbacks", R"({"customerId":"C-bad"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json_at(r.body, "error.field"), "reason");
  r = request("C-bad", R"(,"whenRestored":true)");
  EXPECT_EQ(json_at(r.body, "error.field"), "whenRestored");
  r = request("C-nobody");
  EXPECT_EQ(r.status, 404);
  r = request("C-bad", R"(,"eventId":"OUT-nothing")");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json_at(r.body, "error.field"), "eventId");
  EXPECT_EQ(agent("GET", "/v1/callbacks?status=LOST").status, 400);
  EXPECT_EQ(agent("GET", "/v1/callbacks?from=yesterday").status, 400);
  EXPECT_EQ(agent("GET", "/v1/callbacks?limit=0").status, 400);
  EXPECT_EQ(agent("GET", "/v1/callbacks/cb-missing").status, 404);
  r = agent("POST", "/v1/callbacks/cb-missing/outcome", R"({"result":"BOOKED"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json_at(r.body, "error.field"), "result");
  EXPECT_EQ(agent("POST", "/v1/callbacks/cb-missing/outcome", R"({"result":"COMPLETED"})").status,
            404);
  EXPECT_EQ(http_->request("GET", "/v1/callbacks", "", {}).status, 401);
  EXPECT_EQ(as(heraldd_->operator_key(), "PUT", "/v1/callback-capacity",
               capacity_json({slot_json(day_at(2, 17), 15, 1)}))
                .status,
            403);
  EXPECT_EQ(as(heraldd_->analyst_key(), "GET", "/v1/callbacks").status, 403);
  EXPECT_EQ(as(heraldd_->analyst_key(), "GET", "/v1/reports/callbacks").status, 200);
  EXPECT_EQ(agent("GET", "/v1/reports/callbacks?since=2026-12-01T00:00:00Z&until=2026-11-01T00:00:00Z")
                .status,
            400);
}

}  // namespace
}  // namespace herald::testing
