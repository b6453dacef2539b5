#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "herald/v1/callback.pb.h"
#include "herald/v1/customer.pb.h"
#include "service/callbacks/slots.h"
#include "service/common/net.h"
#include "service/common/result.h"
#include "service/redis/pool.h"
#include "service/store/customer_store.h"

// The contact centre's callback desk: requests, bookings, capacity, outcomes, the agents' list
// and the report. Every write is one run of the callback script (keys.h); the outbox entry it
// appends is what tells the customer and records the touchpoint (worker.h). Stateless apart
// from its references: the API and the worker each hold one.
namespace herald::callbacks {

struct DeskOptions {
  int horizon_days = 14;  // how far ahead a booking may be promised
};

struct Requested {
  v1::Callback callback;
  bool existing = false;  // the customer's open callback, returned instead of a second one
};

struct ListQuery {
  v1::Callback::Status status = v1::Callback::BOOKED;
  int64_t from_ms = 0;
  int64_t to_ms = INT64_MAX;
  size_t limit = 50;
  size_t offset = 0;  // from the page token
};

class Desk {
 public:
  Desk(redis::Pool& pool, store::CustomerStore& customers, DeskOptions options,
       std::function<int64_t()> now_ms)
      : pool_(pool), customers_(customers), options_(options), now_ms_(std::move(now_ms)) {}

  // Books the earliest acceptable slot, or parks the request until the event is restored.
  // 404 unknown customer or event; 409 when no slot is free in the horizon, unless
  // `park_when_full` (an SMS reply cannot be answered 409): it then waits for capacity.
  awaitable<Result<Requested>> request(v1::CallbackRequest request, std::string source,
                                       bool park_when_full = false);
  awaitable<Result<std::optional<v1::Callback>>> get(std::string id);
  // 409 unless REQUESTED or BOOKED.
  awaitable<Result<v1::Callback>> cancel(std::string id);
  // 409 unless BOOKED; RESCHEDULED books a new callback (parked when no slot is free).
  awaitable<Result<v1::CallbackOutcomeResult>> record_outcome(std::string id,
                                                              v1::CallbackOutcome outcome);
  awaitable<Result<v1::CallbackCapacity>> put_capacity(v1::CallbackCapacity body);
  awaitable<Result<v1::CallbackCapacity>> capacity(int64_t from_s, int64_t to_s);
  awaitable<Result<v1::CallbackList>> list(ListQuery query);
  awaitable<Result<v1::CallbackSummary>> summary(int64_t since_ms, int64_t until_ms);

  // Books a waiting (REQUESTED) or moved callback; false when no slot was free (it then waits
  // in cb:{cb}:later for capacity).
  awaitable<Result<bool>> rebook(std::string id);
  // Books the callbacks waiting for `event_id` once it is no longer active; returns how many.
  awaitable<Result<int>> event_changed(std::string event_id);
  // Rebooks what a capacity cut left in cb:{cb}:moved and, with `later`, what waits for
  // capacity. Returns how many were booked.
  awaitable<Result<int>> sweep(bool later);

  int64_t now_ms() const { return now_ms_(); }

 private:
  struct Party {
    v1::Customer customer;
    uint64_t num = 0;
  };
  struct Stored {
    v1::Callback callback;
    std::string bytes;
  };
  struct Booking {
    char outcome = 'F';  // B booked, E existing, F full, X changed meanwhile
    std::string detail;  // B: slot start; E: the existing id
  };
  struct Plan;  // one script run's arguments (desk.cc)

  awaitable<Result<std::optional<Party>>> party(std::string customer_id);
  awaitable<Result<std::optional<Stored>>> load(std::string id);
  awaitable<Result<std::vector<Slot>>> read_slots(int64_t from_s, int64_t to_s);
  awaitable<Result<Booking>> book(Plan plan, v1::Callback base, CustomerHours hours,
                                  int64_t not_before_s);
  awaitable<Result<Booking>> run(const Plan& plan);
  awaitable<Result<Requested>> create(v1::CallbackRequest request, std::string source,
                                      int64_t not_before_s, std::string rescheduled_from,
                                      bool park_when_full);
  awaitable<Result<Requested>> existing(std::string id);

  redis::Pool& pool_;
  store::CustomerStore& customers_;
  DeskOptions options_;
  std::function<int64_t()> now_ms_;
};

// The callback counters of one event, for the event report; zeros when it has none.
awaitable<Result<v1::CallbackCounts>> event_counts(redis::Pool& pool, std::string event_id);
// The same as a command and its parser, for a caller's own pipeline.
redis::Command event_counts_command(std::string_view event_id);
v1::CallbackCounts parse_event_counts(const redis::Reply& hgetall);

// The callback as the API shows it (internal fields cleared).
v1::Callback public_view(v1::Callback callback);

}  // namespace herald::callbacks
