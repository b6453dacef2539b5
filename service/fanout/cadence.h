#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "herald/v1/common.pb.h"
#include "herald/v1/event.pb.h"
#include "service/events/stages.h"

// Which revisions of an event a customer hears about, given the cadence they chose and what
// they were last told. Pure functions of their arguments: no clock, no I/O.
namespace herald::fanout {

using Time = std::chrono::system_clock::time_point;

struct Settings {
  // MILESTONES: an ETR (or maintenance window) moved by less than this is not sent; a move of
  // exactly this much is.
  std::chrono::minutes etr_threshold{30};
};

// What one customer was last told about one event on one channel: the revision last queued for
// them there. A default History means nothing was sent yet. Revisions are numbered from 1.
struct History {
  uint32_t last_revision_sent = 0;
  v1::Stage last_stage_sent = v1::STAGE_UNSPECIFIED;
  v1::Severity last_severity_sent = v1::SEVERITY_UNSPECIFIED;
  std::optional<Time> last_etr_sent;
  std::optional<Time> last_window_start_sent;
  std::optional<Time> last_window_end_sent;

  bool anything_sent() const { return last_revision_sent != 0; }
};

// The History once `sent` (the revision just queued for this customer and channel) went out.
History history_of(const v1::Event& sent);

// A set protobuf timestamp as a time point; nullopt when the field is absent.
std::optional<Time> etr_of(const v1::Event& e);
std::optional<Time> window_start_of(const v1::Event& e);
std::optional<Time> window_end_of(const v1::Event& e);

// RESTORED, CANCELLED, COMPLETED or LIFTED: the event is over for the customer.
bool closes(const v1::Event& e);

// EMERGENCY severity, or a boil-water advisory being ISSUED: safety notices that go out at once
// (quiet hours, daily cap) at PRIORITY_EMERGENCY.
using events::is_emergency;

// Whether `e` is worth a message under `cadence` given what was sent before (History h):
//  EVERY_UPDATE      every revision.
//  MILESTONES        the first notice; an ETR newly known or moved by >= etr_threshold from the
//                    last one sent; a maintenance window moved likewise (rescheduled); REMINDER
//                    and STARTED; an escalation to EMERGENCY; RESTORED/COMPLETED/LIFTED;
//                    CANCELLED once something was sent. An ETR an update leaves out is no news.
//  RESTORATION_ONLY  RESTORED/COMPLETED/LIFTED, and CANCELLED once something was sent so nobody
//                    is left waiting. Also the first emergency notice (a boil-water ISSUED, an
//                    escalation to EMERGENCY): the cadence limits updates, not safety warnings.
//  CADENCE_UNSPECIFIED is read as MILESTONES, the default validation applies.
// A CANCELLED event nothing was sent about passes no cadence: there is nothing to withdraw.
bool cadence_allows(v1::Cadence cadence, const v1::Event& e, const History& h,
                    const Settings& settings);

}  // namespace herald::fanout
