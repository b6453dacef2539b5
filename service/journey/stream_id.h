#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald::journey {

// A Redis stream entry id, "<ms>-<seq>": the write time, so time ranges are id ranges.
struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;

  static std::optional<StreamId> parse(std::string_view text);  // "<ms>-<seq>" or "<ms>"
  std::string str() const;
  auto operator<=>(const StreamId&) const = default;
};

}  // namespace herald::journey
