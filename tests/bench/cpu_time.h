#pragma once

#include <sys/resource.h>

namespace herald::bench {

// CPU seconds this process has used so far, user and system, over all its threads.
inline double self_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace herald::bench
