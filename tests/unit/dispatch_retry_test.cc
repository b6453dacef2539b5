#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <set>

#include "service/dispatch/retry.h"

namespace herald::dispatch {
namespace {

using google::protobuf::util::TimeUtil;
using std::chrono::milliseconds;
using std::chrono::seconds;

RetryPolicy policy() {
  RetryPolicy p;
  p.base = milliseconds(1000);
  p.cap = milliseconds(30'000);
  p.max_attempts = 5;
  p.max_age = seconds(600);
  return p;
}

SysClock::time_point at(int64_t unix_s) { return SysClock::time_point(seconds(unix_s)); }

v1::OutboundMessage queued_at(int64_t unix_s) {
  v1::OutboundMessage m;
  m.set_id("ev:1:sms:7");
  *m.mutable_queued_at() = TimeUtil::SecondsToTimestamp(unix_s);
  return m;
}

TEST(DispatchBackoff, StaysWithinTheDoublingCeilingAndTheCap) {
  std::mt19937_64 rng(7);
  const RetryPolicy p = policy();
  for (uint32_t attempt = 0; attempt < 40; ++attempt) {
    const int64_t ceiling = std::min<int64_t>(30'000, 1000LL << std::min(attempt, 20u));
    milliseconds longest{0};
    for (int i = 0; i < 2000; ++i) {
      auto d = backoff(p, attempt, milliseconds(0), rng);
      ASSERT_GE(d.count(), 0);
      ASSERT_LE(d.count(), ceiling) << "attempt " << attempt;
      longest = std::max(longest, d);
    }
    // Full jitter reaches close to the ceiling, so retries do not bunch at the low end.
    EXPECT_GT(longest.count(), ceiling * 9 / 10) << "attempt " << attempt;
  }
}

TEST(DispatchBackoff, IsJitteredSoRetriesDoNotMarchInStep) {
  std::mt19937_64 rng(1);
  std::set<int64_t> seen;
  for (int i = 0; i < 100; ++i) seen.insert(backoff(policy(), 3, milliseconds(0), rng).count());
  EXPECT_GT(seen.size(), 90u);
}

TEST(DispatchBackoff, HonoursALongerRetryAfter) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200; ++i) {
    EXPECT_GE(backoff(policy(), 0, milliseconds(45'000), rng), milliseconds(45'000))
        << "Retry-After beyond the cap still wins";
  }
  // A short Retry-After is a floor, not a ceiling.
  int over = 0;
  for (int i = 0; i < 200; ++i) over += backoff(policy(), 4, milliseconds(10), rng) > milliseconds(10);
  EXPECT_GT(over, 150);
}

TEST(DispatchRetry, NextAttemptCarriesTheCountAndTheFirstAttemptTime) {
  std::mt19937_64 rng(5);
  auto m = queued_at(1'000);
  auto next = next_attempt(m, policy(), milliseconds(0), at(1'010), rng);
  ASSERT_EQ(next.kind, NextAttempt::Kind::kRetry);
  EXPECT_EQ(next.message.attempt(), 1u);
  EXPECT_EQ(TimeUtil::TimestampToSeconds(next.message.first_attempt_at()), 1'010);
  auto again = next_attempt(next.message, policy(), milliseconds(0), at(1'020), rng);
  ASSERT_EQ(again.kind, NextAttempt::Kind::kRetry);
  EXPECT_EQ(again.message.attempt(), 2u);
  EXPECT_EQ(TimeUtil::TimestampToSeconds(again.message.first_attempt_at()), 1'010)
      << "the first attempt's time is kept";
}

TEST(DispatchRetry, GivesUpAfterMaxAttempts) {
  std::mt19937_64 rng(5);
  auto m = queued_at(1'000);
  m.set_attempt(3);
  EXPECT_EQ(next_attempt(m, policy(), milliseconds(0), at(1'001), rng).kind,
            NextAttempt::Kind::kRetry);
  m.set_attempt(4);  // the fifth send just failed
  EXPECT_EQ(next_attempt(m, policy(), milliseconds(0), at(1'001), rng).kind,
            NextAttempt::Kind::kExhausted);
}

TEST(DispatchRetry, ExpiresWhenTheNextAttemptWouldBeTooOld) {
  std::mt19937_64 rng(5);
  auto m = queued_at(1'000);
  // Retry-After of two minutes, eleven minutes after queueing: past max_age (10 minutes).
  EXPECT_EQ(next_attempt(m, policy(), milliseconds(120'000), at(1'540), rng).kind,
            NextAttempt::Kind::kExpired);
  m.mutable_valid_until()->set_seconds(1'100);  // valid_until is earlier than max_age
  EXPECT_EQ(next_attempt(m, policy(), milliseconds(50'000), at(1'060), rng).kind,
            NextAttempt::Kind::kExpired);
  EXPECT_EQ(next_attempt(m, policy(), milliseconds(10'000), at(1'060), rng).kind,
            NextAttempt::Kind::kRetry);
}

TEST(DispatchRetry, DeadlineIsTheEarlierOfValidUntilAndMaxAge) {
  auto m = queued_at(1'000);
  EXPECT_EQ(deadline(m, policy()), at(1'600));
  m.mutable_valid_until()->set_seconds(1'200);
  EXPECT_EQ(deadline(m, policy()), at(1'200));
  v1::OutboundMessage bare;
  EXPECT_EQ(deadline(bare, policy()), SysClock::time_point::max());
}

TEST(DispatchRetry, KeysNameChannelAndPriority) {
  EXPECT_EQ(retry_key(v1::SMS, v1::PRIORITY_EMERGENCY), "rt:sms:1");
  EXPECT_EQ(retry_key(v1::VOICE, v1::PRIORITY_UNSPECIFIED), "rt:voice:3");
}

}  // namespace
}  // namespace herald::dispatch
