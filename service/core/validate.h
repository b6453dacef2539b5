#pragma once

#include <string>
#include <string_view>

#include "herald/v1/customer.pb.h"
#include "service/common/result.h"

// Validation and normalisation of customers and their preferences. Errors name the offending
// field by its protobuf JSON path ("premises[1].location.lat", "preferences.quietHours.start")
// and never echo contact details back, since error messages may be logged.
namespace herald::core {

inline constexpr std::size_t kMaxIdLength = 64;
inline constexpr std::size_t kMaxNameLength = 200;     // characters, not bytes
inline constexpr std::size_t kMaxAddressLength = 200;  // characters, not bytes
inline constexpr int kMaxPremises = 50;
inline constexpr unsigned kMaxPerDayLimit = 50;
// The latitudes a premise may have: Redis's GEO index (Web Mercator) ends at 85.05112878, and
// a location is written to it with seven decimals, which must not round past that.
inline constexpr double kMaxLatitude = 85.0511287;

// Languages with templates: "en", "es".
bool supported_language(std::string_view code);

// 1..64 characters of [A-Za-z0-9._-], starting with a letter or digit.
Status validate_id(std::string_view field, std::string_view id);

// Strict "HH:MM" 00:00..23:59 -> minutes since midnight.
Result<int> parse_hhmm(std::string_view field, std::string_view text);
// The same without an error: -1 unless text is exactly HH:MM within 00:00..23:59.
int hhmm_minutes(std::string_view text);

// E.164 via libphonenumber; national numbers are read in default_region (e.g. "US").
// Rejects what IsValidNumber rejects, and numbers with an extension (E.164 cannot carry one).
Result<std::string> normalize_phone(std::string_view field, std::string_view raw,
                                    std::string_view default_region);

// Trims, lower-cases the domain; ASCII local@domain.tld, <= 254 chars, local part <= 64.
Result<std::string> normalize_email(std::string_view field, std::string_view raw);

// An IANA zone name known to the system tzdata (see core::find_zone).
Status validate_time_zone(std::string_view field, std::string_view tz);

// US ZIP "12345" or ZIP+4 "12345-6789" (also "123456789", normalised to the dashed form).
Result<std::string> normalize_zip(std::string_view field, std::string_view raw);

// Defaults cadence to MILESTONES; quiet hours both or neither, distinct; maxPerDay 1..50;
// per kind: known channels, no duplicates, no WEBHOOK (that one is configured per utility).
// path is the JSON path of p, usually "preferences".
Status validate_preferences(v1::Preferences& p, std::string_view path);

// Validates and normalises c in place (phone to E.164, email domain lower-cased, language
// defaulted to "en" and reduced to its primary subtag, ZIP+4 dashed, names trimmed).
// id_from_path is the {id} of PUT /v1/customers/{id} (empty for bulk import): the body id must
// be empty or equal to it. A customer needs a phone or an email, and every chosen channel must
// be reachable (SMS/VOICE need a phone, EMAIL an email).
Status validate_customer(v1::Customer& c, std::string_view id_from_path,
                         std::string_view default_region);

// For a stored customer (validated when it was stored) whose preferences alone changed: the
// preferences, and that every chosen channel is reachable.
Status validate_preference_change(v1::Customer& c);

}  // namespace herald::core
