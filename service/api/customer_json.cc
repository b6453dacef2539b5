#include "service/api/customer_json.h"

#include <initializer_list>
#include <utility>

#include "service/api/json.h"
#include "service/api/json_writer.h"

namespace herald::api {
namespace {

using json_writer::append_double;
using json_writer::append_enum;
using json_writer::append_field;
using json_writer::append_timestamp;
using json_writer::plain_text;

bool plain_preferences(const v1::Preferences& p) {
  return plain_text(p.quiet_hours().start()) && plain_text(p.quiet_hours().end());
}

bool plain_customer(const v1::Customer& c) {
  for (const std::string* s : {&c.id(), &c.name(), &c.phone(), &c.email(), &c.language(),
                               &c.time_zone()}) {
    if (!plain_text(*s)) return false;
  }
  for (const v1::Premise& p : c.premises()) {
    for (const std::string* s : {&p.id(), &p.address(), &p.feeder(), &p.transformer(), &p.zip()}) {
      if (!plain_text(*s)) return false;
    }
  }
  return plain_preferences(c.preferences());
}

// "a":"x","b":"y",... in the given order.
void append_fields(std::string& out,
                   std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  bool first = true;
  for (const auto& [name, value] : fields) {
    if (!first) out.push_back(',');
    first = false;
    append_field(out, name, value);
  }
}

void append_channels(std::string& out, std::string_view name,
                     const google::protobuf::RepeatedField<int>& list) {
  out.push_back('"');
  out += name;
  out += "\":[";
  for (int i = 0; i < list.size(); ++i) {
    if (i > 0) out.push_back(',');
    append_enum(out, v1::Channel_descriptor(), list.Get(i));
  }
  out.push_back(']');
}

void append_preferences(std::string& out, const v1::Preferences& p) {
  out.push_back('{');
  if (p.has_channels()) {
    const v1::ChannelChoice& ch = p.channels();
    out += "\"channels\":{";
    append_channels(out, "OUTAGE", ch.outage());
    out.push_back(',');
    append_channels(out, "PLANNED_MAINTENANCE", ch.planned_maintenance());
    out.push_back(',');
    append_channels(out, "BOIL_WATER_ADVISORY", ch.boil_water_advisory());
    out += "},";
  }
  out += "\"cadence\":";
  append_enum(out, v1::Cadence_descriptor(), p.cadence());
  if (p.has_quiet_hours()) {
    out += ",\"quietHours\":{";
    append_fields(out, {{"start", p.quiet_hours().start()}, {"end", p.quiet_hours().end()}});
    out.push_back('}');
  }
  if (p.has_max_per_day()) {
    out += ",\"maxPerDay\":";
    out += std::to_string(p.max_per_day());
  }
  if (p.has_callback_offers()) {
    out += ",\"callbackOffers\":";
    out += p.callback_offers() ? "true" : "false";
  }
  out.push_back('}');
}

void append_premise(std::string& out, const v1::Premise& p) {
  out.push_back('{');
  append_fields(out, {{"id", p.id()},
                      {"address", p.address()},
                      {"feeder", p.feeder()},
                      {"transformer", p.transformer()},
                      {"zip", p.zip()}});
  if (p.has_location()) {
    out += ",\"location\":{\"lat\":";
    append_double(out, p.location().lat());
    out += ",\"lon\":";
    append_double(out, p.location().lon());
    out.push_back('}');
  }
  out.push_back('}');
}

}  // namespace

std::string preferences_to_json(const v1::Preferences& p) {
  if (!plain_preferences(p)) return to_json(p);
  std::string out;
  out.reserve(160);
  append_preferences(out, p);
  return out;
}

std::string customer_to_json(const v1::Customer& c) {
  if (!plain_customer(c)) return to_json(c);
  std::string out;
  out.reserve(512);
  out.push_back('{');
  append_fields(out, {{"id", c.id()},
                      {"name", c.name()},
                      {"phone", c.phone()},
                      {"email", c.email()},
                      {"language", c.language()},
                      {"timeZone", c.time_zone()}});
  out += ",\"premises\":[";
  for (int i = 0; i < c.premises_size(); ++i) {
    if (i > 0) out.push_back(',');
    append_premise(out, c.premises(i));
  }
  out.push_back(']');
  if (c.has_preferences()) {
    out += ",\"preferences\":";
    append_preferences(out, c.preferences());
  }
  out += ",\"medicallyDependent\":";
  out += c.medically_dependent() ? "true" : "false";
  if (c.has_created_at()) {
    out.push_back(',');
    append_timestamp(out, "createdAt", c.created_at());
  }
  if (c.has_updated_at()) {
    out.push_back(',');
    append_timestamp(out, "updatedAt", c.updated_at());
  }
  out.push_back('}');
  return out;
}

}  // namespace herald::api
