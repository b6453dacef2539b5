#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald::journey {

// A touchpoint's place in a stream: the entry id "<ms>-<seq>" (the write time, so time ranges
// are id ranges) and, as writers of many touchpoints put several in one entry, the touchpoint's
// index in its entry; printed "<ms>-<seq>" for the first, "<ms>-<seq>.<sub>" for the others.
struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;
  uint32_t sub = 0;

  // "<ms>-<seq>.<sub>", "<ms>-<seq>" or "<ms>"
  static std::optional<StreamId> parse(std::string_view text);
  std::string str() const;
  std::string entry() const;  // "<ms>-<seq>": the stream entry, for XRANGE
  auto operator<=>(const StreamId&) const = default;
};

}  // namespace herald::journey
