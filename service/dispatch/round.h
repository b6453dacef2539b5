#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "channels/channel.h"
#include "service/core/crypto.h"
#include "service/dispatch/budget.h"
#include "service/dispatch/queue.h"
#include "service/dispatch/retry.h"
#include "service/redis/connection.h"

// One dispatcher round over the entries it took (every message of each): drop what must not go,
// send the rest in slices of send_batch messages, each slice's guards written before the next,
// then settle everything in one transaction.
namespace herald::dispatch {

struct RoundContext {
  redis::Connection& conn;
  const core::Sealer& sealer;
  channels::Channel& channel;
  Budget& budget;
  const RetryPolicy& retry;
  std::mt19937_64& rng;
  size_t send_batch = 0;  // most messages in one send_batch (0: the whole round)
};

// What a round came to, by funnel outcome ("sent", "retried", "failed", "expired", "stale").
struct Tally {
  std::map<std::string, uint64_t> outcomes;
  uint64_t malformed = 0;  // entry parts holding no message, settled and dropped
  uint64_t guarded = 0;    // settled as sent from their guard, without a send
  uint64_t fallbacks = 0;  // next channels handed to the planner
  uint64_t put_back = 0;  // past the rate budget or voice calls not admitted, back in the retry set
};

// An Error means Redis failed before everything was settled: the caller drops the connection
// and whatever was not acked is claimed again after the idle timeout (sent ones hold a guard).
// `entries` are every part of the stream entries the round took. `tokens` is what the rate
// budget granted for them: messages past it go back to the retry set, due after its `wait`,
// and tokens left unused are given back.
Result<Tally> run_round(RoundContext& ctx, const std::vector<Entry>& entries,
                        SysClock::time_point now, const Grant& tokens);

// "sge:{<stream>:<entry id>}": the sent guards of one dispatch entry, a hash of the provider's
// id of each of its messages that was sent, by message id; expires after max_age_s. One key,
// one HSET and one EXPIRE for the messages of an entry that one send_batch sent.
std::string guard_key(const Entry& entry);
// "sg:{<message id>}": a sent guard as an earlier release wrote it, a string per message; still
// read, never written.
std::string legacy_guard_key(std::string_view message_id);

}  // namespace herald::dispatch
