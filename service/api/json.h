#pragma once

#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "service/common/result.h"
#include "service/http/types.h"

namespace herald::api {

// Strict proto3 JSON: unknown fields and wrong types are errors naming the
// field by its JSON path (e.g. "premises[0].location.lat"). The offending
// value is never echoed: it may be a contact detail.
Status parse_json(std::string_view json, google::protobuf::Message& msg);
std::string to_json(const google::protobuf::Message& msg);

// The request body as JSON (default) or application/x-protobuf; other types: 415.
Status parse_body(const http::Context& ctx, google::protobuf::Message& msg);
Status parse_body(std::string_view content_type, std::string_view body,
                  google::protobuf::Message& msg);

// The client asked for application/x-protobuf answers.
bool wants_protobuf(const http::Context& ctx);

// Answers in the format the client accepts (x-protobuf when asked for, else JSON).
http::Response reply(const http::Context& ctx, bhttp::status status,
                     const google::protobuf::Message& msg);

}  // namespace herald::api
