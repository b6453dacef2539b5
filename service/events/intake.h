#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "service/common/result.h"
#include "service/redis/connection.h"
#include "service/redis/reply.h"

// Housekeeping of the intake stream, for whichever worker consumes it: trimming what every
// consumer group has finished with, a dead-letter stream for entries that can never be
// handled, and removing consumers of processes long gone. Blocking: worker threads only.
namespace herald::events {

// Stream of what could not be handled: fields source ("intake" / "deferred"), item (the intake
// entry id and its fields, or the deferred member) and reason. Capped at about 10,000 entries.
inline constexpr std::string_view kIntakeDeadKey = "intake:dead";

// XADD of one dead letter, for a caller's pipeline or transaction.
redis::Command dead_letter_command(std::string_view source, std::string_view item,
                                   std::string_view reason);

// Deletes the intake entries every consumer group of the stream has read and acknowledged:
// those older than each group's last-delivered id and its oldest pending entry. One script,
// so a group created or an entry delivered meanwhile cannot be trimmed under it. Nothing is
// trimmed while the stream has no group. Returns the number of entries deleted.
Result<long long> trim_intake(redis::Connection& conn);

// Deletes consumers of `group` on `stream` that have no pending entries and have not read for
// longer than `idle` (processes that exited: planner names carry the PID), checked and deleted
// in one script so an entry is never dropped with its consumer. Returns how many went.
Result<long long> prune_consumers(redis::Connection& conn, std::string_view stream,
                                  std::string_view group, std::chrono::milliseconds idle);

}  // namespace herald::events
