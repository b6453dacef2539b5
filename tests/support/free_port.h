#pragma once

namespace herald::testing {

// A TCP port on 127.0.0.1 that was free a moment ago: bound to port 0, read back, closed.
// Another process may take it before the caller binds; callers retry on a clash.
int free_port();

}  // namespace herald::testing
