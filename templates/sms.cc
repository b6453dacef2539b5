#include "templates/sms.h"

#include <vector>

namespace herald::templates {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Decodes UTF-8; malformed bytes become U+FFFD, which forces UCS-2 as a carrier would.
std::vector<char32_t> decode(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) {
      out.push_back(kReplacement);
      ++i;
      continue;
    }
    char32_t cp = len == 1 ? b : b & (0x7F >> len);
    bool ok = true;
    for (int k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      ok = ok && (c >> 6) == 0x2;
      cp = (cp << 6) | (c & 0x3F);
    }
    out.push_back(ok ? cp : kReplacement);
    i += ok ? len : 1;
  }
  return out;
}

bool gsm_basic(char32_t c) {
  if (c >= 0x20 && c < 0x7F) {
    // Printable ASCII is basic except the extension characters and the backtick.
    switch (c) {
      case '`': case '^': case '{': case '}': case '\\': case '[': case ']': case '~': case '|':
        return false;
      default:
        return true;
    }
  }
  static constexpr std::u32string_view kOthers =
      U"\n\r£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà";
  return kOthers.find(c) != std::u32string_view::npos;
}

bool gsm_extension(char32_t c) {
  static constexpr std::u32string_view kExtension = U"\f^{}\\[~]|€";
  return kExtension.find(c) != std::u32string_view::npos;
}

// Packs per-character costs into segments of `single` units, or `multi` units once split.
int segments_for(const std::vector<int>& costs, int total, int single, int multi) {
  if (total == 0) return 0;
  if (total <= single) return 1;
  int segments = 1;
  int used = 0;
  for (const int cost : costs) {
    if (used + cost > multi) {
      ++segments;
      used = 0;
    }
    used += cost;
  }
  return segments;
}

}  // namespace

SmsInfo sms_info(std::string_view utf8) {
  const std::vector<char32_t> chars = decode(utf8);
  bool gsm7 = true;
  for (const char32_t c : chars) {
    if (!gsm_basic(c) && !gsm_extension(c)) {
      gsm7 = false;
      break;
    }
  }
  std::vector<int> costs;
  costs.reserve(chars.size());
  int total = 0;
  for (const char32_t c : chars) {
    const int cost = gsm7 ? (gsm_basic(c) ? 1 : 2) : (c > 0xFFFF ? 2 : 1);
    costs.push_back(cost);
    total += cost;
  }
  const int segments =
      gsm7 ? segments_for(costs, total, 160, 153) : segments_for(costs, total, 70, 67);
  return SmsInfo{gsm7, segments, total};
}

}  // namespace herald::templates
