#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include "herald/v1/message.pb.h"
#include "service/redis/reply.h"

// When a message that asked for a retry goes again, or whether it is given up; pure but for the
// Redis commands at the end, which keep scheduled retries in sorted sets by due time.
namespace herald::dispatch {

using SysClock = std::chrono::system_clock;

struct RetryPolicy {
  std::chrono::milliseconds base{1000};     // the first retry waits up to this
  std::chrono::milliseconds cap{300'000};   // no backoff is longer (Retry-After may be)
  uint32_t max_attempts = 6;                // sends per message, the first included
  std::chrono::seconds max_age{3600};       // from queued_at: older messages are expired
};

// Full jitter: uniform in [0, min(cap, base * 2^attempt)], raised to `retry_after` when that is
// longer. `attempt` counts the sends already tried before the one that failed (0 on the first).
std::chrono::milliseconds backoff(const RetryPolicy& p, uint32_t attempt,
                                  std::chrono::milliseconds retry_after, std::mt19937_64& rng);

// The last moment the message may be sent: the earlier of valid_until (when set) and
// queued_at (else first_attempt_at, else never) plus max_age.
SysClock::time_point deadline(const v1::OutboundMessage& m, const RetryPolicy& p);

struct NextAttempt {
  enum class Kind { kRetry, kExhausted, kExpired };
  Kind kind = Kind::kRetry;
  std::chrono::milliseconds delay{0};  // kRetry: from now
  v1::OutboundMessage message;         // kRetry: the message as its next attempt
};

// What follows a kRetry result of a send of `m` made at `now`.
NextAttempt next_attempt(const v1::OutboundMessage& m, const RetryPolicy& p,
                         std::chrono::milliseconds retry_after, SysClock::time_point now,
                         std::mt19937_64& rng);

int64_t unix_ms(SysClock::time_point t);

// "rt:<channel>:<priority number>": members are OutboundMessage bytes, scores due unix ms.
std::string retry_key(v1::Channel channel, v1::Priority priority);

// Moves up to `limit` retries of the channel due by `now_ms` back onto their streams (XADD,
// up to kMessagesPerEntry to an entry; ZREM) in one script, so a crash leaves each in the set
// or in the stream. Replies the count.
redis::Command move_due_command(v1::Channel channel, int64_t now_ms, size_t limit);

}  // namespace herald::dispatch
