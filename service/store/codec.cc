#include "service/store/codec.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include "herald/v1/store.pb.h"
#include "service/store/keys.h"

namespace herald::store {

using google::protobuf::util::TimeUtil;

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
    geo += fmt::format("{:.7f} {:.7f}", p.location().lon(), p.location().lat());
  }
  return geo;
}

std::string encode_record(const v1::Customer& customer, const core::Sealer& sealer,
                          int64_t created_ms) {
  v1::Contact contact;
  contact.set_name(customer.name());
  contact.set_phone(customer.phone());
  contact.set_email(customer.email());

  v1::CustomerRecord record;
  v1::Customer* profile = record.mutable_customer();
  *profile = customer;
  profile->clear_name();
  profile->clear_phone();
  profile->clear_email();
  profile->clear_created_at();
  for (v1::Premise& p : *profile->mutable_premises()) {
    contact.add_premise_addresses(p.address());
    p.clear_address();
  }
  record.set_sealed_contact(sealer.seal(contact.SerializeAsString(), customer.id()));
  record.set_created_ms(created_ms);
  return record.SerializeAsString();
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
  v1::CustomerRecord stored;
  if (!stored.ParseFromArray(record.data(), static_cast<int>(record.size()))) {
    return make_error(ErrorCode::kInternal, "stored customer record does not parse");
  }
  auto opened = sealer.open(stored.sealed_contact(), id);
  if (!opened.ok()) return make_error(ErrorCode::kInternal, "stored contact details do not open");
  v1::Contact contact;
  if (!contact.ParseFromString(*opened)) {
    return make_error(ErrorCode::kInternal, "stored contact details do not parse");
  }
  v1::Customer customer = std::move(*stored.mutable_customer());
  customer.set_name(contact.name());
  customer.set_phone(contact.phone());
  customer.set_email(contact.email());
  for (int k = 0; k < customer.premises_size() && k < contact.premise_addresses_size(); ++k) {
    customer.mutable_premises(k)->set_address(contact.premise_addresses(k));
  }
  *customer.mutable_created_at() = TimeUtil::MillisecondsToTimestamp(stored.created_ms());
  return customer;
}

}  // namespace herald::store
