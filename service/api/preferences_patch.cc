#include "service/api/preferences_patch.h"

#include "service/api/fast_json.h"
#include "service/api/json.h"

namespace herald::api {

Result<PreferencesPatch> PreferencesPatch::parse(const http::Context& ctx) {
  auto type = ctx.header(bhttp::field::content_type);
  if (!type.empty() && type.rfind("application/json", 0) != 0 &&
      type.rfind("application/merge-patch+json", 0) != 0) {
    return make_error(ErrorCode::kUnsupportedMediaType,
                      "preferences are patched with an application/json body");
  }
  return parse_json(ctx.request.body());
}

Result<PreferencesPatch> PreferencesPatch::parse_json(std::string_view body) {
  PreferencesPatch patch;
  if (auto ok = api::parse_json(body, patch.values_); !ok.ok()) return std::move(ok).take_error();
  auto members = object_members(body);
  if (!members) return invalid("", "body must be a JSON object");
  for (const JsonMember& m : *members) {
    // A kind under "channels" replaces that kind's list; a null list clears it, as [] does.
    if (m.path == "channels" && m.object) continue;
    if (m.path.rfind("channels.", 0) == 0) {
      patch.present_.insert(m.path);
      continue;
    }
    (m.null ? patch.nulled_ : patch.present_).insert(m.path);
  }
  return patch;
}

void PreferencesPatch::apply(v1::Preferences& target) const {
  auto has = [this](const char* name) { return present_.count(name) > 0; };
  auto cleared = [this](const char* name) { return nulled_.count(name) > 0; };
  auto* channels = target.mutable_channels();
  const auto& from = values_.channels();
  if (has("channels.OUTAGE")) {
    *channels->mutable_outage() = from.outage();
  }
  if (has("channels.PLANNED_MAINTENANCE")) {
    *channels->mutable_planned_maintenance() = from.planned_maintenance();
  }
  if (has("channels.BOIL_WATER_ADVISORY")) {
    *channels->mutable_boil_water_advisory() = from.boil_water_advisory();
  }
  if (cleared("channels")) target.clear_channels();
  if (values_.cadence() != v1::CADENCE_UNSPECIFIED) target.set_cadence(values_.cadence());
  if (cleared("cadence")) target.clear_cadence();
  if (values_.has_quiet_hours()) *target.mutable_quiet_hours() = values_.quiet_hours();
  if (cleared("quietHours") || cleared("quiet_hours")) target.clear_quiet_hours();
  if (values_.has_max_per_day()) target.set_max_per_day(values_.max_per_day());
  if (cleared("maxPerDay") || cleared("max_per_day")) target.clear_max_per_day();
  if (values_.has_callback_offers()) target.set_callback_offers(values_.callback_offers());
  if (cleared("callbackOffers") || cleared("callback_offers")) target.clear_callback_offers();
}

}  // namespace herald::api
