#include "service/fanout/decide.h"

#include <date/date.h>
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace herald::fanout {

// Failures name the reason, as touchpoints do.
static void PrintTo(Reason r, std::ostream* os) { *os << reason_name(r); }

namespace {

using std::chrono::hours;
using std::chrono::minutes;
using namespace date::literals;

Time utc(date::year_month_day day, int hh, int mm = 0) {
  return date::sys_days{day} + hours{hh} + minutes{mm};
}

void set_time(google::protobuf::Timestamp* ts, Time t) {
  const auto s = std::chrono::floor<std::chrono::seconds>(t);
  ts->set_seconds(s.time_since_epoch().count());
}

// An event revision, built in steps: Ev(v1::UPDATED, 2).etr(t).severity(v1::EMERGENCY).
class Ev {
 public:
  Ev(v1::Stage stage, uint32_t revision, v1::EventKind kind = v1::OUTAGE) {
    e_.set_id("ev-1");
    e_.set_kind(kind);
    e_.set_stage(stage);
    e_.set_revision(revision);
    e_.set_severity(kind == v1::PLANNED_MAINTENANCE ? v1::ADVISORY : v1::URGENT);
    e_.set_cause("storm");
  }
  Ev& etr(Time t) {
    set_time(e_.mutable_estimated_restoration(), t);
    return *this;
  }
  Ev& window(Time start) {
    set_time(e_.mutable_window_start(), start);
    set_time(e_.mutable_window_end(), start + hours{4});
    return *this;
  }
  Ev& severity(v1::Severity s) {
    e_.set_severity(s);
    return *this;
  }
  Ev& cause(const char* text) {
    e_.set_cause(text);
    return *this;
  }
  operator v1::Event() const { return e_; }  // NOLINT(google-explicit-constructor)

 private:
  v1::Event e_;
};

const Time kWindow = utc(2026_y / 2 / 3, 14);  // a maintenance window's start

Ev outage(v1::Stage stage = v1::DETECTED, uint32_t revision = 1) { return Ev(stage, revision); }
Ev maintenance(v1::Stage stage, uint32_t revision = 1) {
  return Ev(stage, revision, v1::PLANNED_MAINTENANCE).window(kWindow);
}
Ev water(v1::Stage stage = v1::ISSUED, uint32_t revision = 1) {
  return Ev(stage, revision, v1::BOIL_WATER_ADVISORY);
}

CustomerState sent_today(int n) {
  CustomerState s;
  s.sent_today = n;
  return s;
}

CustomerState stopped(std::set<v1::EventKind> kinds = {}) {
  CustomerState s;
  s.sms_stopped = kinds.empty();
  s.sms_stopped_kinds = std::move(kinds);
  return s;
}

// A New York customer: outages by SMS then EMAIL, maintenance by EMAIL, water by SMS and VOICE.
v1::Customer customer(v1::Cadence cadence = v1::MILESTONES) {
  v1::Customer c;
  c.set_id("c-1");
  c.set_phone("+12125550100");
  c.set_email("ada@example.com");
  c.set_language("en");
  c.set_time_zone("America/New_York");
  v1::Preferences& p = *c.mutable_preferences();
  p.set_cadence(cadence);
  p.mutable_channels()->add_outage(v1::SMS);
  p.mutable_channels()->add_outage(v1::EMAIL);
  p.mutable_channels()->add_planned_maintenance(v1::EMAIL);
  p.mutable_channels()->add_boil_water_advisory(v1::SMS);
  p.mutable_channels()->add_boil_water_advisory(v1::VOICE);
  return c;
}

void set_quiet(v1::Customer& c, const char* start, const char* end) {
  c.mutable_preferences()->mutable_quiet_hours()->set_start(start);
  c.mutable_preferences()->mutable_quiet_hours()->set_end(end);
}

// 12:00 EST: outside any quiet hours used here.
const Time kNoon = utc(2026_y / 1 / 15, 17);
const Time kT0 = utc(2026_y / 1 / 15, 23);  // the first ETR: 18:00 EST

Decision decide_now(const v1::Customer& c, const v1::Event& e, v1::Channel ch = v1::SMS,
                    const History& h = {}, const CustomerState& s = {}, Time now = kNoon) {
  return decide(c, e, ch, h, s, now, Settings{});
}

// Plans each revision in turn on SMS as the planner would, remembering what was queued.
std::vector<Reason> walk(v1::Cadence cadence, const std::vector<v1::Event>& revisions) {
  v1::Customer c = customer(cadence);
  c.mutable_preferences()->mutable_channels()->add_planned_maintenance(v1::SMS);
  History h;
  std::vector<Reason> out;
  for (const v1::Event& e : revisions) {
    const Decision d = decide_now(c, e, v1::SMS, h);
    if (d.action == Action::kQueue) h = history_of(e);
    out.push_back(d.reason);
  }
  return out;
}

constexpr Reason Q = Reason::kQueued;
constexpr Reason C = Reason::kCadence;

TEST(ReasonName, NamesEveryReasonAsTouchpointsShowIt) {
  const std::vector<std::pair<Reason, std::string>> names = {
      {Reason::kQueued, "queued"},          {Reason::kNotOptedIn, "not_opted_in"},
      {Reason::kNoContact, "no_contact"},   {Reason::kStopReplied, "stop_replied"},
      {Reason::kCadence, "cadence"},        {Reason::kDailyCap, "daily_cap"},
      {Reason::kQuietHours, "quiet_hours"}, {Reason::kStale, "stale"},
      {Reason::kDuplicate, "duplicate"},    {Reason::kCancelled, "cancelled"}};
  for (const auto& [reason, name] : names) EXPECT_EQ(reason_name(reason), name);
}

TEST(Cadence, OutageLifecycle) {
  const std::vector<v1::Event> lifecycle = {
      outage(v1::DETECTED, 1).etr(kT0),
      outage(v1::UPDATED, 2).etr(kT0 + minutes{10}),
      outage(v1::UPDATED, 3).etr(kT0 + minutes{10} + hours{2}),
      outage(v1::RESTORED, 4).etr(kT0 + minutes{10} + hours{2}),
  };
  EXPECT_EQ(walk(v1::EVERY_UPDATE, lifecycle), (std::vector<Reason>{Q, Q, Q, Q}));
  EXPECT_EQ(walk(v1::MILESTONES, lifecycle), (std::vector<Reason>{Q, C, Q, Q}));
  EXPECT_EQ(walk(v1::CADENCE_UNSPECIFIED, lifecycle), (std::vector<Reason>{Q, C, Q, Q}));
  EXPECT_EQ(walk(v1::RESTORATION_ONLY, lifecycle), (std::vector<Reason>{C, C, C, Q}));
}

TEST(Cadence, PlannedMaintenanceLifecycle) {
  const std::vector<v1::Event> lifecycle = {
      maintenance(v1::SCHEDULED, 1),
      maintenance(v1::REMINDER, 2),
      maintenance(v1::STARTED, 3),
      maintenance(v1::COMPLETED, 4),
  };
  EXPECT_EQ(walk(v1::EVERY_UPDATE, lifecycle), (std::vector<Reason>{Q, Q, Q, Q}));
  EXPECT_EQ(walk(v1::MILESTONES, lifecycle), (std::vector<Reason>{Q, Q, Q, Q}));
  EXPECT_EQ(walk(v1::RESTORATION_ONLY, lifecycle), (std::vector<Reason>{C, C, C, Q}));
}

TEST(Cadence, MilestonesTellOfARescheduleButNotOfAMinorShift) {
  EXPECT_EQ(walk(v1::MILESTONES, {maintenance(v1::SCHEDULED, 1),
                                  maintenance(v1::SCHEDULED, 2).window(kWindow + minutes{10}),
                                  maintenance(v1::SCHEDULED, 3).window(kWindow + hours{24})}),
            (std::vector<Reason>{Q, C, Q}));
}

TEST(Cadence, MilestoneEtrThresholdIsMeasuredFromWhatTheCustomerWasTold) {
  // +20 min is skipped; +35 is 35 min from the ETR the customer saw; +6 is 29 min back from
  // that, skipped; +5 is 30 min back, sent.
  EXPECT_EQ(walk(v1::MILESTONES,
                 {outage(v1::DETECTED, 1).etr(kT0), outage(v1::UPDATED, 2).etr(kT0 + minutes{20}),
                  outage(v1::UPDATED, 3).etr(kT0 + minutes{35}),
                  outage(v1::UPDATED, 4).etr(kT0 + minutes{6}),
                  outage(v1::UPDATED, 5).etr(kT0 + minutes{5})}),
            (std::vector<Reason>{Q, C, Q, C, Q}));
}

TEST(Cadence, MilestoneThresholdBoundaryAndSetting) {
  const v1::Customer c = customer();
  const History told = history_of(outage().etr(kT0));
  const v1::Event exactly = outage(v1::UPDATED, 2).etr(kT0 + minutes{30});
  const v1::Event under = outage(v1::UPDATED, 2).etr(kT0 - minutes{29});
  EXPECT_EQ(decide_now(c, exactly, v1::SMS, told).reason, Reason::kQueued);
  EXPECT_EQ(decide_now(c, under, v1::SMS, told).reason, Reason::kCadence);
  const Settings hour{.etr_threshold = minutes{60}};
  EXPECT_EQ(decide(c, exactly, v1::SMS, told, {}, kNoon, hour).reason, Reason::kCadence);
}

TEST(Cadence, MilestonesSendAnEtrNewlyKnownButNotOneLeftOut) {
  EXPECT_EQ(walk(v1::MILESTONES, {outage(v1::DETECTED, 1), outage(v1::UPDATED, 2).etr(kT0),
                                  outage(v1::UPDATED, 3).cause("tree")}),
            (std::vector<Reason>{Q, Q, C}));
}

TEST(Cadence, EscalationToEmergencyIsAMilestoneOnce) {
  EXPECT_EQ(walk(v1::MILESTONES, {outage(v1::DETECTED, 1).etr(kT0),
                                  outage(v1::UPDATED, 2).etr(kT0).severity(v1::EMERGENCY),
                                  outage(v1::UPDATED, 3).etr(kT0).severity(v1::EMERGENCY)}),
            (std::vector<Reason>{Q, Q, C}));
  EXPECT_EQ(walk(v1::RESTORATION_ONLY, {outage(v1::DETECTED, 1).etr(kT0),
                                        outage(v1::UPDATED, 2).etr(kT0).severity(v1::EMERGENCY),
                                        outage(v1::UPDATED, 3).etr(kT0).severity(v1::EMERGENCY),
                                        outage(v1::RESTORED, 4)}),
            (std::vector<Reason>{C, Q, C, Q}));
}

TEST(Cadence, BoilWaterWarningReachesEvenRestorationOnlyCustomers) {
  const std::vector<v1::Event> lifecycle = {
      water(v1::ISSUED, 1),
      water(v1::UPDATED, 2).cause("main break"),
      water(v1::LIFTED, 3),
  };
  EXPECT_EQ(walk(v1::EVERY_UPDATE, lifecycle), (std::vector<Reason>{Q, Q, Q}));
  EXPECT_EQ(walk(v1::MILESTONES, lifecycle), (std::vector<Reason>{Q, C, Q}));
  EXPECT_EQ(walk(v1::RESTORATION_ONLY, lifecycle), (std::vector<Reason>{Q, C, Q}));
}

TEST(Cadence, CancelledEventOnlyWithdrawsWhatWasAnnounced) {
  const v1::Event cancelled = outage(v1::CANCELLED, 2);
  for (v1::Cadence cadence : {v1::EVERY_UPDATE, v1::MILESTONES, v1::RESTORATION_ONLY}) {
    SCOPED_TRACE(v1::Cadence_Name(cadence));
    const v1::Customer c = customer(cadence);
    const Decision never_told = decide_now(c, cancelled);
    EXPECT_EQ(never_told.action, Action::kSuppress);
    EXPECT_EQ(never_told.reason, Reason::kCancelled);
    EXPECT_EQ(decide_now(c, cancelled, v1::SMS, history_of(outage())).action, Action::kQueue);
  }
  // A RESTORATION_ONLY customer never hears of the outage, so never of its cancellation.
  EXPECT_EQ(walk(v1::RESTORATION_ONLY, {outage(), cancelled}),
            (std::vector<Reason>{C, Reason::kCancelled}));
  const v1::Event maintenance_cancelled = maintenance(v1::CANCELLED, 3);
  EXPECT_EQ(walk(v1::MILESTONES, {maintenance(v1::SCHEDULED, 1), maintenance(v1::REMINDER, 2),
                                  maintenance_cancelled}),
            (std::vector<Reason>{Q, Q, Q}));
}

TEST(Eligibility, ChannelMustBeChosenForThisKind) {
  const v1::Customer c = customer();
  EXPECT_EQ(decide_now(c, outage(), v1::VOICE).reason, Reason::kNotOptedIn);
  EXPECT_EQ(decide_now(c, outage(), v1::WEBHOOK).reason, Reason::kNotOptedIn);
  EXPECT_EQ(decide_now(c, maintenance(v1::SCHEDULED), v1::SMS).reason, Reason::kNotOptedIn);
  EXPECT_EQ(decide_now(c, maintenance(v1::SCHEDULED), v1::EMAIL).reason, Reason::kQueued);
  EXPECT_EQ(decide_now(v1::Customer{}, outage(), v1::SMS).reason, Reason::kNotOptedIn);
  const Decision d = decide_now(c, outage(), v1::EMAIL);
  EXPECT_EQ(d.action, Action::kQueue);
  EXPECT_EQ(d.due, kNoon);
}

TEST(Eligibility, ChannelNeedsItsContact) {
  v1::Customer no_phone = customer();
  no_phone.clear_phone();
  EXPECT_EQ(decide_now(no_phone, outage(), v1::SMS).reason, Reason::kNoContact);
  EXPECT_EQ(decide_now(no_phone, water(), v1::VOICE).reason, Reason::kNoContact);
  EXPECT_EQ(decide_now(no_phone, outage(), v1::EMAIL).reason, Reason::kQueued);
  v1::Customer no_email = customer();
  no_email.clear_email();
  EXPECT_EQ(decide_now(no_email, outage(), v1::EMAIL).reason, Reason::kNoContact);
  EXPECT_EQ(decide_now(no_email, outage(), v1::SMS).reason, Reason::kQueued);
}

TEST(Eligibility, StopEndsSmsButNotCallsOrEmail) {
  const v1::Customer c = customer();
  const Decision d = decide_now(c, outage(), v1::SMS, {}, stopped());
  EXPECT_EQ(d.action, Action::kSuppress);
  EXPECT_EQ(d.reason, Reason::kStopReplied);
  EXPECT_EQ(decide_now(c, water(), v1::SMS, {}, stopped()).reason, Reason::kStopReplied);
  EXPECT_EQ(decide_now(c, water(), v1::VOICE, {}, stopped()).reason, Reason::kQueued);
  EXPECT_EQ(decide_now(c, outage(), v1::EMAIL, {}, stopped()).reason, Reason::kQueued);
}

TEST(Eligibility, ScopedStopOnlyCoversItsKind) {
  const v1::Customer c = customer();
  const CustomerState stop_outage = stopped({v1::OUTAGE});
  EXPECT_EQ(decide_now(c, outage(), v1::SMS, {}, stop_outage).reason, Reason::kStopReplied);
  EXPECT_EQ(decide_now(c, water(), v1::SMS, {}, stop_outage).reason, Reason::kQueued);
  EXPECT_EQ(decide_now(c, outage(), v1::EMAIL, {}, stop_outage).reason, Reason::kQueued);
}

TEST(NeverTwice, SameRevisionIsDuplicateAndOlderIsStale) {
  const v1::Customer c = customer(v1::EVERY_UPDATE);
  const v1::Event rev2 = outage(v1::UPDATED, 2);
  const Decision replay = decide_now(c, rev2, v1::SMS, history_of(rev2));
  EXPECT_EQ(replay.action, Action::kSuppress);
  EXPECT_EQ(replay.reason, Reason::kDuplicate);
  const Decision older = decide_now(c, rev2, v1::SMS, history_of(outage(v1::UPDATED, 3)));
  EXPECT_EQ(older.action, Action::kSuppress);
  EXPECT_EQ(older.reason, Reason::kStale);
}

TEST(DailyCap, NonEmergencyMessagesStopAtTheCap) {
  v1::Customer c = customer(v1::EVERY_UPDATE);
  c.mutable_preferences()->set_max_per_day(3);
  const v1::Event update = outage(v1::UPDATED, 2);
  EXPECT_EQ(decide_now(c, update, v1::SMS, {}, sent_today(2)).reason, Reason::kQueued);
  const Decision capped = decide_now(c, update, v1::SMS, {}, sent_today(3));
  EXPECT_EQ(capped.action, Action::kSuppress);
  EXPECT_EQ(capped.reason, Reason::kDailyCap);
  EXPECT_EQ(decide_now(c, update, v1::EMAIL, {}, sent_today(3)).reason, Reason::kDailyCap);
  EXPECT_TRUE(counts_toward_cap(update));
}

TEST(DailyCap, EmergenciesAndClosingMessagesAreExempt) {
  v1::Customer c = customer(v1::EVERY_UPDATE);
  c.mutable_preferences()->set_max_per_day(3);
  const v1::Event emergency = outage(v1::UPDATED, 2).severity(v1::EMERGENCY);
  const v1::Event restored = outage(v1::RESTORED, 3);
  EXPECT_EQ(decide_now(c, emergency, v1::SMS, {}, sent_today(3)).reason, Reason::kQueued);
  EXPECT_EQ(decide_now(c, water(), v1::SMS, {}, sent_today(3)).reason, Reason::kQueued);
  EXPECT_EQ(decide_now(c, restored, v1::SMS, {}, sent_today(3)).reason, Reason::kQueued);
  EXPECT_EQ(decide_now(c, water(v1::UPDATED, 2), v1::SMS, {}, sent_today(3)).reason,
            Reason::kDailyCap);
  EXPECT_FALSE(counts_toward_cap(emergency));
  EXPECT_FALSE(counts_toward_cap(water()));
  EXPECT_TRUE(counts_toward_cap(restored));
}

TEST(DailyCap, NoCapWithoutMaxPerDay) {
  const v1::Customer c = customer(v1::EVERY_UPDATE);
  EXPECT_EQ(decide_now(c, outage(), v1::SMS, {}, sent_today(500)).reason, Reason::kQueued);
}

TEST(Priority, EmergencyThenMedicalThenNormal) {
  v1::Customer c = customer(v1::EVERY_UPDATE);
  const v1::Event emergency = outage().severity(v1::EMERGENCY);
  EXPECT_EQ(decide_now(c, outage(), v1::SMS).priority, v1::PRIORITY_NORMAL);
  EXPECT_EQ(decide_now(c, emergency, v1::SMS).priority, v1::PRIORITY_EMERGENCY);
  EXPECT_EQ(decide_now(c, water(), v1::SMS).priority, v1::PRIORITY_EMERGENCY);
  c.set_medically_dependent(true);
  EXPECT_EQ(decide_now(c, outage(), v1::SMS).priority, v1::PRIORITY_MEDICAL);
  EXPECT_EQ(decide_now(c, water(v1::UPDATED, 2), v1::SMS).priority, v1::PRIORITY_MEDICAL);
  EXPECT_EQ(decide_now(c, emergency, v1::SMS).priority, v1::PRIORITY_EMERGENCY);
  // Suppressions carry the priority too, for the funnel.
  EXPECT_EQ(decide_now(c, outage(), v1::VOICE).priority, v1::PRIORITY_MEDICAL);
}

struct QuietCase {
  const char* name;
  const char* start;
  const char* end;
  Time now;
  std::optional<Time> held_until;  // nullopt: sent at once
};

class QuietHoursAcrossDst : public ::testing::TestWithParam<QuietCase> {};

TEST_P(QuietHoursAcrossDst, HoldsUntilTheLocalWindowEnds) {
  const QuietCase& q = GetParam();
  v1::Customer c = customer();
  set_quiet(c, q.start, q.end);
  const Decision d = decide_now(c, outage(), v1::SMS, {}, {}, q.now);
  if (q.held_until) {
    EXPECT_EQ(d.action, Action::kHold);
    EXPECT_EQ(d.reason, Reason::kQuietHours);
    EXPECT_EQ(d.due, *q.held_until) << date::format("%F %T", d.due);
    // When it comes due and is re-planned, it goes.
    EXPECT_EQ(decide_now(c, outage(), v1::SMS, {}, {}, d.due).action, Action::kQueue);
  } else {
    EXPECT_EQ(d.action, Action::kQueue);
    EXPECT_EQ(d.due, q.now);
  }
}

// New York: 2026-03-08 02:00 EST jumps to 03:00 EDT; 2026-11-01 02:00 EDT falls back to 01:00 EST.
INSTANTIATE_TEST_SUITE_P(
    NewYork, QuietHoursAcrossDst,
    ::testing::Values(
        // 22:00 EST the night before spring forward: 07:00 EDT is 11:00 UTC, not 12:00.
        QuietCase{"SpringEveningBefore", "21:00", "07:00", utc(2026_y / 3 / 8, 3),
                  utc(2026_y / 3 / 8, 11)},
        QuietCase{"SpringBeforeGap", "21:00", "07:00", utc(2026_y / 3 / 8, 6, 59),
                  utc(2026_y / 3 / 8, 11)},
        QuietCase{"SpringAfterGap", "21:00", "07:00", utc(2026_y / 3 / 8, 7),
                  utc(2026_y / 3 / 8, 11)},
        QuietCase{"SpringMorning", "21:00", "07:00", utc(2026_y / 3 / 8, 11), std::nullopt},
        // 00:30 EDT the night of fall back: 07:00 EST is 12:00 UTC.
        QuietCase{"FallNight", "21:00", "07:00", utc(2026_y / 11 / 1, 4, 30),
                  utc(2026_y / 11 / 1, 12)},
        QuietCase{"FallSecondOneAm", "21:00", "07:00", utc(2026_y / 11 / 1, 6, 30),
                  utc(2026_y / 11 / 1, 12)},
        QuietCase{"FallMorning", "21:00", "07:00", utc(2026_y / 11 / 1, 12), std::nullopt},
        // 23:30-01:30 ends before the spring gap: 01:30 EST.
        QuietCase{"ShortSpringMidnight", "23:30", "01:30", utc(2026_y / 3 / 8, 5),
                  utc(2026_y / 3 / 8, 6, 30)},
        QuietCase{"ShortSpringAfter", "23:30", "01:30", utc(2026_y / 3 / 8, 6, 45), std::nullopt},
        QuietCase{"ShortSpringBefore", "23:30", "01:30", utc(2026_y / 3 / 8, 4, 29), std::nullopt},
        // Fall back: 01:30 happens twice; the first (EDT, 05:30 UTC) ends the window...
        QuietCase{"ShortFallMidnight", "23:30", "01:30", utc(2026_y / 11 / 1, 4),
                  utc(2026_y / 11 / 1, 5, 30)},
        QuietCase{"ShortFallFirstPass", "23:30", "01:30", utc(2026_y / 11 / 1, 5, 40),
                  std::nullopt},
        // ...and the repeated 01:00-01:30 EST is quiet again, until 01:30 EST (06:30 UTC).
        QuietCase{"ShortFallSecondPass", "23:30", "01:30", utc(2026_y / 11 / 1, 6, 10),
                  utc(2026_y / 11 / 1, 6, 30)},
        // A window ending inside the spring gap (02:30) ends when the gap does, 03:00 EDT.
        QuietCase{"EndInGap", "23:30", "02:30", utc(2026_y / 3 / 8, 6, 30),
                  utc(2026_y / 3 / 8, 7)}),
    [](const ::testing::TestParamInfo<QuietCase>& info) { return std::string(info.param.name); });

TEST(QuietHours, EmergencyAndBoilWaterIssuedGoAtOnce) {
  v1::Customer c = customer();
  set_quiet(c, "21:00", "07:00");
  const Time night = utc(2026_y / 3 / 8, 6, 30);  // 01:30 EST
  const v1::Event emergency = outage().severity(v1::EMERGENCY);
  EXPECT_EQ(decide_now(c, emergency, v1::SMS, {}, {}, night).action, Action::kQueue);
  EXPECT_EQ(decide_now(c, emergency, v1::EMAIL, {}, {}, night).action, Action::kQueue);
  EXPECT_EQ(decide_now(c, water(), v1::SMS, {}, {}, night).action, Action::kQueue);
  // Later water updates are not emergencies: they wait for the morning.
  v1::Customer every = customer(v1::EVERY_UPDATE);
  set_quiet(every, "21:00", "07:00");
  const Decision later =
      decide_now(every, water(v1::UPDATED, 2), v1::SMS, history_of(water()), {}, night);
  EXPECT_EQ(later.action, Action::kHold);
  EXPECT_EQ(later.due, utc(2026_y / 3 / 8, 11));
}

TEST(QuietHours, CallsWaitUnlessTheSeverityIsEmergency) {
  v1::Customer c = customer();
  set_quiet(c, "21:00", "07:00");
  const Time night = utc(2026_y / 11 / 1, 6, 30);  // 01:30 EST, the second time round
  const Decision call = decide_now(c, water(), v1::VOICE, {}, {}, night);
  EXPECT_EQ(call.action, Action::kHold);
  EXPECT_EQ(call.reason, Reason::kQuietHours);
  EXPECT_EQ(call.due, utc(2026_y / 11 / 1, 12));
  EXPECT_EQ(call.priority, v1::PRIORITY_EMERGENCY);
  EXPECT_EQ(decide_now(c, water(), v1::SMS, {}, {}, night).action, Action::kQueue);
  const v1::Event dire = water().severity(v1::EMERGENCY);
  EXPECT_EQ(decide_now(c, dire, v1::VOICE, {}, {}, night).action, Action::kQueue);
}

TEST(QuietHours, RestorationWaitsForMorningAndCapIsJudgedWhenItGoes) {
  v1::Customer c = customer();
  set_quiet(c, "21:00", "07:00");
  c.mutable_preferences()->set_max_per_day(1);
  const Time night = utc(2026_y / 1 / 16, 4);  // 23:00 EST
  const History told = history_of(outage().etr(kT0));
  EXPECT_EQ(decide_now(c, outage(v1::RESTORED, 2), v1::SMS, told, {}, night).action, Action::kHold);
  const v1::Event moved = outage(v1::UPDATED, 2).etr(kT0 + hours{3});
  const Decision held = decide_now(c, moved, v1::SMS, told, sent_today(1), night);
  EXPECT_EQ(held.action, Action::kHold);
  EXPECT_EQ(held.due, utc(2026_y / 1 / 16, 12));
  EXPECT_EQ(local_day(c, held.due), "2026-01-16");
  EXPECT_EQ(decide_now(c, moved, v1::SMS, told, sent_today(0), held.due).action, Action::kQueue);
}

TEST(QuietHours, UnknownZoneIsReadAsUtc) {
  v1::Customer c = customer();
  c.set_time_zone("Mars/Olympus");
  set_quiet(c, "21:00", "07:00");
  const Decision d = decide_now(c, outage(), v1::SMS, {}, {}, utc(2026_y / 1 / 15, 22));
  EXPECT_EQ(d.action, Action::kHold);
  EXPECT_EQ(d.due, utc(2026_y / 1 / 16, 7));
}

TEST(Overtaken, RestorationOvertakesAHeldEtr) {
  const v1::Event planned = outage(v1::UPDATED, 2).etr(kT0);  // "back by 6 pm"
  EXPECT_TRUE(overtaken(planned, outage(v1::RESTORED, 3).etr(kT0)));
  EXPECT_TRUE(overtaken(planned, outage(v1::CANCELLED, 3).etr(kT0)));
  EXPECT_FALSE(overtaken(planned, planned));
  EXPECT_FALSE(overtaken(planned, outage(v1::DETECTED, 1)));
}

TEST(Overtaken, NewerRevisionsOvertakeOnlyWhenTheyTellSomethingElse) {
  const v1::Event planned = outage(v1::UPDATED, 2).etr(kT0);
  v1::Event area_only = outage(v1::UPDATED, 3).etr(kT0);
  area_only.mutable_area()->add_zips("10001");
  EXPECT_FALSE(overtaken(planned, area_only));
  EXPECT_TRUE(overtaken(planned, outage(v1::UPDATED, 3).etr(kT0 + minutes{5})));
  EXPECT_TRUE(overtaken(planned, outage(v1::UPDATED, 3).etr(kT0).severity(v1::EMERGENCY)));
  EXPECT_TRUE(overtaken(planned, outage(v1::UPDATED, 3).etr(kT0).cause("vehicle")));
  EXPECT_TRUE(overtaken(outage(v1::DETECTED, 1), outage(v1::UPDATED, 3)));
  EXPECT_TRUE(overtaken(outage(v1::DETECTED, 1), outage(v1::DETECTED, 3).etr(kT0)));
  EXPECT_TRUE(overtaken(maintenance(v1::SCHEDULED, 1),
                        maintenance(v1::SCHEDULED, 2).window(kWindow + hours{24})));
  EXPECT_TRUE(overtaken(maintenance(v1::SCHEDULED, 1), maintenance(v1::REMINDER, 2)));
}

TEST(ChannelsFor, ListsTheChoiceForTheKindInOrder) {
  const v1::Customer c = customer();
  EXPECT_EQ(channels_for(c, v1::OUTAGE), (std::vector<v1::Channel>{v1::SMS, v1::EMAIL}));
  EXPECT_EQ(channels_for(c, v1::PLANNED_MAINTENANCE), (std::vector<v1::Channel>{v1::EMAIL}));
  EXPECT_EQ(channels_for(c, v1::BOIL_WATER_ADVISORY),
            (std::vector<v1::Channel>{v1::SMS, v1::VOICE}));
  EXPECT_TRUE(channels_for(c, v1::EVENT_KIND_UNSPECIFIED).empty());
  EXPECT_TRUE(channels_for(v1::Customer{}, v1::OUTAGE).empty());
}

TEST(LocalDay, FollowsTheCustomersMidnight) {
  v1::Customer la = customer();
  la.set_time_zone("America/Los_Angeles");
  v1::Customer z = customer();
  z.set_time_zone("UTC");
  // 07:59 UTC is 23:59 PST the day before; 08:00 UTC is midnight.
  EXPECT_EQ(local_day(la, utc(2026_y / 1 / 15, 7, 59)), "2026-01-14");
  EXPECT_EQ(local_day(z, utc(2026_y / 1 / 15, 7, 59)), "2026-01-15");
  EXPECT_EQ(local_day(la, utc(2026_y / 1 / 15, 8)), "2026-01-15");
  // Under PDT (from 2026-03-08) midnight is 07:00 UTC.
  EXPECT_EQ(local_day(la, utc(2026_y / 3 / 10, 6, 59)), "2026-03-09");
  EXPECT_EQ(local_day(la, utc(2026_y / 3 / 10, 7)), "2026-03-10");
  EXPECT_EQ(local_day(z, utc(2025_y / 12 / 31, 23, 59)), "2025-12-31");
  EXPECT_EQ(local_day(la, utc(2026_y / 1 / 1, 0, 30)), "2025-12-31");
}

}  // namespace
}  // namespace herald::fanout
