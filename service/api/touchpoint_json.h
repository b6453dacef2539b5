#pragma once

#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "herald/v1/touchpoint.pb.h"
#include "service/http/types.h"

namespace herald::api {

// Appends one touchpoint exactly as protobuf's JSON mapping prints it with every primitive
// field present (the output of to_json), without the reflection and allocations that make
// the generic printer cost ~8 us per entry: a 1,000-entry journey is mostly touchpoints.
void append_touchpoint_json(std::string& out, const v1::Touchpoint& tp);

// `head`'s JSON with its (empty) repeated field "touchpoints" filled from `tps`; the same
// bytes as to_json of the message holding them.
std::string to_json_with_touchpoints(const google::protobuf::Message& head,
                                     const std::vector<v1::Touchpoint>& tps);

// A page answer (a message with a repeated Touchpoint field "touchpoints", left empty):
// x-protobuf when the client asks for it (the touchpoints moved into `head`), else JSON.
http::Response reply_with_touchpoints(const http::Context& ctx, google::protobuf::Message& head,
                                      std::vector<v1::Touchpoint> tps);

}  // namespace herald::api
