#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "service/fanout/reminder.h"
#include "tests/support/fanout_fixture.h"

namespace herald::testing {
namespace {

using std::chrono::seconds;
using SysClock = std::chrono::system_clock;

std::string customer(const std::string& id, const std::string& maintenance_channels) {
  return R"({"name":"Grace Hopper","phone":"+12014316859","email":"grace@example.net",)"
         R"("timeZone":"America/New_York","language":"en","premises":[{"id":"P-)" +
         id + R"(","address":"7 Harbor Rd","feeder":"F-9","zip":"10009"}],)"
         R"("preferences":{"channels":{"OUTAGE":["SMS"],"PLANNED_MAINTENANCE":)" +
         maintenance_channels + R"(},"cadence":"MILESTONES"}})";
}

// Maintenance on feeder F-9 whose reminder (lead 1 minute) falls due `due_in` from now.
std::string maintenance(const std::string& id, seconds due_in) {
  const auto start = SysClock::now() + std::chrono::minutes(1) + due_in;
  return R"({"id":")" + id +
         R"(","kind":"PLANNED_MAINTENANCE","stage":"SCHEDULED","severity":"ADVISORY",)"
         R"("area":{"feeders":["F-9"]},"cause":"transformer replacement","windowStart":")" +
         rfc3339(start) + R"(","windowEnd":")" + rfc3339(start + std::chrono::hours(2)) + R"("})";
}

class Reminder : public FanoutFixture {
 protected:
  void SetUp() override {
    start({{"HERALD_REMINDER_LEAD_MIN", "1"}});
    put("C-A", customer("A", R"(["EMAIL"])"));
    put("C-B", customer("B", R"(["EMAIL","SMS"])"));
    put("C-N", customer("N", "[]"));
  }
  long long revisions(const std::string& id) {
    auto conn = redis_connection();
    return conn.command(redis::cmd("LLEN", "evr:{" + id + "}"))->integer;
  }
  bool scheduled(const std::string& id) {
    auto conn = redis_connection();
    return !conn.command(redis::cmd("ZSCORE", fanout::kRemindKey, id))->is_nil();
  }
};

TEST_F(Reminder, SentOnceAfterACrashBeforeItWasDue) {
  post_event("/v1/events", maintenance("MNT-1", seconds(8)));
  ASSERT_TRUE(wait_until([&] { return lines_for("email.jsonl", "C-B").size() == 1; }, seconds(10)))
      << heraldd().log();
  ASSERT_TRUE(scheduled("MNT-1")) << "the reminder is kept in Redis";

  heraldd().kill();
  heraldd().restart();
  ASSERT_TRUE(wait_until(
      [&] {
        return lines_for("email.jsonl", "C-A").size() == 2 &&
               lines_for("email.jsonl", "C-B").size() == 2 &&
               lines_for("sms.jsonl", "C-B").size() == 2;
      },
      seconds(25)))
      << heraldd().log();
  std::this_thread::sleep_for(seconds(2));

  EXPECT_EQ(revisions("MNT-1"), 2) << "one REMINDER revision";
  EXPECT_FALSE(scheduled("MNT-1"));
  auto view = http().request("GET", "/v1/events/MNT-1", "", bearer(heraldd().analyst_key()));
  EXPECT_NE(view.body.find(R"("stage":"REMINDER")"), std::string::npos) << view.body;
  for (const char* id : {"C-A", "C-B"}) {
    const auto mail = lines_for("email.jsonl", id);
    ASSERT_EQ(mail.size(), 2u) << id << ": the advance notice and one reminder";
    EXPECT_NE(mail[1].find(R"("revision":2)"), std::string::npos) << mail[1];
  }
  EXPECT_EQ(lines_for("sms.jsonl", "C-B").size(), 2u);
  EXPECT_TRUE(lines_for("email.jsonl", "C-N").empty()) << "not opted in to maintenance";
}

TEST_F(Reminder, TwoProcessesRaiseItOnceAndCancellationWithdrawsIt) {
  HeralddProcess& second = start_another(scratch("sandbox-2"));
  post_event("/v1/events", maintenance("MNT-2", seconds(4)));
  post_event("/v1/events", maintenance("MNT-3", seconds(600)));
  ASSERT_TRUE(wait_until([&] { return scheduled("MNT-3"); }, seconds(10))) << heraldd().log();
  post_event("/v1/events/MNT-3/updates", R"({"stage":"CANCELLED"})");

  ASSERT_TRUE(wait_until([&] { return revisions("MNT-2") == 2; }, seconds(20))) << second.log();
  std::this_thread::sleep_for(seconds(3));
  EXPECT_EQ(revisions("MNT-2"), 2) << "exactly one REMINDER revision from two processes";
  EXPECT_FALSE(scheduled("MNT-2"));
  EXPECT_FALSE(scheduled("MNT-3")) << "a cancelled maintenance has no reminder";
  EXPECT_EQ(revisions("MNT-3"), 2) << "SCHEDULED and CANCELLED only";
  // Each reminder message went out from one process or the other, once.
  auto reminders = [&](const std::filesystem::path& file) {
    int n = 0;
    for (const auto& line : lines(file)) {
      if (line.find(R"("eventId":"MNT-2")") != std::string::npos &&
          line.find(R"("revision":2)") != std::string::npos) {
        ++n;
      }
    }
    return n;
  };
  ASSERT_TRUE(wait_until(
      [&] {
        return reminders(sandbox() / "email.jsonl") +
                   reminders(scratch("sandbox-2") / "email.jsonl") ==
               2;
      },
      seconds(10)))
      << reminders(sandbox() / "email.jsonl") << " + "
      << reminders(scratch("sandbox-2") / "email.jsonl") << " reminders; "
      << http().request("GET", "/v1/events/MNT-2", "", bearer(heraldd().analyst_key())).body;
}

}  // namespace
}  // namespace herald::testing
