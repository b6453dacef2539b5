#pragma once

#include <google/protobuf/message.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::api {

// JSON -> protobuf via simdjson and reflection, for the shapes bulk import sends: with the
// same result as protobuf's JsonStringToMessage (default options) whenever it returns true.
// Returns false, leaving msg unspecified, on invalid input and on anything it does not handle
// exactly (oneofs, maps, bytes, floats, well-known types, numbers as strings, enums by number,
// duplicate keys): the caller then runs protobuf's parser, which has the canonical errors.
bool fast_parse(std::string_view json, google::protobuf::Message& msg);

// The members of a JSON object: each key with whether its value is null, and for a member whose
// value is an object, also "key.sub" for each of its members (one level). nullopt when the text
// is not a JSON object.
struct JsonMember {
  std::string path;
  bool null = false;
  bool object = false;
};
std::optional<std::vector<JsonMember>> object_members(std::string_view json);

}  // namespace herald::api
