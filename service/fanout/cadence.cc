#include "service/fanout/cadence.h"

namespace herald::fanout {
namespace {

std::optional<Time> time_of(bool present, const google::protobuf::Timestamp& ts) {
  if (!present) return std::nullopt;
  return Time{std::chrono::duration_cast<Time::duration>(std::chrono::seconds{ts.seconds()} +
                                                         std::chrono::nanoseconds{ts.nanos()})};
}

// An absent new value is no news: updates carry only the fields they replace.
bool moved(const std::optional<Time>& now, const std::optional<Time>& before,
           std::chrono::minutes threshold) {
  if (!now) return false;
  if (!before) return true;
  const auto delta = *now > *before ? *now - *before : *before - *now;
  return delta >= threshold;
}

bool escalated(const v1::Event& e, const History& h) {
  return e.severity() == v1::EMERGENCY && h.last_severity_sent != v1::EMERGENCY;
}

bool closing_allowed(const v1::Event& e, const History& h) {
  return e.stage() != v1::CANCELLED || h.anything_sent();
}

bool is_milestone(const v1::Event& e, const History& h, const Settings& settings) {
  if (closes(e)) return closing_allowed(e, h);
  if (!h.anything_sent()) return true;
  if (e.stage() == v1::REMINDER || e.stage() == v1::STARTED) return true;
  if (escalated(e, h)) return true;
  return moved(etr_of(e), h.last_etr_sent, settings.etr_threshold) ||
         moved(window_start_of(e), h.last_window_start_sent, settings.etr_threshold) ||
         moved(window_end_of(e), h.last_window_end_sent, settings.etr_threshold);
}

bool restoration_only(const v1::Event& e, const History& h) {
  if (closes(e)) return closing_allowed(e, h);
  return is_emergency(e) && (!h.anything_sent() || escalated(e, h));
}

}  // namespace

std::optional<Time> etr_of(const v1::Event& e) {
  return time_of(e.has_estimated_restoration(), e.estimated_restoration());
}

std::optional<Time> window_start_of(const v1::Event& e) {
  return time_of(e.has_window_start(), e.window_start());
}

std::optional<Time> window_end_of(const v1::Event& e) {
  return time_of(e.has_window_end(), e.window_end());
}

History history_of(const v1::Event& sent) {
  History h;
  h.last_revision_sent = sent.revision();
  h.last_stage_sent = sent.stage();
  h.last_severity_sent = sent.severity();
  h.last_etr_sent = etr_of(sent);
  h.last_window_start_sent = window_start_of(sent);
  h.last_window_end_sent = window_end_of(sent);
  return h;
}

bool closes(const v1::Event& e) {
  switch (e.stage()) {
    case v1::RESTORED:
    case v1::CANCELLED:
    case v1::COMPLETED:
    case v1::LIFTED:
      return true;
    default:
      return false;
  }
}

bool cadence_allows(v1::Cadence cadence, const v1::Event& e, const History& h,
                    const Settings& settings) {
  switch (cadence) {
    case v1::EVERY_UPDATE:
      return closing_allowed(e, h);
    case v1::RESTORATION_ONLY:
      return restoration_only(e, h);
    default:
      return is_milestone(e, h, settings);
  }
}

}  // namespace herald::fanout
