#pragma once

#include <string>

#include "herald/v1/customer.pb.h"

namespace herald::api {

// A customer's and a preferences' JSON exactly as to_json prints them (protobuf's mapping with
// every primitive field present), written directly: protobuf's generic printer was about a
// third of the CPU of a GET /v1/customers/{id}. Text the direct writer cannot vouch for goes
// to protobuf's printer.
std::string customer_to_json(const v1::Customer& c);
std::string preferences_to_json(const v1::Preferences& p);

}  // namespace herald::api
