#pragma once

// Pieces of a JSON writer that prints exactly what protobuf's JSON mapping prints (to_json,
// every primitive field present), for the answers that are hot enough to skip its reflection:
// journeys (touchpoint_json.cc) and customers (customer_json.cc). Unit tests compare both
// writers with protobuf's printer byte for byte.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "service/common/json_string.h"

namespace herald::api::json_writer {

template <class Enum>
void append_enum(std::string& out, const google::protobuf::EnumDescriptor* d, Enum value) {
  const auto* v = d->FindValueByNumber(static_cast<int>(value));
  if (v == nullptr) {
    out += std::to_string(static_cast<int>(value));  // what protobuf prints for unknown values
  } else {
    out.push_back('"');
    out += v->name();
    out.push_back('"');
  }
}

// True when protobuf's printer leaves every character of `s` as append_field writes it: ASCII,
// and the Latin, Greek, Cyrillic and Hebrew letters (U+00A0 to U+05FF but the soft hyphen).
// Other text (U+2028, bidi marks, ...) gets escapes of protobuf's own: leave it to to_json.
inline bool plain_text(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x7f) continue;
    if ((c & 0xe0) != 0xc0 || i + 1 >= s.size()) return false;  // only 2-byte sequences
    const auto c2 = static_cast<unsigned char>(s[i + 1]);
    if ((c2 & 0xc0) != 0x80) return false;
    const unsigned cp = ((c & 0x1fu) << 6) | (c2 & 0x3fu);
    if (cp < 0xa0 || cp == 0xad || cp > 0x5ff) return false;
    ++i;
  }
  return true;
}

// "name":"value", with '<' and '>' as protobuf writes them.
inline void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.push_back('"');
  out += name;
  out += "\":";
  if (value.find_first_of("<>") == std::string_view::npos) {
    append_json_string(out, value);
    return;
  }
  std::string escaped;
  append_json_string(escaped, value);
  for (char c : escaped) {
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else {
      out.push_back(c);
    }
  }
}

inline void append_timestamp(std::string& out, std::string_view name,
                             const google::protobuf::Timestamp& t) {
  append_field(out, name, google::protobuf::util::TimeUtil::ToString(t));
}

// protobuf's SimpleDtoa: 15 significant digits, 17 when 15 do not read back the same.
inline void append_double(std::string& out, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  if (std::strtod(buf, nullptr) != v) std::snprintf(buf, sizeof buf, "%.17g", v);
  out += buf;
}

}  // namespace herald::api::json_writer
