#pragma once

#include <pthread.h>

#include <string>
#include <string_view>

namespace herald {

// Names the calling thread for `top -H`, perf and /proc/<pid>/task/<tid>/comm (Linux keeps 15
// characters). Header-only, so the channels library can use it without the service.
inline void name_this_thread(std::string_view name) {
  const std::string shortened(name.substr(0, 15));
  pthread_setname_np(pthread_self(), shortened.c_str());
}

}  // namespace herald
