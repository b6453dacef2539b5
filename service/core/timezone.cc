#include "service/core/timezone.h"

#include <algorithm>
#include <cstdio>

namespace herald::core {
namespace {

using std::chrono::system_clock;

constexpr const char* kEnDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kEnMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
// CLDR abbreviations, spelled here so output never depends on the host's locales.
constexpr const char* kEsDays[] = {"dom", "lun", "mar", "mié", "jue", "vie", "sáb"};
constexpr const char* kEsMonths[] = {"ene", "feb", "mar",  "abr", "may", "jun",
                                     "jul", "ago", "sept", "oct", "nov", "dic"};

bool window_contains(int start_min, int end_min, int minute) {
  if (start_min < end_min) return minute >= start_min && minute < end_min;
  if (start_min > end_min) return minute >= start_min || minute < end_min;
  return false;
}

date::local_seconds to_local(const date::time_zone* tz, system_clock::time_point t) {
  return tz->to_local(std::chrono::floor<std::chrono::seconds>(t));
}

int minute_of_day(date::local_seconds local) {
  auto since_midnight = local - std::chrono::floor<date::days>(local);
  return static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(since_midnight).count());
}

// The first instant >= not_before at which the local clock shows `local`.
system_clock::time_point resolve_local(const date::time_zone* tz, date::local_seconds local,
                                       system_clock::time_point not_before) {
  const date::sys_seconds as_utc{local.time_since_epoch()};
  const date::local_info info = tz->get_info(local);
  switch (info.result) {
    case date::local_info::nonexistent:
      return info.first.end;  // the instant the gap ends: the first valid local time after it
    case date::local_info::ambiguous: {
      const system_clock::time_point first = as_utc - info.first.offset;
      return first >= not_before ? first : system_clock::time_point(as_utc - info.second.offset);
    }
    default:
      return as_utc - info.first.offset;
  }
}

bool is_spanish(std::string_view language) { return language == "es"; }

std::string format_clock(date::local_seconds local, std::string_view language) {
  const int minute = minute_of_day(local);
  const int h = minute / 60;
  const int m = minute % 60;
  char buf[16];
  if (is_spanish(language)) {
    std::snprintf(buf, sizeof buf, "%02d:%02d", h, m);
  } else {
    std::snprintf(buf, sizeof buf, "%d:%02d %s", h % 12 == 0 ? 12 : h % 12, m,
                  h < 12 ? "AM" : "PM");
  }
  return buf;
}

}  // namespace

const date::time_zone* find_zone(std::string_view name) {
  // "localtime" is the host's own zone file, not an IANA name.
  if (name.empty() || name == "localtime") return nullptr;
  const auto& zones = date::get_tzdb().zones;
  auto it =
      std::lower_bound(zones.begin(), zones.end(), name,
                       [](const date::time_zone& z, std::string_view n) { return z.name() < n; });
  if (it == zones.end() || it->name() != name) return nullptr;
  return &*it;
}

int local_minute_of_day(const date::time_zone* tz, system_clock::time_point t) {
  return minute_of_day(to_local(tz, t));
}

bool in_quiet_hours(const date::time_zone* tz, system_clock::time_point t, int start_min,
                    int end_min) {
  return window_contains(start_min, end_min, local_minute_of_day(tz, t));
}

system_clock::time_point quiet_hours_end(const date::time_zone* tz, system_clock::time_point t,
                                         int start_min, int end_min) {
  const date::local_seconds local = to_local(tz, t);
  const int minute = minute_of_day(local);
  if (!window_contains(start_min, end_min, minute)) return t;
  auto end_day = std::chrono::floor<date::days>(local);
  if (start_min > end_min && minute >= start_min) end_day += date::days{1};
  const date::local_seconds end_local = end_day + std::chrono::minutes{end_min};
  return std::max(resolve_local(tz, end_local, t), t);
}

std::string format_local_time(const date::time_zone* tz, system_clock::time_point t,
                              std::string_view language) {
  return format_clock(to_local(tz, t), language);
}

std::string format_local_datetime(const date::time_zone* tz, system_clock::time_point t,
                                  std::string_view language) {
  const date::local_seconds local = to_local(tz, t);
  const auto day = std::chrono::floor<date::days>(local);
  const date::year_month_day ymd{day};
  const unsigned weekday = date::weekday{day}.c_encoding();
  const unsigned month = static_cast<unsigned>(ymd.month()) - 1;
  const unsigned mday = static_cast<unsigned>(ymd.day());
  const std::string clock = format_clock(local, language);
  char buf[64];
  if (is_spanish(language)) {
    std::snprintf(buf, sizeof buf, "%s %u %s, %s", kEsDays[weekday], mday, kEsMonths[month],
                  clock.c_str());
  } else {
    std::snprintf(buf, sizeof buf, "%s %s %u, %s", kEnDays[weekday], kEnMonths[month], mday,
                  clock.c_str());
  }
  return buf;
}

}  // namespace herald::core
