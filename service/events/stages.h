#pragma once

#include <optional>
#include <vector>

#include "herald/v1/common.pb.h"
#include "herald/v1/event.pb.h"
#include "service/common/result.h"

// The stage machine of each event kind (docs/architecture.md, "Stage machines").
namespace herald::events {

// DETECTED, SCHEDULED or ISSUED; STAGE_UNSPECIFIED for an unknown kind.
v1::Stage first_stage(v1::EventKind kind);

// RESTORED, COMPLETED, LIFTED and CANCELLED end an event: nothing may follow them.
bool is_terminal(v1::Stage stage);

// An event in this stage is still in ev:active (a known stage that is not terminal).
bool is_active(v1::Stage stage);

// The stages that may follow `current` (std::nullopt: a new event) for this kind.
std::vector<v1::Stage> next_stages(v1::EventKind kind, std::optional<v1::Stage> current);

// EMERGENCY severity, or a boil-water advisory ISSUED: sent at once, whatever the quiet hours,
// and planned ahead of other revisions.
bool is_emergency(const v1::Event& e);

// OK when `next` may follow `current`. Otherwise kConflict naming the current stage (or
// kInvalidArgument on field "stage" for a new event, which has no current stage).
Status check_transition(v1::EventKind kind, std::optional<v1::Stage> current, v1::Stage next);

}  // namespace herald::events
