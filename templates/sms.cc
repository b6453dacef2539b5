#include "templates/sms.h"

#include <array>
#include <cstdint>

namespace herald::templates {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// The code point of `s` at `i`, moving `i` past it; malformed bytes become U+FFFD, which forces
// UCS-2 as a carrier would.
char32_t next_char(std::string_view s, size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    ++i;
    return b;
  }
  const size_t len = (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return kReplacement;
  }
  char32_t cp = b & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c >> 6) != 0x2) {
      ++i;
      return kReplacement;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  i += len;
  return cp;
}

constexpr bool gsm_basic(char32_t c) {
  if (c >= 0x20 && c < 0x7F) {
    // Printable ASCII is basic except the extension characters and the backtick.
    switch (c) {
      case '`': case '^': case '{': case '}': case '\\': case '[': case ']': case '~': case '|':
        return false;
      default:
        return true;
    }
  }
  constexpr std::u32string_view kOthers = U"\n\r£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà";
  return kOthers.find(c) != std::u32string_view::npos;
}

constexpr bool gsm_extension(char32_t c) {
  constexpr std::u32string_view kExtension = U"\f^{}\\[~]|€";
  return kExtension.find(c) != std::u32string_view::npos;
}

// GSM-7 septets of a character: 1 in the basic table, 2 in the extension table, 0 in neither.
constexpr int gsm_septets(char32_t c) { return gsm_basic(c) ? 1 : gsm_extension(c) ? 2 : 0; }

constexpr std::array<uint8_t, 0x80> kAsciiSeptets = [] {
  std::array<uint8_t, 0x80> t{};
  for (char32_t c = 0; c < t.size(); ++c) t[c] = static_cast<uint8_t>(gsm_septets(c));
  return t;
}();

int septets(char32_t c) { return c < kAsciiSeptets.size() ? kAsciiSeptets[c] : gsm_septets(c); }

}  // namespace

SmsInfo sms_info(std::string_view utf8) {
  bool gsm7 = true;
  for (size_t i = 0; i < utf8.size() && gsm7;) {
    gsm7 = septets(next_char(utf8, i)) != 0;
  }
  const int single = gsm7 ? 160 : 70;
  const int multi = gsm7 ? 153 : 67;
  int total = 0;
  int split = 1;  // segments if the text is split: whole characters of `multi` units each
  int used = 0;   // units in the last of those
  for (size_t i = 0; i < utf8.size();) {
    const char32_t c = next_char(utf8, i);
    const int cost = gsm7 ? septets(c) : (c > 0xFFFF ? 2 : 1);
    total += cost;
    if (used + cost > multi) {
      ++split;
      used = 0;
    }
    used += cost;
  }
  const int segments = total == 0 ? 0 : total <= single ? 1 : split;
  return SmsInfo{gsm7, segments, total};
}

}  // namespace herald::templates
