#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "herald/v1/event.pb.h"
#include "service/common/result.h"
#include "service/fanout/cadence.h"
#include "service/redis/connection.h"
#include "service/redis/reply.h"

// Herald's own REMINDER for planned maintenance: a member of the `remind` sorted set (event id,
// scored by when the reminder is due, in ms) kept in step with the event's current state
// whenever one of its revisions is planned, and raised when due as a REMINDER revision through
// the event store's compare-and-set, so it is planned, rendered and sent like any revision.
namespace herald::fanout {

inline constexpr std::string_view kRemindKey = "remind";

// When the reminder of `current` falls due: `lead` before its window starts, for maintenance
// still SCHEDULED whose window starts later than `lead` after the revision was accepted (else
// the advance notice itself was the reminder). nullopt when no reminder is owed.
std::optional<Time> reminder_due(const v1::Event& current, std::chrono::minutes lead);

// The ZADD (schedule or move) or ZREM (cancelled, started, reminded, window too close) that
// brings `remind` in step with the event's current state; nullopt for other kinds.
std::optional<redis::Command> reminder_command(const v1::Event& current,
                                               std::chrono::minutes lead);

// Raises the reminders due at `now` (at most `max`): each becomes a REMINDER revision unless the
// event moved on (cancelled, started, rescheduled) or its window already started, in which
// case it is dropped and logged. Two processes raising one reminder race on the revision's
// compare-and-set: one lands, the other finds the event no longer SCHEDULED. Returns how many
// reminder revisions this call accepted.
Result<int> raise_due_reminders(redis::Connection& conn, std::chrono::minutes lead, Time now,
                                size_t max);

}  // namespace herald::fanout
