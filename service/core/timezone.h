#pragma once

#include <date/tz.h>

#include <chrono>
#include <string>
#include <string_view>

namespace herald::core {

// The IANA zone with this exact name, or nullptr; never throws (date::locate_zone does).
const date::time_zone* find_zone(std::string_view name);

// Local minutes since midnight at instant t in zone tz (tz validated beforehand).
int local_minute_of_day(const date::time_zone* tz, std::chrono::system_clock::time_point t);

// Whether t falls inside quiet hours [start,end) (minutes; the window may wrap midnight).
// start == end is an empty window.
bool in_quiet_hours(const date::time_zone* tz, std::chrono::system_clock::time_point t,
                    int start_min, int end_min);

// The first instant >= t at which quiet hours are over: t itself when t is outside them. An end
// that falls in a DST gap resolves to the first valid local time after the gap; one that occurs
// twice (fall back) resolves to the earliest occurrence not before t.
std::chrono::system_clock::time_point quiet_hours_end(const date::time_zone* tz,
                                                      std::chrono::system_clock::time_point t,
                                                      int start_min, int end_min);

// Local time of day in the customer's language: en "6:00 PM", es "18:00" (others as en).
std::string format_local_time(const date::time_zone* tz, std::chrono::system_clock::time_point t,
                              std::string_view language);

// Local day and time: en "Mon Nov 23, 6:00 PM", es "lun 23 nov, 18:00" (others as en).
std::string format_local_datetime(const date::time_zone* tz,
                                  std::chrono::system_clock::time_point t,
                                  std::string_view language);

}  // namespace herald::core
