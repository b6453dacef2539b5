#include "service/journey/record.h"

#include <google/protobuf/util/time_util.h>

#include "service/store/touchpoints.h"

namespace herald::journey {

void append_preference_change(redis::Batch& out, uint64_t num, std::string detail,
                              std::string by, int64_t now_ms) {
  v1::Touchpoint tp;
  tp.set_kind(v1::PREFERENCE_CHANGE);
  *tp.mutable_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(now_ms);
  tp.set_status(std::move(by));
  tp.set_detail(std::move(detail));
  store::append_touchpoint(out, num, tp);
}

}  // namespace herald::journey
