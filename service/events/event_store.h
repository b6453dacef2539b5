#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "herald/v1/event.pb.h"
#include "service/common/net.h"
#include "service/common/priority_gate.h"
#include "service/common/result.h"
#include "service/redis/connection.h"
#include "service/redis/pool.h"

namespace herald::events {

// Key layout (docs/architecture.md, "Events in Redis"); braces are literal, as in cid:{h}.
std::string event_key(std::string_view id);         // ev:{id}      EventState bytes
std::string revisions_key(std::string_view id);     // evr:{id}     list of Event bytes
std::string idempotency_key(std::string_view key);  // idem:{key}  sha256 hex + EventAccepted
inline constexpr std::string_view kActiveKey = "ev:active";  // zset of ids by creation ms
inline constexpr std::string_view kIntakeKey = "intake";     // stream: event, revision
inline constexpr int kIdempotencyTtlS = 24 * 3600;

struct EventRecord {
  v1::EventState state;
  std::vector<v1::Event> revisions;  // oldest first; revisions[i].revision() == i + 1
};

// Where an accepted revision lands, and whether it was an idempotent replay.
struct Acceptance {
  v1::EventAccepted accepted;
  bool replayed = false;  // the same Idempotency-Key and body came before: the first answer
};

// Events in Redis. Every accepted revision is one Lua script run that compare-and-sets the
// revision count and writes state, revision, ev:active, the intake entry and the idempotency
// answer together: with AOF, a returned Acceptance is durable. Callers validate first.
class EventStore {
 public:
  explicit EventStore(redis::Pool& pool) : pool_(pool) {}
  // Long enough for an idle lane to take the intake entry under load (its own pass then holds
  // the bulk work back), short enough that a refused or replayed revision costs little.
  static constexpr std::chrono::milliseconds kAcceptHold{25};
  // Before an EMERGENCY revision is written, holds `gate` for `hold` (hold_until), so this
  // process's bulk work pauses while a planner lane picks the revision up and takes its pass.
  void hold_for_urgent(PriorityGate* gate, std::chrono::milliseconds hold = kAcceptHold) {
    gate_ = gate;
    hold_ = hold;
  }

  // kConflict when the id exists, or when `idem_key` (may be empty) came with another body.
  // body_hash is the SHA-256 hex of the request as the caller defines it.
  awaitable<Result<Acceptance>> create(v1::Event event, std::string idem_key, std::string body_hash,
                                       int64_t now_ms);
  // Reads the state, checks the stage machine, merges, writes unless another revision landed
  // meanwhile (then again). kNotFound, kConflict (stage, key), or validate_merged's error.
  awaitable<Result<Acceptance>> update(std::string id, v1::EventUpdate update, std::string idem_key,
                                       std::string body_hash, int64_t now_ms);
  awaitable<Result<std::optional<EventRecord>>> get(std::string id);
  // Active events, most recently created first.
  awaitable<Result<std::vector<v1::EventState>>> list_active(int limit);

 private:
  awaitable<Result<std::optional<Acceptance>>> replay(const std::string& idem_key,
                                                      const std::string& body_hash);
  awaitable<Result<std::optional<Acceptance>>> write(const v1::EventState& state, uint32_t expected,
                                                     std::string idem_key, std::string body_hash,
                                                     int64_t created_ms);

  redis::Pool& pool_;
  PriorityGate* gate_ = nullptr;
  std::chrono::milliseconds hold_{0};
};

// Herald's own revision of an event (a maintenance REMINDER), for a worker thread with a
// blocking connection: the stage machine and the same script as an API update, so it lands
// only if `current` is still the event's latest revision. nullopt when another revision (or
// another process's identical attempt) landed first: re-read and decide again.
Result<std::optional<v1::EventAccepted>> raise_stage(redis::Connection& conn,
                                                     const v1::EventState& current,
                                                     v1::Stage stage, int64_t now_ms);

}  // namespace herald::events
