#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace herald::store {

// FNV-1a, 32 bits: stable across processes and releases (bucket keys depend on it).
uint32_t fnv1a(std::string_view s);

std::string customer_id_key(std::string_view customer_id);  // cid:{h}
std::string premise_key(std::string_view premise_id);       // pm:{h}
std::string record_key(uint64_t num);                       // c:{n/64}
std::string record_field(uint64_t num);                     // n mod 64
std::string feeder_key(std::string_view feeder);            // ix:f:<feeder>
std::string transformer_key(std::string_view transformer);  // ix:t:<transformer>
std::string zip_key(std::string_view zip);                  // ix:z:<zip>
inline constexpr std::string_view kGeoKey = "geo";
inline constexpr std::string_view kCustomerSeqKey = "seq:customer";

}  // namespace herald::store
