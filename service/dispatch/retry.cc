#include "service/dispatch/retry.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "channels/channel.h"
#include "service/dispatch/queue.h"

namespace herald::dispatch {
namespace {

using std::chrono::milliseconds;
using google::protobuf::util::TimeUtil;

SysClock::time_point time_of(const google::protobuf::Timestamp& ts) {
  return SysClock::time_point(std::chrono::duration_cast<SysClock::duration>(
      std::chrono::milliseconds(TimeUtil::TimestampToMilliseconds(ts))));
}

}  // namespace

milliseconds backoff(const RetryPolicy& p, uint32_t attempt, milliseconds retry_after,
                     std::mt19937_64& rng) {
  // Doubling stops at the cap long before 2^attempt could overflow.
  int64_t ceiling = std::max<int64_t>(0, p.base.count());
  for (uint32_t i = 0; i < attempt && ceiling < p.cap.count(); ++i) ceiling *= 2;
  ceiling = std::min<int64_t>(ceiling, p.cap.count());
  std::uniform_int_distribution<int64_t> jitter(0, std::max<int64_t>(0, ceiling));
  return std::max(milliseconds(jitter(rng)), retry_after);
}

SysClock::time_point deadline(const v1::OutboundMessage& m, const RetryPolicy& p) {
  auto last = SysClock::time_point::max();
  if (m.has_valid_until()) last = time_of(m.valid_until());
  const google::protobuf::Timestamp* start = m.has_queued_at()          ? &m.queued_at()
                                             : m.has_first_attempt_at() ? &m.first_attempt_at()
                                                                        : nullptr;
  if (start != nullptr) last = std::min(last, time_of(*start) + p.max_age);
  return last;
}

NextAttempt next_attempt(const v1::OutboundMessage& m, const RetryPolicy& p,
                         milliseconds retry_after, SysClock::time_point now,
                         std::mt19937_64& rng) {
  NextAttempt next;
  if (m.attempt() + 1 >= p.max_attempts) {
    next.kind = NextAttempt::Kind::kExhausted;
    return next;
  }
  next.delay = backoff(p, m.attempt(), retry_after, rng);
  if (now + next.delay > deadline(m, p)) {
    next.kind = NextAttempt::Kind::kExpired;
    return next;
  }
  next.message = m;
  next.message.set_attempt(m.attempt() + 1);
  if (!m.has_first_attempt_at()) {
    *next.message.mutable_first_attempt_at() = TimeUtil::MillisecondsToTimestamp(unix_ms(now));
  }
  return next;
}

int64_t unix_ms(SysClock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

std::string retry_key(v1::Channel channel, v1::Priority priority) {
  const int number = priority == v1::PRIORITY_UNSPECIFIED ? static_cast<int>(v1::PRIORITY_NORMAL)
                                                          : static_cast<int>(priority);
  return fmt::format("rt:{}:{}", channels::channel_key(channel), number);
}

redis::Command move_due_command(v1::Channel channel, int64_t now_ms, size_t limit) {
  // KEYS: the retry sets, then the streams, in kPriorities order. ARGV: now, limit, the
  // message field, messages per entry.
  static constexpr std::string_view kScript = R"lua(
local half = #KEYS / 2
local per = tonumber(ARGV[4])
local moved = 0
for i = 1, half do
  local due = redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
  for at = 1, #due, per do
    local fields = {}
    for k = at, math.min(at + per - 1, #due) do
      fields[#fields + 1] = ARGV[3]
      fields[#fields + 1] = due[k]
    end
    redis.call('XADD', KEYS[half + i], '*', unpack(fields))
  end
  for at = 1, #due, 1000 do
    redis.call('ZREM', KEYS[i], unpack(due, at, math.min(at + 999, #due)))
  end
  moved = moved + #due
end
return moved)lua";
  redis::Command c = redis::cmd("EVAL", kScript, std::to_string(2 * std::size(kPriorities)));
  for (auto p : kPriorities) c.push_back(retry_key(channel, p));
  for (auto p : kPriorities) c.push_back(stream_key(channel, p));
  c.push_back(std::to_string(now_ms));
  c.push_back(std::to_string(limit));
  c.push_back(std::string(kField));
  c.push_back(std::to_string(kMessagesPerEntry));
  return c;
}

}  // namespace herald::dispatch
