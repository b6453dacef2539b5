#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace herald::redis {

// One command as its argument vector; binary-safe.
using Command = std::vector<std::string>;

// Builders for use inside coroutines: g++ 12 cannot put the array behind a
// braced list into a coroutine frame ("array used as initializer").
template <class... Args>
Command cmd(Args&&... args) {
  return Command{std::string(std::forward<Args>(args))...};
}

using Batch = std::vector<Command>;

template <class... Commands>
Batch batch(Commands&&... commands) {
  Batch b;
  b.reserve(sizeof...(commands));
  (b.push_back(std::forward<Commands>(commands)), ...);
  return b;
}

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
