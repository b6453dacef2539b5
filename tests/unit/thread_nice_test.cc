#include "service/common/thread_nice.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/support/thread_caps.h"

namespace herald {
namespace {

using testing::drop_sys_nice;
using testing::has_sys_nice;
using testing::nice_limit_allows_zero;

// Runs `body` in a thread of its own, so the nice value and capabilities it changes are lost
// with that thread and the test runner's threads keep theirs.
template <typename F>
void in_own_thread(F body) {
  std::thread t(body);
  t.join();
}

TEST(ThreadNice, EachThreadHasItsOwnNiceValue) {
  const int before = ThreadNice::of_this_thread();
  in_own_thread([] {
    EXPECT_EQ(ThreadNice::set_this_thread(7), 0);
    EXPECT_EQ(ThreadNice::of_this_thread(), 7);
  });
  EXPECT_EQ(ThreadNice::of_this_thread(), before) << "another thread's nice value leaked here";
}

TEST(ThreadNice, TheProbeTellsWhetherAThreadCanReturnToZero) {
  // Without CAP_SYS_NICE a thread may lower its nice value to 20 - RLIMIT_NICE at most.
  const bool by_limit = nice_limit_allows_zero();
  in_own_thread([&] {
    ASSERT_TRUE(drop_sys_nice());
    EXPECT_EQ(ThreadNice::can_be_restored(5), by_limit);
    EXPECT_EQ(ThreadNice::of_this_thread(), 0) << "the probe's thread took its nice value along";
    if (!by_limit) {
      ASSERT_EQ(ThreadNice::set_this_thread(5), 0) << "raising is always allowed";
      EXPECT_NE(ThreadNice::set_this_thread(0), 0) << "the probe said no, and so does the kernel";
    }
  });
}

TEST(ThreadNice, AThreadAlreadyAboveTheValueNeedsNoRightToStayThere) {
  in_own_thread([] {
    ASSERT_TRUE(drop_sys_nice());
    ASSERT_EQ(ThreadNice::set_this_thread(7), 0);  // as `nice -n 7 heraldd`
    EXPECT_TRUE(ThreadNice::can_be_restored(5))
        << "a lane started at 7 plans bulk batches at 7 and never has to come back down";
  });
}

TEST(ThreadNice, WithTheCapabilityAThreadReturnsToZero) {
  if (!has_sys_nice()) GTEST_SKIP() << "this process has no CAP_SYS_NICE";
  EXPECT_TRUE(ThreadNice::can_be_restored(19));
  in_own_thread([] {
    ASSERT_EQ(ThreadNice::set_this_thread(19), 0);
    EXPECT_EQ(ThreadNice::set_this_thread(0), 0);
    EXPECT_EQ(ThreadNice::of_this_thread(), 0);
  });
}

}  // namespace
}  // namespace herald
