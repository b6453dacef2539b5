#include "service/common/thread_nice.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

namespace herald {
namespace {

id_t this_thread_id() { return static_cast<id_t>(::syscall(SYS_gettid)); }

}  // namespace

int ThreadNice::set_this_thread(int value) {
  return ::setpriority(PRIO_PROCESS, this_thread_id(), value) == 0 ? 0 : errno;
}

int ThreadNice::of_this_thread() {
  errno = 0;  // -1 is a valid nice value
  return ::getpriority(PRIO_PROCESS, this_thread_id());
}

int NiceSteps::step(bool bulk, std::atomic<int>& raised) {
  const int want = bulk ? std::max(base_, raised.load(std::memory_order_relaxed)) : base_;
  if (want == now_) return 0;
  if (const int err = ThreadNice::set_this_thread(want); err != 0) {
    raised = 0;
    return err;
  }
  now_ = want;
  return 0;
}

bool ThreadNice::can_be_restored(int value) {
  bool restored = false;
  std::thread probe([&] {
    const int before = of_this_thread();
    // A thread already above `value` stays where it is (a lane never steps below its base).
    if (set_this_thread(std::max(before, value)) == 0) restored = set_this_thread(before) == 0;
  });
  probe.join();
  return restored;
}

}  // namespace herald
