#include "service/core/timezone.h"

#include <gtest/gtest.h>

namespace herald::core {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::system_clock;

// A UTC instant: date at hh:mm UTC.
system_clock::time_point utc(date::year_month_day day, int hh, int mm = 0) {
  return date::sys_days{day} + hours{hh} + minutes{mm};
}

constexpr int kMin(int hh, int mm) { return hh * 60 + mm; }

class TimeZoneTest : public ::testing::Test {
 protected:
  const date::time_zone* ny_ = find_zone("America/New_York");
  const date::time_zone* madrid_ = find_zone("Europe/Madrid");
};

TEST_F(TimeZoneTest, FindsIanaZonesAndRejectsOthers) {
  ASSERT_NE(ny_, nullptr);
  ASSERT_NE(madrid_, nullptr);
  EXPECT_EQ(ny_->name(), "America/New_York");
  EXPECT_NE(find_zone("UTC"), nullptr);
  EXPECT_EQ(find_zone("Mars/Base"), nullptr);
  EXPECT_EQ(find_zone("america/new_york"), nullptr);
  EXPECT_EQ(find_zone(""), nullptr);
  EXPECT_EQ(find_zone("localtime"), nullptr);
  EXPECT_EQ(find_zone("America/New_York/"), nullptr);
}

TEST_F(TimeZoneTest, LocalMinuteOfDayFollowsTheZoneOffset) {
  using namespace date::literals;
  // 23:00 UTC in January is 18:00 EST; in July 19:00 EDT.
  EXPECT_EQ(local_minute_of_day(ny_, utc(2026_y / 1 / 15, 23)), kMin(18, 0));
  EXPECT_EQ(local_minute_of_day(ny_, utc(2026_y / 7 / 15, 23, 45)), kMin(19, 45));
  EXPECT_EQ(local_minute_of_day(madrid_, utc(2026_y / 7 / 15, 23, 45)), kMin(1, 45));
}

TEST_F(TimeZoneTest, QuietHoursWithinOneDay) {
  using namespace date::literals;
  const int start = kMin(13, 0), end = kMin(15, 0);
  EXPECT_FALSE(in_quiet_hours(ny_, utc(2026_y / 1 / 15, 17, 59), start, end));  // 12:59 EST
  EXPECT_TRUE(in_quiet_hours(ny_, utc(2026_y / 1 / 15, 18, 0), start, end));    // 13:00
  EXPECT_TRUE(in_quiet_hours(ny_, utc(2026_y / 1 / 15, 19, 59), start, end));   // 14:59
  EXPECT_FALSE(in_quiet_hours(ny_, utc(2026_y / 1 / 15, 20, 0), start, end));   // 15:00
}

TEST_F(TimeZoneTest, QuietHoursWrapMidnight) {
  using namespace date::literals;
  const int start = kMin(21, 0), end = kMin(7, 0);
  EXPECT_TRUE(in_quiet_hours(ny_, utc(2026_y / 1 / 16, 2), start, end));       // 21:00 EST
  EXPECT_TRUE(in_quiet_hours(ny_, utc(2026_y / 1 / 16, 5), start, end));       // 00:00
  EXPECT_TRUE(in_quiet_hours(ny_, utc(2026_y / 1 / 16, 11, 59), start, end));  // 06:59
  EXPECT_FALSE(in_quiet_hours(ny_, utc(2026_y / 1 / 16, 12), start, end));     // 07:00
  EXPECT_FALSE(in_quiet_hours(ny_, utc(2026_y / 1 / 16, 1, 59), start, end));  // 20:59
}

TEST_F(TimeZoneTest, EqualBoundsAreAnEmptyWindow) {
  using namespace date::literals;
  EXPECT_FALSE(in_quiet_hours(ny_, utc(2026_y / 1 / 16, 5), kMin(0, 0), kMin(0, 0)));
}

TEST_F(TimeZoneTest, QuietHoursEndIsNowOutsideTheWindow) {
  using namespace date::literals;
  const auto t = utc(2026_y / 1 / 15, 17);  // 12:00 EST
  EXPECT_EQ(quiet_hours_end(ny_, t, kMin(21, 0), kMin(7, 0)), t);
}

TEST_F(TimeZoneTest, QuietHoursEndOnTheSameAndNextLocalDay) {
  using namespace date::literals;
  // 22:30 EST on Jan 15 -> 07:00 EST on Jan 16 = 12:00 UTC.
  EXPECT_EQ(quiet_hours_end(ny_, utc(2026_y / 1 / 16, 3, 30), kMin(21, 0), kMin(7, 0)),
            utc(2026_y / 1 / 16, 12));
  // 05:00 EST on Jan 16, after midnight -> the same morning.
  EXPECT_EQ(quiet_hours_end(ny_, utc(2026_y / 1 / 16, 10), kMin(21, 0), kMin(7, 0)),
            utc(2026_y / 1 / 16, 12));
  EXPECT_EQ(quiet_hours_end(ny_, utc(2026_y / 1 / 15, 18, 30), kMin(13, 0), kMin(15, 0)),
            utc(2026_y / 1 / 15, 20));
}

TEST_F(TimeZoneTest, QuietHoursEndAcrossSpringForwardUsesTheNewOffset) {
  using namespace date::literals;
  // 2026-03-08: 02:00 EST jumps to 03:00 EDT at 07:00 UTC. 23:00 EST the evening before is
  // 04:00 UTC; quiet hours ending 07:00 local end at 07:00 EDT = 11:00 UTC.
  EXPECT_EQ(quiet_hours_end(ny_, utc(2026_y / 3 / 8, 4), kMin(21, 0), kMin(7, 0)),
            utc(2026_y / 3 / 8, 11));
}

TEST_F(TimeZoneTest, QuietHoursEndingInsideTheSpringForwardGap) {
  using namespace date::literals;
  // 02:30 does not exist on 2026-03-08: quiet hours end at 03:00 EDT = 07:00 UTC.
  const auto end = quiet_hours_end(ny_, utc(2026_y / 3 / 8, 6), kMin(22, 0), kMin(2, 30));
  EXPECT_EQ(end, utc(2026_y / 3 / 8, 7));
  EXPECT_EQ(local_minute_of_day(ny_, end), kMin(3, 0));
  EXPECT_FALSE(in_quiet_hours(ny_, end, kMin(22, 0), kMin(2, 30)));
  EXPECT_TRUE(in_quiet_hours(ny_, end - std::chrono::seconds{1}, kMin(22, 0), kMin(2, 30)));
}

TEST_F(TimeZoneTest, QuietHoursEndingInsideTheFallBackOverlap) {
  using namespace date::literals;
  // 2026-11-01: 02:00 EDT falls back to 01:00 EST at 06:00 UTC, so 01:30 happens at 05:30 UTC
  // (EDT) and again at 06:30 UTC (EST). From the evening before, the first one ends them.
  EXPECT_EQ(quiet_hours_end(ny_, utc(2026_y / 11 / 1, 3), kMin(22, 0), kMin(1, 30)),
            utc(2026_y / 11 / 1, 5, 30));
  // During the repeated hour (01:10 EST) the local clock is back inside the window: the second
  // 01:30 ends it.
  const auto repeated = utc(2026_y / 11 / 1, 6, 10);
  EXPECT_TRUE(in_quiet_hours(ny_, repeated, kMin(22, 0), kMin(1, 30)));
  EXPECT_EQ(quiet_hours_end(ny_, repeated, kMin(22, 0), kMin(1, 30)), utc(2026_y / 11 / 1, 6, 30));
}

TEST_F(TimeZoneTest, QuietHoursEndingAfterTheFallBack) {
  using namespace date::literals;
  // 02:30 exists once on 2026-11-01, in EST: 07:30 UTC. The night is an hour longer.
  const auto start = utc(2026_y / 11 / 1, 3);  // 23:00 EDT
  const auto end = quiet_hours_end(ny_, start, kMin(22, 0), kMin(2, 30));
  EXPECT_EQ(end, utc(2026_y / 11 / 1, 7, 30));
  EXPECT_EQ(end - start, hours{4} + minutes{30});
}

TEST_F(TimeZoneTest, FormatsLocalTimeInEnglish) {
  using namespace date::literals;
  EXPECT_EQ(format_local_time(ny_, utc(2026_y / 11 / 23, 23), "en"), "6:00 PM");
  EXPECT_EQ(format_local_time(ny_, utc(2026_y / 11 / 23, 5, 5), "en"), "12:05 AM");
  EXPECT_EQ(format_local_time(ny_, utc(2026_y / 11 / 23, 17, 30), "en"), "12:30 PM");
  EXPECT_EQ(format_local_time(ny_, utc(2026_y / 11 / 23, 14, 7), "en"), "9:07 AM");
  EXPECT_EQ(format_local_time(ny_, utc(2026_y / 11 / 23, 23), "fr"), "6:00 PM");
}

TEST_F(TimeZoneTest, FormatsLocalTimeInSpanish) {
  using namespace date::literals;
  EXPECT_EQ(format_local_time(ny_, utc(2026_y / 11 / 23, 23), "es"), "18:00");
  EXPECT_EQ(format_local_time(ny_, utc(2026_y / 11 / 23, 14, 7), "es"), "09:07");
  EXPECT_EQ(format_local_time(madrid_, utc(2026_y / 7 / 1, 22, 30), "es"), "00:30");
}

TEST_F(TimeZoneTest, FormatsLocalDateTime) {
  using namespace date::literals;
  EXPECT_EQ(format_local_datetime(ny_, utc(2026_y / 11 / 23, 23), "en"), "Mon Nov 23, 6:00 PM");
  EXPECT_EQ(format_local_datetime(ny_, utc(2026_y / 11 / 23, 23), "es"), "lun 23 nov, 18:00");
  // 02:30 UTC on Nov 24 is still Nov 23 in New York.
  EXPECT_EQ(format_local_datetime(ny_, utc(2026_y / 11 / 24, 2, 30), "en"), "Mon Nov 23, 9:30 PM");
  EXPECT_EQ(format_local_datetime(madrid_, utc(2026_y / 9 / 5, 16, 0), "es"), "sáb 5 sept, 18:00");
  EXPECT_EQ(format_local_datetime(madrid_, utc(2026_y / 4 / 1, 8, 0), "es"), "mié 1 abr, 10:00");
}

}  // namespace
}  // namespace herald::core
