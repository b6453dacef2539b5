#include "service/callbacks/slots.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <chrono>

#include "service/core/timezone.h"
#include "service/core/validate.h"

namespace herald::callbacks {
namespace {

using std::chrono::system_clock;

}  // namespace

CustomerHours hours_of(const v1::Customer& customer) {
  CustomerHours h;
  h.tz = core::find_zone(customer.time_zone());
  if (h.tz == nullptr) h.tz = core::find_zone("Etc/UTC");
  if (h.tz == nullptr) h.tz = core::find_zone("UTC");
  const auto& q = customer.preferences().quiet_hours();
  const int start = core::hhmm_minutes(q.start());
  const int end = core::hhmm_minutes(q.end());
  if (start >= 0 && end >= 0) {
    h.quiet_start = start;
    h.quiet_end = end;
  }
  return h;
}

bool acceptable(const Slot& slot, const CustomerHours& hours, int64_t not_before_s) {
  if (slot.start_s < not_before_s || slot.booked >= slot.agents) return false;
  if (hours.quiet_start == hours.quiet_end || hours.tz == nullptr) return true;
  const auto start = system_clock::time_point(std::chrono::seconds(slot.start_s));
  for (uint32_t m = 0; m < slot.minutes; ++m) {
    if (core::in_quiet_hours(hours.tz, start + std::chrono::minutes(m), hours.quiet_start,
                             hours.quiet_end)) {
      return false;
    }
  }
  return true;
}

std::vector<Slot> pick_slots(const std::vector<Slot>& slots, const CustomerHours& hours,
                             int64_t not_before_s, size_t max) {
  std::vector<Slot> out;
  for (const auto& s : slots) {
    if (out.size() >= max) break;
    if (acceptable(s, hours, not_before_s)) out.push_back(s);
  }
  return out;
}

Result<std::vector<Slot>> validate_capacity(const v1::CallbackCapacity& body) {
  using google::protobuf::util::TimeUtil;
  if (body.slots_size() == 0) return invalid("slots", "slots must name at least one slot");
  if (static_cast<size_t>(body.slots_size()) > kMaxSlotsPerPut) {
    return invalid("slots", fmt::format("at most {} slots per request", kMaxSlotsPerPut));
  }
  if (body.moved_size() > 0 || body.unplaced_size() > 0) {
    return invalid("moved", "moved and unplaced are answers, not requests");
  }
  std::vector<Slot> out;
  for (int i = 0; i < body.slots_size(); ++i) {
    const auto& s = body.slots(i);
    auto field = [i](const char* name) { return fmt::format("slots[{}].{}", i, name); };
    if (!s.has_start()) return invalid(field("start"), field("start") + " is required");
    const int64_t start = s.start().seconds();
    if (start % 60 != 0 || s.start().nanos() != 0) {
      return invalid(field("start"), field("start") + " must be on a whole minute");
    }
    if (s.minutes() < kMinSlotMinutes || s.minutes() > kMaxSlotMinutes) {
      return invalid(field("minutes"), fmt::format("{} must be from {} to {}", field("minutes"),
                                                   kMinSlotMinutes, kMaxSlotMinutes));
    }
    if (s.agents() > kMaxAgents) {
      return invalid(field("agents"),
                     fmt::format("{} must be from 0 to {}", field("agents"), kMaxAgents));
    }
    if (s.booked() != 0) return invalid(field("booked"), field("booked") + " is an answer");
    out.push_back(Slot{start, s.minutes(), s.agents(), 0});
  }
  std::vector<size_t> order(out.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&out](size_t a, size_t b) { return out[a].start_s < out[b].start_s; });
  for (size_t k = 1; k < order.size(); ++k) {
    if (out[order[k]].start_s == out[order[k - 1]].start_s) {
      const std::string f = fmt::format("slots[{}].start", order[k]);
      return invalid(f, fmt::format("{} repeats the start of slots[{}]", f, order[k - 1]));
    }
  }
  std::vector<Slot> sorted;
  sorted.reserve(out.size());
  for (size_t i : order) sorted.push_back(out[i]);
  return sorted;
}

Range covered_range(const std::vector<Slot>& sorted) {
  Range r;
  if (sorted.empty()) return r;
  r.from_s = sorted.front().start_s;
  for (const auto& s : sorted) r.to_s = std::max<int64_t>(r.to_s, s.start_s + s.minutes * 60);
  return r;
}

}  // namespace herald::callbacks
