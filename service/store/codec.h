#pragma once

#include <google/protobuf/arena.h>

#include <cstdint>
#include <string>

#include "herald/v1/customer.pb.h"
#include "service/common/result.h"
#include "service/core/crypto.h"

namespace herald::store {

// A customer as the batch script takes it.
struct EncodedCustomer {
  std::string record;  // CustomerRecord bytes, contact details sealed
  std::string index;   // the script's index-list
  std::string geo;     // "lon lat" per located premise
};

// Seals the contact details (bound to the customer id) and strips them from the profile.
// created_ms: when the customer was first stored (the caller knows: now, or the old record's).
EncodedCustomer encode_customer(const v1::Customer& customer, const core::Sealer& sealer,
                                int64_t created_ms);

// Just the record of encode_customer; the second leaves `customer` emptied (its fields are
// moved into the record, not copied).
std::string encode_record(const v1::Customer& customer, const core::Sealer& sealer,
                          int64_t created_ms);
std::string encode_record(v1::Customer&& customer, const core::Sealer& sealer, int64_t created_ms);

// The index entries a stored customer is in: the script's index-list (see scripts.cc), each
// premise with its GEO cell key, block key and block member when it has a location.
std::string index_list(const v1::Customer& customer);
// Its located premises for the script: "lon lat" each, joined by ';'.
std::string geo_list(const v1::Customer& customer);

// The reverse of encode_customer.
Result<v1::Customer> decode_customer(std::string_view id, std::string_view record,
                                     const core::Sealer& sealer);
// The same for a record found by number: the id is taken from the record itself.
Result<v1::Customer> decode_record(std::string_view record, const core::Sealer& sealer);
// The same with the customer and everything decoding it needs allocated on `arena` (freed with
// the arena, not one by one): the planner opens a whole batch's records so.
Result<v1::Customer*> decode_record(std::string_view record, const core::Sealer& sealer,
                                    google::protobuf::Arena& arena);

}  // namespace herald::store
