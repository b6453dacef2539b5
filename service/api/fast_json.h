#pragma once

#include <google/protobuf/message.h>

#include <string_view>

namespace herald::api {

// JSON -> protobuf via simdjson and reflection, for the shapes bulk import sends: with the
// same result as protobuf's JsonStringToMessage (default options) whenever it returns true.
// Returns false, leaving msg unspecified, on invalid input and on anything it does not handle
// exactly (oneofs, maps, bytes, floats, well-known types, numbers as strings, enums by number,
// duplicate keys): the caller then runs protobuf's parser, which has the canonical errors.
bool fast_parse(std::string_view json, google::protobuf::Message& msg);

}  // namespace herald::api
