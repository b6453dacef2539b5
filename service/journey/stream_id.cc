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
  const auto dot = text.find('.');
  if (dot != std::string_view::npos) {
    uint64_t sub = 0;
    if (!parse_number(text.substr(dot + 1), sub) || sub > UINT32_MAX) return std::nullopt;
    id.sub = static_cast<uint32_t>(sub);
    text = text.substr(0, dot);
  }
  const auto dash = text.find('-');
  if (!parse_number(text.substr(0, dash), id.ms)) return std::nullopt;
  if (dash != std::string_view::npos && !parse_number(text.substr(dash + 1), id.seq)) {
    return std::nullopt;
  }
  return id;
}

std::string StreamId::entry() const { return std::to_string(ms) + "-" + std::to_string(seq); }

std::string StreamId::str() const {
  return sub == 0 ? entry() : entry() + "." + std::to_string(sub);
}

}  // namespace herald::journey
