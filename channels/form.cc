#include "channels/form.h"

#include <cctype>
#include <cstdint>

namespace herald::channels {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool unreserved(unsigned char c) {
  return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

void append_encoded(std::string& out, std::string_view text, bool space_as_plus) {
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (unreserved(c)) {
      out += ch;
    } else if (c == ' ' && space_as_plus) {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
}

// A cursor over JSON text; every parse_* returns false on malformed input.
struct JsonCursor {
  std::string_view s;
  size_t i = 0;

  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  bool eat(char c) {
    ws();
    if (i >= s.size() || s[i] != c) return false;
    ++i;
    return true;
  }
  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  bool hex4(uint32_t& v) {
    if (i + 4 > s.size()) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s[i++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
      else return false;
    }
    return true;
  }
  bool parse_string(std::string& out) {
    if (!eat('"')) return false;
    while (i < s.size()) {
      char c = s[i++];
      if (c == '"') return true;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= s.size()) return false;
      char e = s[i++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < s.size() && s[i] == '\\' && s[i + 1] == 'u') {
            i += 2;
            uint32_t lo = 0;
            if (!hex4(lo)) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: out += e;  // \" \\ \/
      }
    }
    return false;
  }
  // Scalars are returned as text; containers are skipped (out left empty).
  bool parse_value(std::string& out, int depth = 0) {
    ws();
    if (i >= s.size() || depth > 64) return false;
    char c = s[i];
    if (c == '"') return parse_string(out);
    if (c == '{' || c == '[') {
      char close = c == '{' ? '}' : ']';
      ++i;
      if (eat(close)) return true;
      do {
        std::string ignored;
        if (c == '{' && (!parse_string(ignored) || !eat(':'))) return false;
        ignored.clear();
        if (!parse_value(ignored, depth + 1)) return false;
      } while (eat(','));
      return eat(close);
    }
    size_t start = i;
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
           s[i] != '\n' && s[i] != '\r' && s[i] != '\t') {
      ++i;
    }
    out.assign(s.substr(start, i - start));
    return !out.empty();
  }
};

}  // namespace

std::string percent_encode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 2);
  append_encoded(out, text, false);
  return out;
}

std::string form_encode(const FormFields& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (value.empty()) continue;
    if (!out.empty()) out += '&';
    append_encoded(out, name, true);
    out += '=';
    append_encoded(out, value, true);
  }
  return out;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') break;
        out += ch;
    }
  }
  return out;
}

std::optional<std::string> json_member(std::string_view json, std::string_view name) {
  JsonCursor cur{json};
  if (!cur.eat('{')) return std::nullopt;
  if (cur.eat('}')) return std::nullopt;
  do {
    std::string key;
    std::string value;
    if (!cur.parse_string(key) || !cur.eat(':') || !cur.parse_value(value)) return std::nullopt;
    if (key == name) return value;
  } while (cur.eat(','));
  return std::nullopt;
}

std::string redact_numbers(std::string_view text) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  auto phone_char = [&](char c) {
    return digit(c) || c == '+' || c == ' ' || c == '-' || c == '(' || c == ')' || c == '.';
  };
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (!(digit(text[i]) || text[i] == '+' || text[i] == '(')) {
      out += text[i++];
      continue;
    }
    size_t end = i;
    size_t last_digit = std::string_view::npos;
    size_t digits = 0;
    for (; end < text.size() && phone_char(text[end]); ++end) {
      if (digit(text[end])) {
        ++digits;
        last_digit = end;
      }
    }
    if (digits >= 7) {
      out += "[number]";
      i = last_digit + 1;
    } else {
      out += text[i++];
    }
  }
  return out;
}

}  // namespace herald::channels
