#include "service/store/codec.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <climits>
#include <cmath>
#include <iterator>

#include "herald/v1/store.pb.h"
#include "service/core/validate.h"
#include "service/store/keys.h"

namespace herald::store {
namespace {

using google::protobuf::util::TimeUtil;

// Zones stored as a number (CustomerRecord.time_zone_code = 1 + index). Append only: a record
// names its zone by position, so an entry may never move or go. Other zones are kept by name.
constexpr std::string_view kTimeZones[] = {
    "America/New_York",    "America/Chicago",      "America/Denver",
    "America/Los_Angeles", "America/Phoenix",      "America/Anchorage",
    "Pacific/Honolulu",    "America/Puerto_Rico",  "America/Detroit",
    "America/Boise",       "America/Indiana/Indianapolis", "America/Kentucky/Louisville",
    "America/Halifax",     "America/Toronto",      "America/Winnipeg",
    "America/Regina",      "America/Edmonton",     "America/Vancouver",
    "America/St_Johns",    "America/Mexico_City",  "America/Monterrey",
    "America/Tijuana",     "America/Bogota",       "America/Lima",
    "America/Santiago",    "America/Sao_Paulo",    "America/Argentina/Buenos_Aires",
    "Europe/London",       "Europe/Dublin",        "Europe/Lisbon",
    "Europe/Madrid",       "Europe/Paris",         "Europe/Brussels",
    "Europe/Amsterdam",    "Europe/Berlin",        "Europe/Zurich",
    "Europe/Rome",         "Europe/Vienna",        "Europe/Prague",
    "Europe/Warsaw",       "Europe/Copenhagen",    "Europe/Stockholm",
    "Europe/Oslo",         "Europe/Helsinki",      "Europe/Athens",
    "Europe/Bucharest",    "Africa/Johannesburg",  "Asia/Kolkata",
    "Asia/Singapore",      "Asia/Shanghai",        "Asia/Tokyo",
    "Australia/Perth",     "Australia/Adelaide",   "Australia/Brisbane",
    "Australia/Sydney",    "Australia/Melbourne",  "Pacific/Auckland",
    "UTC",                 "Etc/UTC",
};
constexpr int32_t kNoLocation = INT32_MIN;

uint32_t time_zone_code(std::string_view zone) {
  for (size_t k = 0; k < std::size(kTimeZones); ++k) {
    if (kTimeZones[k] == zone) return static_cast<uint32_t>(k + 1);
  }
  return 0;
}

std::string clock_text(uint32_t code) {
  const uint32_t minutes = code - 1;
  return fmt::format("{:02}:{:02}", minutes / 60, minutes % 60);
}

int32_t to_e7(double degrees) { return static_cast<int32_t>(std::llround(degrees * 1e7)); }

Result<v1::CustomerRecord> parse_record(std::string_view record) {
  v1::CustomerRecord stored;
  if (!stored.ParseFromArray(record.data(), static_cast<int>(record.size()))) {
    return make_error(ErrorCode::kInternal, "stored customer record does not parse");
  }
  return stored;
}

// Makes the record's profile the whole customer: puts back what the record keeps apart (the
// sealed contact details, opened into `contact`; locations, zone, quiet hours and times in
// compact form). Works the same whether the messages live on an arena or not.
Status complete(v1::CustomerRecord& stored, v1::Contact& contact, std::string_view id,
                const core::Sealer& sealer) {
  auto opened = sealer.open(stored.sealed_contact(), id);
  if (!opened.ok()) return make_error(ErrorCode::kInternal, "stored contact details do not open");
  if (!contact.ParseFromString(*opened)) {
    return make_error(ErrorCode::kInternal, "stored contact details do not parse");
  }
  v1::Customer& customer = *stored.mutable_customer();
  customer.set_name(std::move(*contact.mutable_name()));
  customer.set_phone(std::move(*contact.mutable_phone()));
  customer.set_email(std::move(*contact.mutable_email()));
  for (int k = 0; k < customer.premises_size() && k < contact.premise_addresses_size(); ++k) {
    customer.mutable_premises(k)->set_address(std::move(*contact.mutable_premise_addresses(k)));
  }
  *customer.mutable_created_at() = TimeUtil::MillisecondsToTimestamp(stored.created_ms());
  if (stored.updated_ms() != 0) {
    *customer.mutable_updated_at() = TimeUtil::MillisecondsToTimestamp(stored.updated_ms());
  }
  if (stored.premise_e7_size() == 2 * customer.premises_size()) {
    for (int k = 0; k < customer.premises_size(); ++k) {
      const int32_t lat = stored.premise_e7(2 * k), lon = stored.premise_e7(2 * k + 1);
      if (lat == kNoLocation) continue;
      v1::LatLon* at = customer.mutable_premises(k)->mutable_location();
      at->set_lat(lat / 1e7);
      at->set_lon(lon / 1e7);
    }
  }
  if (const uint32_t code = stored.time_zone_code(); code != 0) {
    if (code > std::size(kTimeZones)) {
      return make_error(ErrorCode::kInternal, "stored customer record names an unknown time zone");
    }
    customer.set_time_zone(std::string(kTimeZones[code - 1]));
  }
  if (stored.quiet_start() != 0 && stored.quiet_end() != 0) {
    v1::QuietHours* q = customer.mutable_preferences()->mutable_quiet_hours();
    q->set_start(clock_text(stored.quiet_start()));
    q->set_end(clock_text(stored.quiet_end()));
  }
  return ok_status();
}

Result<v1::Customer> decode(v1::CustomerRecord& stored, std::string_view id,
                            const core::Sealer& sealer) {
  v1::Contact contact;
  if (auto done = complete(stored, contact, id, sealer); !done.ok()) {
    return std::move(done).take_error();
  }
  return std::move(*stored.mutable_customer());
}

}  // namespace

std::string index_list(const v1::Customer& customer) {
  std::string index;
  for (const v1::Premise& p : customer.premises()) {
    if (!index.empty()) index += ';';
    index += fmt::format("{},{},{},{},{}", p.id(), premise_key(p.id()), p.feeder(),
                         p.transformer(), p.zip());
    if (p.has_location()) {
      const GeoCell cell = geo_cell(p.location().lat(), p.location().lon());
      index += fmt::format(",{},{},{}", geo_cell_key(cell), geo_block_key(geo_block(cell)),
                           geo_block_member(cell));
    } else {
      index += ",,,";
    }
  }
  return index;
}

std::string geo_list(const v1::Customer& customer) {
  std::string geo;
  for (const v1::Premise& p : customer.premises()) {
    if (!p.has_location()) continue;
    if (!geo.empty()) geo += ';';
    geo += geo_text(p.location().lon());
    geo += ' ';
    geo += geo_text(p.location().lat());
  }
  return geo;
}

namespace {

// Takes the contact details out of the record's profile (moved, not copied) into the sealed
// part, and the fields kept in compact form out of the profile.
std::string finish_record(v1::CustomerRecord& record, const core::Sealer& sealer,
                          int64_t created_ms) {
  v1::Customer* profile = record.mutable_customer();
  // An empty field is left alone: its mutable_ accessor would allocate a string to move.
  v1::Contact contact;
  if (!profile->name().empty()) contact.set_name(std::move(*profile->mutable_name()));
  if (!profile->phone().empty()) contact.set_phone(std::move(*profile->mutable_phone()));
  if (!profile->email().empty()) contact.set_email(std::move(*profile->mutable_email()));
  profile->clear_name();
  profile->clear_phone();
  profile->clear_email();
  profile->clear_created_at();
  for (v1::Premise& p : *profile->mutable_premises()) {
    contact.add_premise_addresses(std::move(*p.mutable_address()));
    p.clear_address();
    record.add_premise_e7(p.has_location() ? to_e7(p.location().lat()) : kNoLocation);
    record.add_premise_e7(p.has_location() ? to_e7(p.location().lon()) : kNoLocation);
    p.clear_location();
  }
  if (profile->has_updated_at()) {
    record.set_updated_ms(TimeUtil::TimestampToMilliseconds(profile->updated_at()));
    profile->clear_updated_at();
  }
  if (const uint32_t code = time_zone_code(profile->time_zone()); code != 0) {
    record.set_time_zone_code(code);
    profile->clear_time_zone();
  }
  if (profile->preferences().has_quiet_hours()) {
    const v1::QuietHours& q = profile->preferences().quiet_hours();
    // Stored as 1 + minutes since midnight when both are exactly HH:MM (as validation leaves them).
    const int start = core::hhmm_minutes(q.start()), end = core::hhmm_minutes(q.end());
    if (start >= 0 && end >= 0) {
      record.set_quiet_start(static_cast<uint32_t>(start + 1));
      record.set_quiet_end(static_cast<uint32_t>(end + 1));
      profile->mutable_preferences()->clear_quiet_hours();
    }
  }
  record.set_sealed_contact(sealer.seal(contact.SerializeAsString(), profile->id()));
  record.set_created_ms(created_ms);
  return record.SerializeAsString();
}

}  // namespace

std::string encode_record(const v1::Customer& customer, const core::Sealer& sealer,
                          int64_t created_ms) {
  v1::CustomerRecord record;
  *record.mutable_customer() = customer;
  return finish_record(record, sealer, created_ms);
}

std::string encode_record(v1::Customer&& customer, const core::Sealer& sealer, int64_t created_ms) {
  v1::CustomerRecord record;
  *record.mutable_customer() = std::move(customer);
  return finish_record(record, sealer, created_ms);
}

EncodedCustomer encode_customer(const v1::Customer& customer, const core::Sealer& sealer,
                                int64_t created_ms) {
  EncodedCustomer out;
  out.record = encode_record(customer, sealer, created_ms);
  out.index = index_list(customer);
  out.geo = geo_list(customer);
  return out;
}

Result<v1::Customer> decode_customer(std::string_view id, std::string_view record,
                                     const core::Sealer& sealer) {
  auto stored = parse_record(record);
  if (!stored.ok()) return std::move(stored).take_error();
  return decode(*stored, id, sealer);
}

Result<v1::Customer> decode_record(std::string_view record, const core::Sealer& sealer) {
  auto stored = parse_record(record);
  if (!stored.ok()) return std::move(stored).take_error();
  const std::string id = stored->customer().id();
  return decode(*stored, id, sealer);
}

Result<v1::Customer*> decode_record(std::string_view record, const core::Sealer& sealer,
                                    google::protobuf::Arena& arena) {
  auto* stored = google::protobuf::Arena::CreateMessage<v1::CustomerRecord>(&arena);
  if (!stored->ParseFromArray(record.data(), static_cast<int>(record.size()))) {
    return make_error(ErrorCode::kInternal, "stored customer record does not parse");
  }
  auto* contact = google::protobuf::Arena::CreateMessage<v1::Contact>(&arena);
  if (auto done = complete(*stored, *contact, stored->customer().id(), sealer); !done.ok()) {
    return std::move(done).take_error();
  }
  return stored->mutable_customer();
}

}  // namespace herald::store
