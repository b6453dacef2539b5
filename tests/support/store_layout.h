#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "service/redis/connection.h"

namespace herald::testing {

// Reads of the store's Redis layout (service/store/keys.h) that tests check against; each
// failed read fails the test.

// The customer numbers the premise index lists at `premise`, in Redis's order, following
// HSCAN's cursor as the audience reader does.
std::vector<std::string> premise_customers(redis::Connection& conn, std::string_view premise);

// How many customers the feeder's index names, over all its slices; -1 when a read failed.
long long feeder_size(redis::Connection& conn, std::string_view feeder);

}  // namespace herald::testing
