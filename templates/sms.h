#pragma once

#include <string_view>

namespace herald::templates {

// How a message travels as SMS: its alphabet, its length in that alphabet, and its parts.
struct SmsInfo {
  bool gsm7 = true;
  int segments = 0;
  int units = 0;  // septets for GSM-7 (extension characters count 2), UTF-16 units for UCS-2
};

// GSM 03.38 basic and extension tables; 160/153 septets or 70/67 UTF-16 units per segment.
// A character is never split across two segments, as handsets reassemble whole characters.
SmsInfo sms_info(std::string_view utf8);

}  // namespace herald::templates
