#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "service/common/result.h"
#include "service/redis/connection.h"
#include "service/redis/reply.h"

// Rate and concurrency budgets per provider and sender, held in Redis so that every heraldd
// process spends the same budget. Redis TIME is the clock: processes on different hosts agree.
namespace herald::dispatch {

std::string rate_key(std::string_view budget_key);   // rb:{<budget key>}
std::string calls_key(std::string_view budget_key);  // cc:{<budget key>}

struct Grant {
  int64_t granted = 0;
  std::chrono::milliseconds wait{0};  // when short of what was asked: until the next token
};

// A token bucket refilled at `rate_per_s` up to one second's worth. Takes up to `n` whole
// tokens; a negative `n` gives tokens back (capped at the bucket's size). Replies [granted, wait].
redis::Command take_tokens_command(std::string_view budget_key, int rate_per_s, int64_t n);
Result<Grant> parse_grant(Result<redis::Reply> reply);

// Admits, in order, the calls of `message_ids` while fewer than `max_calls` hold a slot; a slot
// lapses `ceiling` after it was taken. Replies how many of the ids were admitted.
redis::Command take_call_slots_command(std::string_view budget_key, int max_calls,
                                      std::chrono::seconds ceiling,
                                      std::span<const std::string> message_ids);

// Frees a call's slot: when its final status arrives, or when it was never placed.
redis::Command release_call_command(std::string_view budget_key, std::string_view message_id);

// One channel's budgets over a connection its caller owns (a dispatcher thread's).
class Budget {
 public:
  Budget(std::string budget_key, int rate_per_s, int max_calls, std::chrono::seconds ceiling)
      : key_(std::move(budget_key)),
        rate_(key_.empty() ? 0 : rate_per_s),
        max_calls_(key_.empty() ? 0 : max_calls),
        ceiling_(ceiling) {}

  bool rate_limited() const { return rate_ > 0; }
  bool calls_limited() const { return max_calls_ > 0; }
  const std::string& key() const { return key_; }

  Result<Grant> take(redis::Connection& conn, int64_t n);
  Status give_back(redis::Connection& conn, int64_t n);
  Result<int64_t> take_calls(redis::Connection& conn, std::span<const std::string> message_ids);
  redis::Command release_call(std::string_view message_id) const {
    return release_call_command(key_, message_id);
  }

 private:
  std::string key_;
  int rate_;
  int max_calls_;
  std::chrono::seconds ceiling_;
};

}  // namespace herald::dispatch
