#include "service/core/validate.h"

#include <phonenumbers/phonenumberutil.h>

#include <array>
#include <cstdint>
#include <optional>

#include "service/core/phone_validity.h"
#include "service/core/timezone.h"

namespace herald::core {
namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;
using ChannelList = google::protobuf::RepeatedField<int>;

constexpr std::size_t kMaxEmailLength = 254;
constexpr std::size_t kMaxEmailLocalLength = 64;
constexpr std::size_t kMaxPhoneInput = 64;

bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
bool is_alpha(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }
bool is_alnum(char ch) { return is_digit(ch) || is_alpha(ch); }
char to_lower(char ch) { return (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch; }
bool is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Characters, counting UTF-8 lead bytes (protobuf has already rejected invalid UTF-8).
std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return n;
}

bool has_control(std::string_view s) {
  for (char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7F) return true;
  }
  return false;
}

std::string join(std::string_view path, std::string_view leaf) {
  if (path.empty() || leaf.empty()) return std::string(path.empty() ? leaf : path);
  std::string out;
  out.reserve(path.size() + 1 + leaf.size());
  out.append(path).append(".").append(leaf);
  return out;
}

std::string indexed(std::string_view base, int i) {
  return std::string(base) + "[" + std::to_string(i) + "]";
}

// Trims a free-text field in place and says what is wrong with it, if anything: names and
// addresses end up in messages, so they are bounded and single-line.
std::optional<std::string> text_problem(std::string* value, std::size_t max_chars) {
  const std::string_view trimmed = trim(*value);
  if (utf8_length(trimmed) > max_chars) {
    return "is too long: at most " + std::to_string(max_chars) + " characters";
  }
  if (has_control(trimmed)) return "must not contain control characters such as newlines";
  if (trimmed.size() != value->size()) *value = std::string(trimmed);
  return std::nullopt;
}

const char* id_problem(std::string_view id) {
  if (id.empty()) return "is required";
  if (id.size() > kMaxIdLength) return "is too long: at most 64 characters";
  if (!is_alnum(id.front())) return "must start with a letter or a digit";
  for (char ch : id) {
    if (!is_alnum(ch) && ch != '.' && ch != '_' && ch != '-') {
      return "may only contain letters, digits, '.', '_' and '-'";
    }
  }
  return nullptr;
}

constexpr const char* kHhmmExpected = "must be a time of day as HH:MM, from 00:00 to 23:59";
constexpr const char* kZipExpected = "must be a US ZIP code: 5 digits, or ZIP+4 as 12345-6789";

// Trims and dashes a ZIP in place; false when it is not a US ZIP or ZIP+4.
bool normalize_zip_in_place(std::string* zip) {
  const std::string_view z = trim(*zip);
  auto digits = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      if (!is_digit(z[i])) return false;
    }
    return true;
  };
  if ((z.size() == 5 && digits(0, 5)) ||
      (z.size() == 10 && z[5] == '-' && digits(0, 5) && digits(6, 10))) {
    if (z.size() != zip->size()) *zip = std::string(z);
    return true;
  }
  if (z.size() == 9 && digits(0, 9)) {
    *zip = std::string(z.substr(0, 5)) + "-" + std::string(z.substr(5));
    return true;
  }
  return false;
}

// PhoneNumberUtil::Parse runs a dozen ICU regexes (~25us), too slow for bulk import. The
// common clean inputs, "+<digits>" and 10/11-digit NANP numbers with punctuation, are built
// directly; false sends everything else (letters, extensions, trunk prefixes) to Parse.
bool parse_plain_phone(const PhoneNumberUtil& util, std::string_view text,
                       const std::string& region, PhoneNumber* out) {
  char digits[18];
  std::size_t n = 0;
  const bool plus = text.front() == '+';
  for (std::size_t i = plus ? 1 : 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (is_digit(ch)) {
      if (n == sizeof digits) return false;
      digits[n++] = ch;
    } else if (ch != ' ' && ch != '(' && ch != ')' && ch != '-' && ch != '.') {
      return false;
    }
  }
  const std::string_view all(digits, n);
  int country_code = 0;
  std::string_view national;
  if (plus) {
    // Country codes are prefix-free: the first known one is the one.
    std::string region_of_code;
    for (std::size_t len = 1; len <= 3 && len < n && country_code == 0; ++len) {
      int candidate = 0;
      for (char d : all.substr(0, len)) candidate = candidate * 10 + (d - '0');
      util.GetRegionCodeForCountryCode(candidate, &region_of_code);
      if (region_of_code != "ZZ") {
        country_code = candidate;
        national = all.substr(len);
      }
    }
  } else if (util.GetCountryCodeForRegion(region) == 1) {
    if (n == 10) national = all;
    if (n == 11 && all.front() == '1') national = all.substr(1);
    country_code = 1;
  }
  // A leading zero must be kept (Italy and others), which Parse knows how to do.
  if (country_code == 0 || national.size() < 2 || national.front() == '0') return false;
  std::uint64_t value = 0;
  for (char d : national) value = value * 10 + static_cast<std::uint64_t>(d - '0');
  out->set_country_code(country_code);
  out->set_national_number(value);
  return true;
}

bool is_email_atext(char ch) {
  if (is_alnum(ch)) return true;
  static constexpr std::string_view kSpecials = "!#$%&'*+/=?^_`{|}~-";
  return kSpecials.find(ch) != std::string_view::npos;
}

bool valid_email_local(std::string_view local) {
  if (local.empty() || local.front() == '.' || local.back() == '.') return false;
  for (std::size_t i = 0; i < local.size(); ++i) {
    if (local[i] == '.') {
      if (local[i - 1] == '.') return false;
    } else if (!is_email_atext(local[i])) {
      return false;
    }
  }
  return true;
}

bool valid_domain_label(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
    return false;
  }
  for (char ch : label) {
    if (!is_alnum(ch) && ch != '-') return false;
  }
  return true;
}

// Top-level domains are letters, or punycode ("xn--...") for internationalised ones.
bool valid_tld(std::string_view tld) {
  if (tld.size() < 2) return false;
  if (tld.starts_with("xn--")) return true;
  for (char ch : tld) {
    if (!is_alpha(ch)) return false;
  }
  return true;
}

bool valid_email_domain(std::string_view domain) {
  std::size_t labels = 0;
  std::string_view last;
  while (true) {
    const std::size_t dot = domain.find('.');
    last = domain.substr(0, dot);
    if (!valid_domain_label(last)) return false;
    ++labels;
    if (dot == std::string_view::npos) break;
    domain.remove_prefix(dot + 1);
  }
  return labels >= 2 && valid_tld(last);
}

const char* channel_name(int channel) {
  return v1::Channel_IsValid(channel) ? v1::Channel_Name(static_cast<v1::Channel>(channel)).c_str()
                                      : "an unknown channel";
}

struct KindChannels {
  std::string_view json_name;
  const ChannelList& channels;
};

std::array<KindChannels, 3> kinds_of(const v1::ChannelChoice& c) {
  return {{{"OUTAGE", c.outage()},
           {"PLANNED_MAINTENANCE", c.planned_maintenance()},
           {"BOIL_WATER_ADVISORY", c.boil_water_advisory()}}};
}

std::string channel_path(std::string_view path, std::string_view kind, int i) {
  return indexed(join(join(path, "channels"), kind), i);
}

Status validate_channel_list(const ChannelList& list, std::string_view path,
                             std::string_view kind) {
  for (int i = 0; i < list.size(); ++i) {
    const int channel = list.Get(i);
    if (channel == v1::CHANNEL_UNSPECIFIED || !v1::Channel_IsValid(channel)) {
      return invalid(channel_path(path, kind, i), "must be one of SMS, EMAIL or VOICE");
    }
    if (channel == v1::WEBHOOK) {
      return invalid(channel_path(path, kind, i),
                     "cannot be WEBHOOK: webhooks are set up by the utility, not chosen per "
                     "customer; use SMS, EMAIL or VOICE");
    }
    for (int j = 0; j < i; ++j) {
      if (list.Get(j) == channel) {
        return invalid(channel_path(path, kind, i), std::string("lists ") + channel_name(channel) +
                                                        " more than once; name each channel once");
      }
    }
  }
  return ok_status();
}

Status validate_quiet_hours(v1::Preferences& p, std::string_view path) {
  const v1::QuietHours& q = p.quiet_hours();
  if (q.start().empty() && q.end().empty()) {
    p.clear_quiet_hours();  // one canonical form for "no quiet hours"
    return ok_status();
  }
  auto field = [&](std::string_view leaf) { return join(join(path, "quietHours"), leaf); };
  if (q.start().empty() || q.end().empty()) {
    return invalid(field(q.start().empty() ? "start" : "end"),
                   "is required when the other quiet-hours bound is set: give both start and "
                   "end as HH:MM, or neither");
  }
  const int start = hhmm_minutes(q.start());
  if (start < 0) return invalid(field("start"), kHhmmExpected);
  const int end = hhmm_minutes(q.end());
  if (end < 0) return invalid(field("end"), kHhmmExpected);
  if (start == end) {
    return invalid(field("end"), "must differ from start; omit quiet hours to have none");
  }
  return ok_status();
}

Status normalize_language(v1::Customer& c) {
  if (c.language().empty()) {
    c.set_language("en");
    return ok_status();
  }
  // "es-MX" and "EN" select the same templates as "es" and "en".
  const std::string_view tag = c.language();
  std::string primary(tag.substr(0, tag.find_first_of("-_")));
  for (char& ch : primary) ch = to_lower(ch);
  if (!supported_language(primary)) {
    return invalid("language", "is not a supported language; expected \"en\" or \"es\"");
  }
  if (primary != tag) c.set_language(std::move(primary));
  return ok_status();
}

struct Problem {
  std::string_view leaf;  // under the checked object; empty for the object itself
  const char* message = nullptr;
};

Problem location_problem(const v1::LatLon& loc) {
  // Written as !(in range) so that NaN is rejected too.
  if (!(loc.lat() >= -kMaxLatitude && loc.lat() <= kMaxLatitude)) {
    return {"lat",
            "must be a latitude between -85.0511287 and 85.0511287 (the map index ends "
            "there)"};
  }
  if (!(loc.lon() >= -180.0 && loc.lon() <= 180.0)) {
    return {"lon", "must be a longitude between -180 and 180"};
  }
  if (loc.lat() == 0.0 && loc.lon() == 0.0) {
    return {"", "is 0,0, which is almost certainly a missing location; omit it instead"};
  }
  return {};
}

Status validate_premise(v1::Customer& c, int index) {
  v1::Premise& p = *c.mutable_premises(index);
  auto field = [&](std::string_view leaf) { return join(indexed("premises", index), leaf); };
  if (const char* why = id_problem(p.id())) return invalid(field("id"), why);
  for (int j = 0; j < index; ++j) {
    if (c.premises(j).id() == p.id()) {
      return invalid(field("id"), "repeats the id of premises[" + std::to_string(j) +
                                      "]; each premise of a customer needs its own id");
    }
  }
  if (auto why = text_problem(p.mutable_address(), kMaxAddressLength)) {
    return invalid(field("address"), std::move(*why));
  }
  if (!p.feeder().empty()) {
    if (const char* why = id_problem(p.feeder())) return invalid(field("feeder"), why);
  }
  if (!p.transformer().empty()) {
    if (const char* why = id_problem(p.transformer())) return invalid(field("transformer"), why);
  }
  if (!p.zip().empty() && !normalize_zip_in_place(p.mutable_zip())) {
    return invalid(field("zip"), kZipExpected);
  }
  if (p.has_location()) {
    const Problem problem = location_problem(p.location());
    if (problem.message != nullptr) {
      return invalid(join(field("location"), problem.leaf), problem.message);
    }
  }
  return ok_status();
}

Status validate_premises(v1::Customer& c) {
  if (c.premises_size() == 0) {
    return invalid("premises", "must list at least one premise the customer is served at");
  }
  if (c.premises_size() > kMaxPremises) {
    return invalid("premises", "lists too many premises: at most " + std::to_string(kMaxPremises));
  }
  for (int i = 0; i < c.premises_size(); ++i) {
    if (Status s = validate_premise(c, i); !s) return s;
  }
  return ok_status();
}

Status validate_contact(v1::Customer& c, std::string_view default_region) {
  if (auto why = text_problem(c.mutable_name(), kMaxNameLength)) {
    return invalid("name", std::move(*why));
  }
  if (!c.phone().empty()) {
    auto phone = normalize_phone("phone", c.phone(), default_region);
    if (!phone) return std::move(phone).take_error();
    if (*phone != c.phone()) c.set_phone(std::move(*phone));
  }
  if (!c.email().empty()) {
    auto email = normalize_email("email", c.email());
    if (!email) return std::move(email).take_error();
    if (*email != c.email()) c.set_email(std::move(*email));
  }
  if (c.phone().empty() && c.email().empty()) {
    return invalid("phone",
                   "is required when there is no email: a customer needs a phone "
                   "number or an email address to be notified");
  }
  return ok_status();
}

Status check_reachable(const v1::Customer& c) {
  for (const KindChannels& kind : kinds_of(c.preferences().channels())) {
    for (int i = 0; i < kind.channels.size(); ++i) {
      const int channel = kind.channels.Get(i);
      const bool needs_phone = channel == v1::SMS || channel == v1::VOICE;
      if (needs_phone && c.phone().empty()) {
        return invalid(channel_path("preferences", kind.json_name, i),
                       std::string(channel_name(channel)) +
                           " needs a phone number on the customer; add one or choose EMAIL");
      }
      if (channel == v1::EMAIL && c.email().empty()) {
        return invalid(channel_path("preferences", kind.json_name, i),
                       "EMAIL needs an email address on the customer; add one or choose SMS");
      }
    }
  }
  return ok_status();
}

}  // namespace

int hhmm_minutes(std::string_view text) {
  if (text.size() != 5 || !is_digit(text[0]) || !is_digit(text[1]) || text[2] != ':' ||
      !is_digit(text[3]) || !is_digit(text[4])) {
    return -1;
  }
  const int hours = (text[0] - '0') * 10 + (text[1] - '0');
  const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  return hours > 23 || minutes > 59 ? -1 : hours * 60 + minutes;
}

bool supported_language(std::string_view code) { return code == "en" || code == "es"; }

Status validate_id(std::string_view field, std::string_view id) {
  if (const char* why = id_problem(id)) return invalid(std::string(field), why);
  return ok_status();
}

Result<int> parse_hhmm(std::string_view field, std::string_view text) {
  const int minutes = hhmm_minutes(text);
  if (minutes < 0) return invalid(std::string(field), kHhmmExpected);
  return minutes;
}

Result<std::string> normalize_phone(std::string_view field, std::string_view raw,
                                    std::string_view default_region) {
  const std::string_view text = trim(raw);
  if (text.empty()) return invalid(std::string(field), "is required");
  if (text.size() > kMaxPhoneInput) {
    return invalid(std::string(field), "is too long for a phone number");
  }
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  const std::string region(default_region);
  PhoneNumber number;
  std::optional<bool> valid;
  if (parse_plain_phone(util, text, region, &number)) {
    valid =
        PhoneValidity::instance().valid(number.country_code(), number.national_number(), region);
  } else {
    const auto parsed = util.Parse(std::string(text), region, &number);
    if (parsed == PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR) {
      return invalid(std::string(field),
                     "needs a country code: write it as + and the country code followed by the "
                     "number");
    }
    if (parsed != PhoneNumberUtil::NO_PARSING_ERROR) number.Clear();
  }
  // libphonenumber answers what PhoneValidity left open. Matching one region first is half the
  // cost of IsValidNumber, which tries every region sharing the country code (+1 has over
  // twenty); both accept exactly the same numbers here.
  if (!valid && number.has_national_number()) {
    valid = util.IsValidNumberForRegion(number, region) || util.IsValidNumber(number);
  }
  if (!valid.value_or(false)) {
    return invalid(std::string(field),
                   "is not a valid phone number; expected + and the country code followed by "
                   "the number, or a national number valid in region " +
                       region);
  }
  if (number.has_extension()) {
    return invalid(std::string(field),
                   "must not include an extension; give a number that "
                   "reaches the customer directly");
  }
  std::string e164;
  util.Format(number, PhoneNumberUtil::E164, &e164);
  return e164;
}

Result<std::string> normalize_email(std::string_view field, std::string_view raw) {
  const std::string_view text = trim(raw);
  if (text.empty()) return invalid(std::string(field), "is required");
  if (text.size() > kMaxEmailLength) {
    return invalid(std::string(field), "is too long: at most 254 characters");
  }
  const std::size_t at = text.find('@');
  if (at == std::string_view::npos || text.find('@', at + 1) != std::string_view::npos) {
    return invalid(std::string(field), "must contain exactly one '@', as in name@example.com");
  }
  const std::string_view local = text.substr(0, at);
  if (local.size() > kMaxEmailLocalLength) {
    return invalid(std::string(field), "has a part before '@' longer than 64 characters");
  }
  if (!valid_email_local(local)) {
    return invalid(std::string(field),
                   "has an invalid part before '@': use letters, digits and !#$%&'*+/=?^_`{|}~-, "
                   "with single dots between them and no spaces");
  }
  if (!valid_email_domain(text.substr(at + 1))) {
    return invalid(std::string(field),
                   "has an invalid domain: expected a name such as example.com, made of letters, "
                   "digits and hyphens");
  }
  std::string out(text);
  for (std::size_t i = at + 1; i < out.size(); ++i) out[i] = to_lower(out[i]);
  return out;
}

Status validate_time_zone(std::string_view field, std::string_view tz) {
  if (tz.empty()) {
    return invalid(std::string(field), "is required: an IANA time zone such as America/New_York");
  }
  if (find_zone(tz) == nullptr) {
    return invalid(std::string(field),
                   "is not a known IANA time zone; expected a name such as America/New_York "
                   "(names are case-sensitive)");
  }
  return ok_status();
}

Result<std::string> normalize_zip(std::string_view field, std::string_view raw) {
  std::string zip(raw);
  if (!normalize_zip_in_place(&zip)) return invalid(std::string(field), kZipExpected);
  return zip;
}

Status validate_preferences(v1::Preferences& p, std::string_view path) {
  if (p.cadence() == v1::CADENCE_UNSPECIFIED) {
    p.set_cadence(v1::MILESTONES);
  } else if (!v1::Cadence_IsValid(p.cadence())) {
    return invalid(join(path, "cadence"),
                   "must be one of EVERY_UPDATE, MILESTONES or RESTORATION_ONLY");
  }
  if (p.has_quiet_hours()) {
    if (Status s = validate_quiet_hours(p, path); !s) return s;
  }
  if (p.has_max_per_day() && (p.max_per_day() < 1 || p.max_per_day() > kMaxPerDayLimit)) {
    return invalid(join(path, "maxPerDay"), "must be between 1 and 50 messages a day");
  }
  for (const KindChannels& kind : kinds_of(p.channels())) {
    if (Status s = validate_channel_list(kind.channels, path, kind.json_name); !s) return s;
  }
  return ok_status();
}

Status validate_customer(v1::Customer& c, std::string_view id_from_path,
                         std::string_view default_region) {
  if (!id_from_path.empty()) {
    if (c.id().empty()) {
      c.set_id(std::string(id_from_path));
    } else if (c.id() != id_from_path) {
      return invalid("id", "must be empty or equal to the customer id in the URL");
    }
  }
  if (Status s = validate_id("id", c.id()); !s) return s;
  if (Status s = validate_contact(c, default_region); !s) return s;
  if (Status s = normalize_language(c); !s) return s;
  if (Status s = validate_time_zone("timeZone", c.time_zone()); !s) return s;
  if (Status s = validate_premises(c); !s) return s;
  if (Status s = validate_preferences(*c.mutable_preferences(), "preferences"); !s) return s;
  return check_reachable(c);
}

Status validate_preference_change(v1::Customer& c) {
  if (Status s = validate_preferences(*c.mutable_preferences(), "preferences"); !s) return s;
  return check_reachable(c);
}

}  // namespace herald::core
