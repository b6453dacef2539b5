#include "service/events/stages.h"

#include <algorithm>
#include <string>

namespace herald::events {
namespace {

using v1::Stage;

std::string names(const std::vector<Stage>& stages) {
  std::string out;
  for (Stage s : stages) {
    if (!out.empty()) out += ", ";
    out += v1::Stage_Name(s);
  }
  return out.empty() ? "none (the event is over)" : out;
}

std::vector<Stage> outage_next(Stage current) {
  if (current == v1::DETECTED || current == v1::UPDATED) {
    return {v1::UPDATED, v1::RESTORED, v1::CANCELLED};
  }
  return {};
}

std::vector<Stage> maintenance_next(Stage current) {
  switch (current) {
    case v1::SCHEDULED:  // SCHEDULED again: rescheduled
      return {v1::SCHEDULED, v1::REMINDER, v1::STARTED, v1::CANCELLED};
    case v1::REMINDER:
      return {v1::STARTED, v1::CANCELLED};
    case v1::STARTED:
      return {v1::COMPLETED};
    default:
      return {};
  }
}

std::vector<Stage> boil_water_next(Stage current) {
  if (current == v1::ISSUED || current == v1::UPDATED) return {v1::UPDATED, v1::LIFTED};
  return {};
}

}  // namespace

Stage first_stage(v1::EventKind kind) {
  switch (kind) {
    case v1::OUTAGE:
      return v1::DETECTED;
    case v1::PLANNED_MAINTENANCE:
      return v1::SCHEDULED;
    case v1::BOIL_WATER_ADVISORY:
      return v1::ISSUED;
    default:
      return v1::STAGE_UNSPECIFIED;
  }
}

bool is_terminal(Stage stage) {
  return stage == v1::RESTORED || stage == v1::COMPLETED || stage == v1::LIFTED ||
         stage == v1::CANCELLED;
}

bool is_emergency(const v1::Event& e) {
  return e.severity() == v1::EMERGENCY ||
         (e.kind() == v1::BOIL_WATER_ADVISORY && e.stage() == v1::ISSUED);
}

bool is_active(Stage stage) {
  return stage != v1::STAGE_UNSPECIFIED && v1::Stage_IsValid(stage) && !is_terminal(stage);
}

std::vector<Stage> next_stages(v1::EventKind kind, std::optional<Stage> current) {
  if (!current) {
    Stage first = first_stage(kind);
    if (first == v1::STAGE_UNSPECIFIED) return {};
    return {first};
  }
  switch (kind) {
    case v1::OUTAGE:
      return outage_next(*current);
    case v1::PLANNED_MAINTENANCE:
      return maintenance_next(*current);
    case v1::BOIL_WATER_ADVISORY:
      return boil_water_next(*current);
    default:
      return {};
  }
}

Status check_transition(v1::EventKind kind, std::optional<Stage> current, Stage next) {
  const auto allowed = next_stages(kind, current);
  if (std::find(allowed.begin(), allowed.end(), next) != allowed.end()) return ok_status();
  const std::string kind_name = v1::EventKind_Name(kind);
  const std::string next_name =
      v1::Stage_IsValid(next) ? v1::Stage_Name(next) : std::to_string(static_cast<int>(next));
  if (!current) {
    return invalid("stage", "a new " + kind_name + " event starts at " + names(allowed) + ", not " +
                                next_name);
  }
  return make_error(ErrorCode::kConflict,
                    "the " + kind_name + " event is at stage " + v1::Stage_Name(*current) + ": " +
                        next_name + " cannot follow it (allowed next: " + names(allowed) + ")",
                    "stage");
}

}  // namespace herald::events
