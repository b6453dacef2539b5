#pragma once

#include <atomic>

namespace herald {

// The nice value of the calling thread. On Linux each thread has its own, so one thread of
// heraldd can step back for bulk work while the others keep their share of the cores.
//
// Raising a thread's nice value is always allowed; lowering it again needs CAP_SYS_NICE or an
// RLIMIT_NICE of at least 20 - value (systemd: LimitNICE=+0). A thread that may step back
// must know it can return first: see can_be_restored().
class ThreadNice {
 public:
  // 0 on success, else the errno of setpriority().
  static int set_this_thread(int value);
  static int of_this_thread();
  // Whether a thread started by the caller that raised its nice value to `value` (or kept a
  // higher one it started with) could return to the value it started with. Tried in a
  // throwaway thread, whose nice value is lost with it.
  static bool can_be_restored(int value);
};

// One thread's steps between the nice value it had when this was made (on that thread) and a
// raised one for bulk work, as the planner's lanes and the sending threads take them.
class NiceSteps {
 public:
  NiceSteps() : base_(ThreadNice::of_this_thread()), now_(base_) {}
  // bulk: up to `raised` (never below the base); else back to the base. `raised` is shared by
  // the threads of one component: a refused change sets it to 0, so none of them steps back
  // again. Returns the refusal's errno, 0 when the thread is where it was asked to be.
  int step(bool bulk, std::atomic<int>& raised);

 private:
  int base_;
  int now_;
};

}  // namespace herald
