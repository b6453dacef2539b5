#include "service/journey/stream_id.h"

#include <charconv>

namespace herald::journey {
namespace {

bool parse_number(std::string_view text, uint64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::optional<StreamId> StreamId::parse(std::string_view text) {
  StreamId id;
  const auto dash = text.find('-');
  if (!parse_number(text.substr(0, dash), id.ms)) return std::nullopt;
  if (dash != std::string_view::npos && !parse_number(text.substr(dash + 1), id.seq)) {
    return std::nullopt;
  }
  return id;
}

std::string StreamId::str() const { return std::to_string(ms) + "-" + std::to_string(seq); }

}  // namespace herald::journey
