#pragma once

#include "herald/v1/event.pb.h"
#include "service/common/result.h"

// Validation of event bodies. Errors name the field by its JSON path in the request body
// ("area.polygon[2].lat", "windowEnd").
namespace herald::events {

inline constexpr int kMaxAreaIds = 10000;  // per list: premises, feeders, transformers, zips
inline constexpr int kMinPolygonPoints = 3;
inline constexpr int kMaxPolygonPoints = 1000;
inline constexpr double kMinRadiusM = 1;
inline constexpr double kMaxRadiusM = 200000;
inline constexpr int64_t kEarliestTime = 946684800;  // 2000-01-01T00:00:00Z
inline constexpr int64_t kLatestTime = 4102444800;   // 2100-01-01T00:00:00Z

// The body of POST /v1/events, normalised in place: id, kind and area required; stage defaults
// to the kind's first stage and must be it; severity defaults to ADVISORY; ZIPs dashed.
// revision and acceptedAt are Herald's to set.
Status validate_new_event(v1::Event& event);

// The body of POST /v1/events/{id}/updates on its own: stage required, fields present valid.
Status validate_update(v1::EventUpdate& update);

// Replaces the fields the update carries (proto3 presence: a set enum, a non-empty cause,
// a present area or time).
void apply_update(v1::Event& event, const v1::EventUpdate& update);

// Rules across fields, checked on the merged event: a maintenance window (required, start
// before end) and window fields only on PLANNED_MAINTENANCE.
Status validate_merged(const v1::Event& event);

}  // namespace herald::events
