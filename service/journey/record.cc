#include "service/journey/record.h"

#include <google/protobuf/util/time_util.h>

#include "service/store/touchpoints.h"

namespace herald::journey {

awaitable<Status> record_preference_change(redis::Pool& pool, uint64_t num, std::string detail,
                                           std::string by, int64_t now_ms) {
  if (num == 0) co_return ok_status();
  v1::Touchpoint tp;
  tp.set_kind(v1::PREFERENCE_CHANGE);
  *tp.mutable_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(now_ms);
  tp.set_status(std::move(by));
  tp.set_detail(std::move(detail));
  redis::Batch writes;
  store::append_touchpoint(writes, num, tp);
  auto done = co_await pool.exec(std::move(writes));
  if (!done.ok()) co_return std::move(done).take_error();
  co_return ok_status();
}

}  // namespace herald::journey
