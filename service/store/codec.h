#pragma once

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
EncodedCustomer encode_customer(const v1::Customer& customer, const core::Sealer& sealer);

// The reverse; created_ms comes from the id map, the rest from the record.
Result<v1::Customer> decode_customer(std::string_view id, std::string_view record,
                                     int64_t created_ms, const core::Sealer& sealer);

}  // namespace herald::store
