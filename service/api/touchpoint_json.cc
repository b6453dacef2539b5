#include "service/api/touchpoint_json.h"

#include <google/protobuf/util/time_util.h>

#include "service/api/json.h"
#include "service/api/json_writer.h"
#include "service/http/response.h"

namespace herald::api {
namespace {

constexpr std::string_view kEmptyArray = "\"touchpoints\":[]";

using json_writer::append_enum;
using json_writer::append_field;
using json_writer::plain_text;

}  // namespace

void append_touchpoint_json(std::string& out, const v1::Touchpoint& tp) {
  for (const std::string* text : {&tp.customer_id(), &tp.event_id(), &tp.status(), &tp.reason(),
                                  &tp.detail(), &tp.id()}) {
    if (!plain_text(*text)) {
      out += to_json(tp);
      return;
    }
  }
  out.push_back('{');
  append_field(out, "customerId", tp.customer_id());
  out += ",\"kind\":";
  append_enum(out, v1::TouchpointKind_descriptor(), tp.kind());
  out += ",";
  append_field(out, "eventId", tp.event_id());
  out += ",\"revision\":";
  out += std::to_string(tp.revision());
  out += ",\"channel\":";
  append_enum(out, v1::Channel_descriptor(), tp.channel());
  out += ",";
  append_field(out, "status", tp.status());
  out += ",";
  append_field(out, "reason", tp.reason());
  out += ",";
  append_field(out, "detail", tp.detail());
  out += ",";
  append_field(out, "id", tp.id());
  // protobuf's printer puts a set well-known-type field after the defaulted primitives.
  if (tp.has_at()) {
    out += ",";
    append_field(out, "at", google::protobuf::util::TimeUtil::ToString(tp.at()));
  }
  out.push_back('}');
}

std::string to_json_with_touchpoints(const google::protobuf::Message& head,
                                     const std::vector<v1::Touchpoint>& tps) {
  std::string json = to_json(head);
  const size_t at = json.find(kEmptyArray);
  if (at == std::string::npos) return json;  // not a page message: nothing to fill
  std::string array = "\"touchpoints\":[";
  array.reserve(tps.size() * 200 + 16);
  for (size_t i = 0; i < tps.size(); ++i) {
    if (i > 0) array.push_back(',');
    append_touchpoint_json(array, tps[i]);
  }
  array.push_back(']');
  json.replace(at, kEmptyArray.size(), array);
  return json;
}

http::Response reply_with_touchpoints(const http::Context& ctx, google::protobuf::Message& head,
                                      std::vector<v1::Touchpoint> tps) {
  const auto* field = head.GetDescriptor()->FindFieldByName("touchpoints");
  if (wants_protobuf(ctx) && field != nullptr) {
    for (auto& tp : tps) {
      auto* dst = dynamic_cast<v1::Touchpoint*>(head.GetReflection()->AddMessage(&head, field));
      if (dst != nullptr) *dst = std::move(tp);
    }
    return reply(ctx, bhttp::status::ok, head);
  }
  return http::json(bhttp::status::ok, to_json_with_touchpoints(head, tps));
}

}  // namespace herald::api
