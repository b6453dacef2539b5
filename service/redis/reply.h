#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace herald::redis {

// One command as its argument vector; binary-safe.
using Command = std::vector<std::string>;

// An owned copy of a Redis reply, so callers never see hiredis types.
struct Reply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string str;            // kString, kStatus, kError
  long long integer = 0;      // kInteger
  std::vector<Reply> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
};

}  // namespace herald::redis
