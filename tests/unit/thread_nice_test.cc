#include "service/common/thread_nice.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

namespace herald {
namespace {

// Runs `body` in a thread of its own, so the nice values and capabilities it changes are lost
// with that thread and the test runner's threads keep theirs.
template <typename F>
void in_own_thread(F body) {
  std::thread t(body);
  t.join();
}

// Drops CAP_SYS_NICE from the calling thread's effective set (capabilities are per thread on
// Linux); a no-op for a process that never had it.
void drop_sys_nice() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  ASSERT_EQ(::syscall(SYS_capget, &header, data), 0);
  data[CAP_SYS_NICE / 32].effective &= ~(1u << (CAP_SYS_NICE % 32));
  ASSERT_EQ(::syscall(SYS_capset, &header, data), 0);
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
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NICE, &limit), 0);
  // Without CAP_SYS_NICE a thread may lower its nice value to 20 - RLIMIT_NICE at most, so it
  // returns from 5 to 0 only with an RLIMIT_NICE of 20 or more.
  const bool by_limit = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= 20;
  in_own_thread([&] {
    drop_sys_nice();
    EXPECT_EQ(ThreadNice::can_be_restored(5), by_limit);
    // The probe's thread took the nice value with it.
    EXPECT_EQ(ThreadNice::of_this_thread(), 0);
    if (!by_limit) {
      ASSERT_EQ(ThreadNice::set_this_thread(5), 0) << "raising is always allowed";
      EXPECT_NE(ThreadNice::set_this_thread(0), 0) << "the probe said no, and so does the kernel";
    }
  });
}

TEST(ThreadNice, WithTheCapabilityAThreadReturnsToZero) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  ASSERT_EQ(::syscall(SYS_capget, &header, data), 0);
  if (!(data[CAP_SYS_NICE / 32].effective & (1u << (CAP_SYS_NICE % 32)))) {
    GTEST_SKIP() << "this process has no CAP_SYS_NICE";
  }
  EXPECT_TRUE(ThreadNice::can_be_restored(19));
  in_own_thread([] {
    ASSERT_EQ(ThreadNice::set_this_thread(19), 0);
    EXPECT_EQ(ThreadNice::set_this_thread(0), 0);
    EXPECT_EQ(ThreadNice::of_this_thread(), 0);
  });
}

}  // namespace
}  // namespace herald
