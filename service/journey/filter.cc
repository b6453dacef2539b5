#include "service/journey/filter.h"

#include <google/protobuf/util/time_util.h>
#include <strings.h>

#include <charconv>

#include "service/common/error.h"
#include "service/core/validate.h"

namespace herald::journey {
namespace {

using google::protobuf::util::TimeUtil;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool Filter::matches(const v1::Touchpoint& tp) const {
  if (channel != v1::CHANNEL_UNSPECIFIED && tp.channel() != channel) return false;
  if (kind != v1::TOUCHPOINT_KIND_UNSPECIFIED && tp.kind() != kind) return false;
  if (!event.empty() && tp.event_id() != event) return false;
  if (!status.empty() && strcasecmp(status.c_str(), tp.status().c_str()) != 0) return false;
  return true;
}

Result<int64_t> parse_time_ms(std::string_view field, std::string_view text) {
  google::protobuf::Timestamp ts;
  if (!TimeUtil::FromString(std::string(text), &ts)) {
    return invalid(std::string(field), "field '" + std::string(field) +
                              "' must be an RFC 3339 time such as 2026-11-22T18:00:00Z");
  }
  return TimeUtil::TimestampToMilliseconds(ts);
}

Result<Filter> parse_filter(const Query& query) {
  Filter f;
  if (auto v = query("since")) {
    auto ms = parse_time_ms("since", *v);
    if (!ms.ok()) return std::move(ms).take_error();
    f.since_ms = *ms;
  }
  if (auto v = query("until")) {
    auto ms = parse_time_ms("until", *v);
    if (!ms.ok()) return std::move(ms).take_error();
    f.until_ms = *ms;
    if (f.until_ms < f.since_ms) return invalid("until", "'until' is before 'since'");
  }
  if (auto v = query("channel")) {
    if (!v1::Channel_Parse(upper(*v), &f.channel) || f.channel == v1::CHANNEL_UNSPECIFIED) {
      return invalid("channel", "'channel' must be one of SMS, EMAIL, VOICE, WEBHOOK");
    }
  }
  if (auto v = query("kind")) {
    if (!v1::TouchpointKind_Parse(upper(*v), &f.kind) ||
        f.kind == v1::TOUCHPOINT_KIND_UNSPECIFIED) {
      return invalid("kind",
                     "'kind' must be one of PREFERENCE_CHANGE, DECISION, SEND, DELIVERY, REPLY, "
                     "CALLBACK, SURVEY, COMPLAINT");
    }
  }
  if (auto v = query("event")) {
    if (auto ok = core::validate_id("event", *v); !ok.ok()) return std::move(ok).take_error();
    f.event = *v;
  }
  if (auto v = query("status")) {
    if (v->empty() || v->size() > 64) return invalid("status", "'status' must be 1 to 64 characters");
    f.status = *v;
  }
  return f;
}

Result<PageRequest> parse_page(const Query& query) {
  PageRequest p;
  if (auto v = query("limit")) {
    size_t n = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size() || n < 1 || n > kMaxLimit) {
      return invalid("limit", "'limit' must be an integer from 1 to 1000");
    }
    p.limit = n;
  }
  if (auto v = query("cursor")) {
    if (v->size() > 300) return invalid("cursor", "'cursor' is not one this server gave out");
    p.cursor = *v;
  }
  return p;
}

}  // namespace herald::journey
