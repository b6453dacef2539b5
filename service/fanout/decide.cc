#include "service/fanout/decide.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "service/core/timezone.h"
#include "service/core/validate.h"

namespace herald::fanout {
namespace {

const date::time_zone* zone_of(const v1::Customer& c) {
  static const date::time_zone* const utc = core::find_zone("UTC");
  const date::time_zone* tz = core::find_zone(c.time_zone());
  return tz != nullptr ? tz : utc;
}

v1::Priority priority_of(const v1::Customer& c, const v1::Event& e) {
  if (is_emergency(e)) return v1::PRIORITY_EMERGENCY;
  if (c.medically_dependent()) return v1::PRIORITY_MEDICAL;
  return v1::PRIORITY_NORMAL;
}

// The customer's channel choice for this kind; nullptr for a kind nobody can choose.
const google::protobuf::RepeatedField<int>* chosen_for(const v1::Customer& c, v1::EventKind kind) {
  const v1::ChannelChoice& choice = c.preferences().channels();
  switch (kind) {
    case v1::OUTAGE:
      return &choice.outage();
    case v1::PLANNED_MAINTENANCE:
      return &choice.planned_maintenance();
    case v1::BOIL_WATER_ADVISORY:
      return &choice.boil_water_advisory();
    default:
      return nullptr;
  }
}

bool reachable(const v1::Customer& c, v1::Channel channel) {
  switch (channel) {
    case v1::SMS:
    case v1::VOICE:
      return !c.phone().empty();
    case v1::EMAIL:
      return !c.email().empty();
    default:
      return false;
  }
}

bool sms_stopped(const CustomerState& s, v1::EventKind kind) {
  return s.sms_stopped || s.sms_stopped_kinds.count(kind) > 0;
}

std::optional<Reason> ineligible(const v1::Customer& c, v1::EventKind kind, v1::Channel channel,
                                 const CustomerState& s) {
  const auto* chosen = chosen_for(c, kind);
  if (chosen == nullptr || std::find(chosen->begin(), chosen->end(), channel) == chosen->end()) {
    return Reason::kNotOptedIn;
  }
  if (!reachable(c, channel)) return Reason::kNoContact;
  if (channel == v1::SMS && sms_stopped(s, kind)) return Reason::kStopReplied;
  if (s.invalid_channels.count(channel) > 0) return Reason::kInvalidContact;
  return std::nullopt;
}

bool bypasses_quiet_hours(const v1::Event& e, v1::Channel channel) {
  if (e.severity() == v1::EMERGENCY) return true;
  return channel != v1::VOICE && is_emergency(e);
}

// When quiet hours end, if `now` falls inside them.
std::optional<Time> quiet_until(const v1::Customer& c, Time now) {
  if (!c.preferences().has_quiet_hours()) return std::nullopt;
  const v1::QuietHours& q = c.preferences().quiet_hours();
  const Result<int> start = core::parse_hhmm("start", q.start());
  const Result<int> end = core::parse_hhmm("end", q.end());
  if (!start || !end) return std::nullopt;  // validation keeps these well formed
  const date::time_zone* tz = zone_of(c);
  if (!core::in_quiet_hours(tz, now, *start, *end)) return std::nullopt;
  return core::quiet_hours_end(tz, now, *start, *end);
}

bool over_cap(const v1::Customer& c, const v1::Event& e, const CustomerState& s) {
  return cap_may_apply(c, e) && s.sent_today >= static_cast<int>(c.preferences().max_per_day());
}

}  // namespace

const char* reason_name(Reason r) {
  switch (r) {
    case Reason::kQueued:
      return "queued";
    case Reason::kNotOptedIn:
      return "not_opted_in";
    case Reason::kNoContact:
      return "no_contact";
    case Reason::kStopReplied:
      return "stop_replied";
    case Reason::kInvalidContact:
      return "invalid_contact";
    case Reason::kCadence:
      return "cadence";
    case Reason::kDailyCap:
      return "daily_cap";
    case Reason::kQuietHours:
      return "quiet_hours";
    case Reason::kStale:
      return "stale";
    case Reason::kDuplicate:
      return "duplicate";
    case Reason::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

Decision decide(const v1::Customer& c, const v1::Event& event, v1::Channel channel,
                const History& h, const CustomerState& s, Time now, const Settings& settings) {
  const v1::Priority priority = priority_of(c, event);
  auto suppress = [&](Reason r) { return Decision{Action::kSuppress, r, now, priority}; };

  if (auto reason = ineligible(c, event.kind(), channel, s)) return suppress(*reason);
  if (h.last_revision_sent == event.revision()) return suppress(Reason::kDuplicate);
  if (h.last_revision_sent > event.revision()) return suppress(Reason::kStale);
  if (event.stage() == v1::CANCELLED && !h.anything_sent()) return suppress(Reason::kCancelled);
  if (!cadence_allows(c.preferences().cadence(), event, h, settings)) {
    return suppress(Reason::kCadence);
  }
  if (!bypasses_quiet_hours(event, channel)) {
    if (auto until = quiet_until(c, now)) {
      return Decision{Action::kHold, Reason::kQuietHours, *until, priority};
    }
  }
  if (over_cap(c, event, s)) return suppress(Reason::kDailyCap);
  return Decision{Action::kQueue, Reason::kQueued, now, priority};
}

bool overtaken(const v1::Event& planned, const v1::Event& current) {
  if (current.revision() <= planned.revision()) return false;
  if (closes(current)) return true;
  return current.stage() != planned.stage() || current.severity() != planned.severity() ||
         current.cause() != planned.cause() || etr_of(current) != etr_of(planned) ||
         window_start_of(current) != window_start_of(planned) ||
         window_end_of(current) != window_end_of(planned);
}

bool counts_toward_cap(const v1::Event& e) { return !is_emergency(e); }

bool cap_may_apply(const v1::Customer& c, const v1::Event& e) {
  return c.preferences().has_max_per_day() && !is_emergency(e) && !closes(e);
}

std::vector<v1::Channel> channels_for(const v1::Customer& c, v1::EventKind kind) {
  const auto* chosen = chosen_for(c, kind);
  if (chosen == nullptr) return {};
  std::vector<v1::Channel> out;
  out.reserve(chosen->size());
  for (int ch : *chosen) out.push_back(static_cast<v1::Channel>(ch));
  return out;
}

namespace {

std::string day_text(const date::year_month_day& ymd) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

}  // namespace

std::string local_day(const v1::Customer& c, Time t) {
  const date::local_seconds local =
      zone_of(c)->to_local(std::chrono::floor<std::chrono::seconds>(t));
  return day_text(date::year_month_day{std::chrono::floor<date::days>(local)});
}

std::string utc_day(Time t) {
  return day_text(date::year_month_day{std::chrono::floor<date::days>(t)});
}

}  // namespace herald::fanout
