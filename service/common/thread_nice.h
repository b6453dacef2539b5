#pragma once

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

}  // namespace herald
