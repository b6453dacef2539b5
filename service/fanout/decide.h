#pragma once

#include <set>
#include <string>
#include <vector>

#include "herald/v1/customer.pb.h"
#include "herald/v1/message.pb.h"
#include "service/fanout/cadence.h"

// Whether, when and how urgently one customer hears about one event revision on one channel.
// Pure: the planner supplies what Redis knows (History, CustomerState) and the clock (now), and
// records every Decision as a touchpoint with its reason.
namespace herald::fanout {

enum class Action {
  kQueue,     // send now
  kHold,      // send at Decision::due (quiet hours end), re-planned then against the current state
  kSuppress,  // never send this revision on this channel
};

enum class Reason {
  kQueued,
  kNotOptedIn,      // the customer did not choose this channel for this kind of event
  kNoContact,       // no phone (SMS, VOICE) or email (EMAIL) to send to
  kStopReplied,     // SMS to a number that replied STOP (for all SMS or for this kind)
  kCadence,         // the customer's cadence skips this revision
  kDailyCap,        // preferences.max_per_day reached in the customer's local day
  kQuietHours,      // held until the customer's quiet hours end
  kStale,           // a newer revision already reached the customer, or overtaken() said so
  kDuplicate,       // this revision was already queued for the customer on this channel
  kCancelled,       // the event was cancelled before the customer heard of it
  kInvalidContact,  // the number or address bounced or was refused (invalid:<channel>)
};

// "queued", "not_opted_in", "no_contact", "stop_replied", "cadence", "daily_cap", "quiet_hours",
// "stale", "duplicate", "cancelled", "invalid_contact": the names touchpoints and funnels carry.
const char* reason_name(Reason r);

// What Herald knows of the customer today, across events and channels.
struct CustomerState {
  // Notifications (event revisions) that counted toward the cap and went out in the customer's
  // local day (see local_day, counts_toward_cap), however many channels each used. Decide every
  // channel of one revision against the same state, so the cap never splits a notification.
  int sent_today = 0;
  bool sms_stopped = false;                   // STOP, STOPALL, UNSUBSCRIBE...
  std::set<v1::EventKind> sms_stopped_kinds;  // scoped STOP OUTAGE / MAINTENANCE / WATER
  std::set<v1::Channel> invalid_channels;     // contact marked undeliverable on that channel
};

struct Decision {
  Action action;
  Reason reason;
  Time due;  // kHold: when quiet hours end; otherwise now
  v1::Priority priority;
};

// One decision for customer c, one channel, one event revision (with its stage, severity, ETR).
// Checked in this order, the first that applies giving the reason:
//  1. eligibility: channel chosen for the kind (kNotOptedIn), contact present (kNoContact),
//     SMS not STOPped for all or for this kind (kStopReplied); VOICE ignores SMS STOP;
//     the contact not marked undeliverable on the channel (kInvalidContact).
//  2. kDuplicate when h.last_revision_sent == revision; kStale when a newer one was sent.
//  3. kCancelled: a CANCELLED event nothing was sent about on this channel.
//  4. kCadence: cadence_allows() says no.
//  5. kHold/kQuietHours inside quiet hours in the customer's zone (DST-correct); emergencies
//     (is_emergency) go at once, except that a VOICE call waits unless severity is EMERGENCY:
//     a boil-water notice reaches a sleeping household by SMS or email, not a ringing phone.
//  6. kDailyCap when max_per_day is set and s.sent_today >= it; emergencies and closing
//     messages (restored, completed, lifted, cancelled) are exempt: people want to know power
//     is back. Checked after quiet hours so a held message meets the cap of the day it goes out.
// Priority: is_emergency -> PRIORITY_EMERGENCY; medically dependent -> PRIORITY_MEDICAL; else
// PRIORITY_NORMAL. A customer zone the tz database does not know is read as UTC.
Decision decide(const v1::Customer& c, const v1::Event& event, v1::Channel channel,
                const History& h, const CustomerState& s, Time now, const Settings& settings);

// Whether a message planned for revision `planned` must be dropped (kStale) because `current`,
// the event's state now, is a newer revision that tells the customer something else: a
// different stage (RESTORED, CANCELLED, COMPLETED, LIFTED overtake everything before them),
// severity, cause, ETR or maintenance window. A newer revision that only changed the area does
// not. The planner then decides `current` for the customer instead.
bool overtaken(const v1::Event& planned, const v1::Event& current);

// Whether a queued message for `e` adds one to CustomerState::sent_today: every message but an
// emergency one, closing ones included (they count, though the cap never stops them).
bool counts_toward_cap(const v1::Event& e);
// Whether the daily cap can hold this revision back from this customer, i.e. whether its
// decision needs CustomerState::sent_today: a cap is set, and the revision is neither urgent
// nor a restoration or cancellation.
bool cap_may_apply(const v1::Customer& c, const v1::Event& e);

// The channels the customer chose for this kind (preferences.channels), in their order.
std::vector<v1::Channel> channels_for(const v1::Customer& c, v1::EventKind kind);

// The customer's local calendar day at t, "YYYY-MM-DD": the key of daily-cap counters.
std::string local_day(const v1::Customer& c, Time t);
// The UTC calendar day at t, in the same form.
std::string utc_day(Time t);

}  // namespace herald::fanout
