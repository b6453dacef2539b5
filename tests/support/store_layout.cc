#include "tests/support/store_layout.h"

#include <gtest/gtest.h>

#include "service/store/keys.h"

namespace herald::testing {

std::vector<std::string> premise_customers(redis::Connection& conn, std::string_view premise) {
  std::vector<std::string> out;
  std::string cursor = "0";
  do {
    auto r = conn.command(redis::cmd("HSCAN", store::premise_key(premise), cursor, "MATCH",
                                     store::premise_match(premise), "COUNT", "1000"));
    if (!r.ok() || r->elements.size() != 2) {
      ADD_FAILURE() << "HSCAN of premise " << premise;
      return out;
    }
    const auto& fields = r->elements[1].elements;
    for (size_t i = 0; i < fields.size(); i += 2) {
      out.push_back(fields[i].str.substr(premise.size() + 1));  // "<premise>,<n>"
    }
    cursor = r->elements[0].str;
  } while (cursor != "0");
  return out;
}

long long feeder_size(redis::Connection& conn, std::string_view feeder) {
  long long total = 0;
  for (uint32_t s = 0; s < store::kIndexSlices; ++s) {
    auto r = conn.command(redis::cmd("SCARD", store::feeder_key(feeder, s)));
    if (!r.ok() || r->type != redis::Reply::Type::kInteger) {
      ADD_FAILURE() << "SCARD of feeder " << feeder << " slice " << s;
      return -1;
    }
    total += r->integer;
  }
  return total;
}

}  // namespace herald::testing
