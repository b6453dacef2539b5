#include "service/fanout/reminder.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "herald/v1/store.pb.h"
#include "service/events/event_store.h"
#include "service/fanout/ledger.h"

namespace herald::fanout {
namespace {

using google::protobuf::util::TimeUtil;

int64_t ms_of(Time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Time time_of(const google::protobuf::Timestamp& t) {
  return Time(std::chrono::milliseconds(TimeUtil::TimestampToMilliseconds(t)));
}

// One due member: raise it, move it, or drop it. True when a REMINDER revision landed.
Result<bool> raise_one(redis::Connection& conn, const std::string& id, std::chrono::minutes lead,
                       Time now) {
  auto drop = [&](std::string_view why) -> Result<bool> {
    spdlog::info("reminder for {} not sent: {}", id, why);
    auto r = check_reply(conn.command(redis::cmd("ZREM", kRemindKey, id)));
    if (!r.ok()) return std::move(r).take_error();
    return false;
  };
  auto got = check_reply(conn.command(redis::cmd("GET", events::event_key(id))));
  if (!got.ok()) return std::move(got).take_error();
  v1::EventState state;
  if (got->is_nil() || !state.ParseFromString(got->str)) return drop("the event is not stored");
  const v1::Event& e = state.event();
  if (e.stage() != v1::SCHEDULED) return drop("the maintenance is no longer scheduled");
  if (!e.has_window_start() || time_of(e.window_start()) <= now) {
    return drop("its window already started");
  }
  const auto due = reminder_due(e, lead);
  if (!due) return drop("the window is closer than the reminder lead");
  if (*due > now) {
    // A reschedule not planned yet: follow the current window.
    auto r = check_reply(
        conn.command(redis::cmd("ZADD", kRemindKey, std::to_string(ms_of(*due)), id)));
    if (!r.ok()) return std::move(r).take_error();
    return false;
  }
  auto raised = events::raise_stage(conn, state, v1::REMINDER, ms_of(now));
  if (!raised.ok()) {
    if (raised.error().code == ErrorCode::kUnavailable || conn.broken()) {
      return std::move(raised).take_error();
    }
    return drop(raised.error().message);
  }
  // Another revision (or another process's reminder) landed first: decide again next round.
  if (!raised->has_value()) return false;
  spdlog::info("reminder for {} raised as revision {}", id, (*raised)->revision());
  auto r = check_reply(conn.command(redis::cmd("ZREM", kRemindKey, id)));
  if (!r.ok()) return std::move(r).take_error();
  return true;
}

}  // namespace

std::optional<Time> reminder_due(const v1::Event& current, std::chrono::minutes lead) {
  if (current.kind() != v1::PLANNED_MAINTENANCE || current.stage() != v1::SCHEDULED ||
      !current.has_window_start()) {
    return std::nullopt;
  }
  const Time due = time_of(current.window_start()) - lead;
  if (current.has_accepted_at() && due <= time_of(current.accepted_at())) return std::nullopt;
  return due;
}

std::optional<redis::Command> reminder_command(const v1::Event& current,
                                               std::chrono::minutes lead) {
  if (current.kind() != v1::PLANNED_MAINTENANCE) return std::nullopt;
  if (auto due = reminder_due(current, lead)) {
    return redis::cmd("ZADD", kRemindKey, std::to_string(ms_of(*due)), current.id());
  }
  return redis::cmd("ZREM", kRemindKey, current.id());
}

Result<int> raise_due_reminders(redis::Connection& conn, std::chrono::minutes lead, Time now,
                                size_t max) {
  auto due = check_reply(conn.command(redis::cmd("ZRANGEBYSCORE", kRemindKey, "-inf",
                                                 std::to_string(ms_of(now)), "LIMIT", "0",
                                                 std::to_string(max))));
  if (!due.ok()) return std::move(due).take_error();
  int raised = 0;
  for (const auto& member : due->elements) {
    auto one = raise_one(conn, member.str, lead, now);
    if (!one.ok()) return std::move(one).take_error();
    raised += *one ? 1 : 0;
  }
  return raised;
}

}  // namespace herald::fanout
