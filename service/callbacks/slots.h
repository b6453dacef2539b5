#pragma once

#include <date/tz.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "herald/v1/callback.pb.h"
#include "herald/v1/customer.pb.h"
#include "service/common/result.h"

// Which slots a customer can be promised: pure, so every rule is unit-tested without Redis.
namespace herald::callbacks {

struct Slot {
  int64_t start_s = 0;
  uint32_t minutes = 0;
  uint32_t agents = 0;
  uint32_t booked = 0;
};

inline constexpr uint32_t kMinSlotMinutes = 5;
inline constexpr uint32_t kMaxSlotMinutes = 240;
inline constexpr uint32_t kMaxAgents = 10'000;
inline constexpr size_t kMaxSlotsPerPut = 5'000;

// The hours a customer accepts: outside their quiet hours, in their own time zone (UTC when
// the profile has none); quiet_start == quiet_end means no quiet hours.
struct CustomerHours {
  const date::time_zone* tz = nullptr;
  int quiet_start = 0;  // minutes after local midnight
  int quiet_end = 0;
};
CustomerHours hours_of(const v1::Customer& customer);

// Starts no earlier than not_before_s, has a free place, and no minute of the slot falls in
// quiet hours (so a slot across a DST change is judged by the local clock of each minute).
bool acceptable(const Slot& slot, const CustomerHours& hours, int64_t not_before_s);

// The first `max` acceptable slots of `slots` (sorted by start), in order.
std::vector<Slot> pick_slots(const std::vector<Slot>& slots, const CustomerHours& hours,
                             int64_t not_before_s, size_t max);

// A PUT body's slots, checked (400 naming slots[i].field) and sorted by start.
Result<std::vector<Slot>> validate_capacity(const v1::CallbackCapacity& body);

// The range a PUT replaces: [first start, latest end).
struct Range {
  int64_t from_s = 0;
  int64_t to_s = 0;
};
Range covered_range(const std::vector<Slot>& sorted);

}  // namespace herald::callbacks
