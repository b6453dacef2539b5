#include "service/store/touchpoints.h"

#include <fmt/format.h>

namespace herald::store {

std::string touchpoint_key(uint64_t num) { return fmt::format("tp:{{{:x}}}", num / 64); }

void append_touchpoint(redis::Batch& out, uint64_t num, const v1::Touchpoint& tp) {
  out.push_back(redis::cmd("XADD", touchpoint_key(num), "*", "c", std::to_string(num), "t",
                    tp.SerializeAsString()));
}

}  // namespace herald::store
