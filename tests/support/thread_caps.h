#pragma once

namespace herald::testing {

// Capabilities are per thread on Linux, and a thread passes its own to the threads it starts.
// Drops CAP_SYS_NICE from the calling thread's effective set (a no-op for a process without
// it); false if the kernel refused.
bool drop_sys_nice();
bool has_sys_nice();
// Whether a thread without CAP_SYS_NICE may return from nice 19 to 0 (RLIMIT_NICE of 20 or
// more, or unlimited).
bool nice_limit_allows_zero();

}  // namespace herald::testing
