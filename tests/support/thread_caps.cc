#include "tests/support/thread_caps.h"

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace herald::testing {
namespace {

constexpr unsigned kWord = CAP_SYS_NICE / 32;
constexpr unsigned kBit = 1u << (CAP_SYS_NICE % 32);

bool read_caps(__user_cap_header_struct& header, __user_cap_data_struct* data) {
  header = {_LINUX_CAPABILITY_VERSION_3, 0};
  return ::syscall(SYS_capget, &header, data) == 0;
}

}  // namespace

bool drop_sys_nice() {
  __user_cap_header_struct header{};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (!read_caps(header, data)) return false;
  data[kWord].effective &= ~kBit;
  return ::syscall(SYS_capset, &header, data) == 0;
}

bool has_sys_nice() {
  __user_cap_header_struct header{};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  return read_caps(header, data) && (data[kWord].effective & kBit) != 0;
}

bool nice_limit_allows_zero() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NICE, &limit) != 0) return false;
  return limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= 20;
}

}  // namespace herald::testing
