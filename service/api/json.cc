#include "service/api/json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include "service/api/customer_json.h"
#include "service/api/fast_json.h"
#include "service/http/response.h"

namespace herald::api {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// "premises[0].location" in proto names -> the same path in JSON names, and the last field.
std::string json_path(const Descriptor* desc, std::string_view proto_path,
                      const FieldDescriptor** last) {
  std::string out;
  *last = nullptr;
  while (!proto_path.empty()) {
    auto dot = proto_path.find('.');
    std::string_view seg = proto_path.substr(0, dot);
    proto_path = dot == std::string_view::npos ? std::string_view{} : proto_path.substr(dot + 1);
    auto bracket = seg.find('[');
    std::string name(seg.substr(0, bracket));
    std::string_view index = bracket == std::string_view::npos ? "" : seg.substr(bracket);
    const FieldDescriptor* f = desc ? desc->FindFieldByName(name) : nullptr;
    if (!out.empty()) out += '.';
    out += f ? f->json_name() : name;
    out += index;
    *last = f;
    desc = f ? f->message_type() : nullptr;
  }
  return out;
}

std::string expected_of(const FieldDescriptor* f) {
  if (!f) return "a value of the right type";
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return "a string";
    case FieldDescriptor::CPPTYPE_BOOL:
      return "true or false";
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT:
      return "a number";
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      return "a non-negative whole number";
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
      return "a whole number";
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return f->message_type()->full_name() == "google.protobuf.Timestamp"
                 ? "an RFC 3339 time such as 2026-11-22T18:00:00Z"
                 : "an object";
    case FieldDescriptor::CPPTYPE_ENUM: {
      std::string names;
      const auto* e = f->enum_type();
      for (int i = 1; i < e->value_count(); ++i) {
        if (!names.empty()) names += ", ";
        names += e->value(i)->name();
      }
      return "one of " + names;
    }
  }
  return "a value of the right type";
}

Error from_status(const Descriptor* desc, std::string_view text) {
  // Shapes of protobuf 3.21's messages: "(path): invalid value ...",
  // "(path) name: Cannot find field.", "name: Cannot find field.", or a syntax error.
  constexpr std::string_view kUnknown = ": Cannot find field.";
  if (auto pos = text.find(kUnknown); pos != std::string_view::npos) {
    std::string_view head = text.substr(0, pos);
    std::string path;
    const FieldDescriptor* f = nullptr;
    if (!head.empty() && head.front() == '(') {
      auto close = head.find(')');
      path = json_path(desc, head.substr(1, close - 1), &f);
      head = head.substr(close + 1);
      while (!head.empty() && head.front() == ' ') head.remove_prefix(1);
      path += '.';
    }
    path += head;
    return invalid(path, "unknown field '" + path + "'");
  }
  if (!text.empty() && text.front() == '(') {
    auto close = text.find(')');
    const FieldDescriptor* f = nullptr;
    std::string path = json_path(desc, text.substr(1, close - 1), &f);
    return invalid(path, "field '" + path + "' must be " + expected_of(f));
  }
  std::string message(text);
  if (auto nl = message.find('\n'); nl != std::string::npos) message.resize(nl);
  return invalid("", "malformed JSON: " + message);
}

bool is_protobuf(std::string_view content_type) {
  return content_type.rfind("application/x-protobuf", 0) == 0 ||
         content_type.rfind("application/protobuf", 0) == 0;
}

}  // namespace

Status parse_json(std::string_view json, google::protobuf::Message& msg) {
  if (fast_parse(json, msg)) return ok_status();
  msg.Clear();  // the fast path may have stopped half-way
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &msg, options);
  if (status.ok()) return ok_status();
  return from_status(msg.GetDescriptor(), status.message().as_string());
}

std::string to_json(const google::protobuf::Message& msg) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(msg, &out, options);
  return out;
}

Status parse_body(std::string_view content_type, std::string_view body,
                  google::protobuf::Message& msg) {
  if (is_protobuf(content_type)) {
    if (!msg.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      return invalid("", "body is not a valid " + msg.GetDescriptor()->full_name() + " message");
    }
    return ok_status();
  }
  if (!content_type.empty() && content_type.rfind("application/json", 0) != 0) {
    return make_error(ErrorCode::kUnsupportedMediaType,
                      "Content-Type must be application/json or application/x-protobuf");
  }
  return parse_json(body, msg);
}

Status parse_body(const http::Context& ctx, google::protobuf::Message& msg) {
  return parse_body(ctx.header(bhttp::field::content_type), ctx.request.body(), msg);
}

bool wants_protobuf(const http::Context& ctx) {
  return is_protobuf(ctx.header(bhttp::field::accept));
}

http::Response reply(const http::Context& ctx, bhttp::status status,
                     const google::protobuf::Message& msg) {
  if (wants_protobuf(ctx)) {
    return http::protobuf(status, msg.SerializeAsString());
  }
  // Customers and preferences are the API's hottest answers: written without reflection.
  if (msg.GetDescriptor() == v1::Customer::descriptor()) {
    return http::json(status, customer_to_json(static_cast<const v1::Customer&>(msg)));
  }
  if (msg.GetDescriptor() == v1::Preferences::descriptor()) {
    return http::json(status, preferences_to_json(static_cast<const v1::Preferences&>(msg)));
  }
  return http::json(status, to_json(msg));
}

}  // namespace herald::api
