#include "service/events/validate_event.h"

#include <cmath>
#include <string>

#include "service/core/validate.h"
#include "service/events/stages.h"

namespace herald::events {
namespace {

using google::protobuf::RepeatedPtrField;
using google::protobuf::Timestamp;

std::string at(std::string_view path, int i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

Status validate_ids(RepeatedPtrField<std::string>& ids, const std::string& path) {
  if (ids.size() > kMaxAreaIds) {
    return invalid(path, path + " holds at most " + std::to_string(kMaxAreaIds) + " entries");
  }
  for (int i = 0; i < ids.size(); ++i) {
    if (auto ok = core::validate_id(at(path, i), ids[i]); !ok.ok()) return ok;
  }
  return ok_status();
}

Status validate_zips(RepeatedPtrField<std::string>& zips, const std::string& path) {
  if (zips.size() > kMaxAreaIds) {
    return invalid(path, path + " holds at most " + std::to_string(kMaxAreaIds) + " entries");
  }
  for (int i = 0; i < zips.size(); ++i) {
    auto zip = core::normalize_zip(at(path, i), zips[i]);
    if (!zip.ok()) return std::move(zip).take_error();
    zips[i] = std::move(*zip);
  }
  return ok_status();
}

Status validate_point(const v1::LatLon& p, const std::string& path) {
  if (!std::isfinite(p.lat()) || p.lat() < -90 || p.lat() > 90) {
    return invalid(path + ".lat", path + ".lat must be between -90 and 90");
  }
  if (!std::isfinite(p.lon()) || p.lon() < -180 || p.lon() > 180) {
    return invalid(path + ".lon", path + ".lon must be between -180 and 180");
  }
  return ok_status();
}

Status validate_area(v1::Area& area, const std::string& path) {
  for (auto [list, name] : {std::pair{area.mutable_premises(), ".premises"},
                            std::pair{area.mutable_feeders(), ".feeders"},
                            std::pair{area.mutable_transformers(), ".transformers"}}) {
    if (auto ok = validate_ids(*list, path + name); !ok.ok()) return ok;
  }
  if (auto ok = validate_zips(*area.mutable_zips(), path + ".zips"); !ok.ok()) return ok;
  const int points = area.polygon_size();
  if (points > 0 && (points < kMinPolygonPoints || points > kMaxPolygonPoints)) {
    return invalid(path + ".polygon", path + ".polygon needs " + std::to_string(kMinPolygonPoints) +
                                          " to " + std::to_string(kMaxPolygonPoints) + " points");
  }
  for (int i = 0; i < points; ++i) {
    if (auto ok = validate_point(area.polygon(i), at(path + ".polygon", i)); !ok.ok()) return ok;
  }
  if (area.has_circle()) {
    const auto& c = area.circle();
    if (!c.has_center()) return invalid(path + ".circle.center", "a circle needs a center");
    if (auto ok = validate_point(c.center(), path + ".circle.center"); !ok.ok()) return ok;
    if (!std::isfinite(c.radius_m()) || c.radius_m() < kMinRadiusM || c.radius_m() > kMaxRadiusM) {
      return invalid(path + ".circle.radiusM",
                     path + ".circle.radiusM must be between 1 m and 200 km (200000)");
    }
  }
  if (area.premises().empty() && area.feeders().empty() && area.transformers().empty() &&
      area.zips().empty() && points == 0 && !area.has_circle()) {
    return invalid(path, path +
                             " needs at least one of premises, feeders, transformers, zips, "
                             "polygon or circle");
  }
  return ok_status();
}

Status validate_time(bool present, const Timestamp& t, const char* path) {
  if (!present) return ok_status();
  if (t.seconds() < kEarliestTime || t.seconds() >= kLatestTime || t.nanos() < 0 ||
      t.nanos() > 999999999) {
    return invalid(path, std::string(path) + " must be between 2000-01-01 and 2100-01-01");
  }
  return ok_status();
}

Status validate_severity(v1::Severity severity) {
  if (!v1::Severity_IsValid(severity)) {
    return invalid("severity", "severity must be one of INFO, ADVISORY, URGENT, EMERGENCY");
  }
  return ok_status();
}

template <class Body>
Status validate_times(const Body& b) {
  if (auto ok = validate_time(b.has_estimated_restoration(), b.estimated_restoration(),
                              "estimatedRestoration");
      !ok.ok()) {
    return ok;
  }
  if (auto ok = validate_time(b.has_window_start(), b.window_start(), "windowStart"); !ok.ok()) {
    return ok;
  }
  return validate_time(b.has_window_end(), b.window_end(), "windowEnd");
}

}  // namespace

Status validate_new_event(v1::Event& e) {
  if (e.id().empty()) return invalid("id", "id is required");
  if (auto ok = core::validate_id("id", e.id()); !ok.ok()) return ok;
  if (e.kind() == v1::EVENT_KIND_UNSPECIFIED || !v1::EventKind_IsValid(e.kind())) {
    return invalid("kind", "kind is required: OUTAGE, PLANNED_MAINTENANCE or BOIL_WATER_ADVISORY");
  }
  if (e.stage() == v1::STAGE_UNSPECIFIED) e.set_stage(first_stage(e.kind()));
  if (auto ok = check_transition(e.kind(), std::nullopt, e.stage()); !ok.ok()) return ok;
  if (e.severity() == v1::SEVERITY_UNSPECIFIED) e.set_severity(v1::ADVISORY);
  if (auto ok = validate_severity(e.severity()); !ok.ok()) return ok;
  if (e.revision() != 0) return invalid("revision", "revision is set by Herald");
  if (e.has_accepted_at()) return invalid("acceptedAt", "acceptedAt is set by Herald");
  if (!e.has_area()) return invalid("area", "area is required");
  if (auto ok = validate_area(*e.mutable_area(), "area"); !ok.ok()) return ok;
  if (auto ok = validate_times(e); !ok.ok()) return ok;
  return validate_merged(e);
}

Status validate_update(v1::EventUpdate& u) {
  if (u.stage() == v1::STAGE_UNSPECIFIED) return invalid("stage", "stage is required");
  if (!v1::Stage_IsValid(u.stage())) return invalid("stage", "stage is not a known stage");
  if (auto ok = validate_severity(u.severity()); !ok.ok()) return ok;
  if (u.has_area()) {
    if (auto ok = validate_area(*u.mutable_area(), "area"); !ok.ok()) return ok;
  }
  return validate_times(u);
}

void apply_update(v1::Event& e, const v1::EventUpdate& u) {
  e.set_stage(u.stage());
  if (u.severity() != v1::SEVERITY_UNSPECIFIED) e.set_severity(u.severity());
  if (u.has_area()) *e.mutable_area() = u.area();
  if (!u.cause().empty()) e.set_cause(u.cause());
  if (u.has_estimated_restoration()) {
    *e.mutable_estimated_restoration() = u.estimated_restoration();
  }
  if (u.has_window_start()) *e.mutable_window_start() = u.window_start();
  if (u.has_window_end()) *e.mutable_window_end() = u.window_end();
}

Status validate_merged(const v1::Event& e) {
  if (e.cause().size() > 500) return invalid("cause", "cause holds at most 500 bytes");
  if (e.kind() != v1::PLANNED_MAINTENANCE) {
    if (e.has_window_start()) {
      return invalid("windowStart", "windowStart applies only to PLANNED_MAINTENANCE");
    }
    if (e.has_window_end()) {
      return invalid("windowEnd", "windowEnd applies only to PLANNED_MAINTENANCE");
    }
    return ok_status();
  }
  if (!e.has_window_start()) return invalid("windowStart", "maintenance needs a windowStart");
  if (!e.has_window_end()) return invalid("windowEnd", "maintenance needs a windowEnd");
  const auto& s = e.window_start();
  const auto& end = e.window_end();
  if (end.seconds() < s.seconds() || (end.seconds() == s.seconds() && end.nanos() <= s.nanos())) {
    return invalid("windowEnd", "windowEnd must be after windowStart");
  }
  return ok_status();
}

}  // namespace herald::events
