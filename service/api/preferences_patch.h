#pragma once

#include <set>
#include <string>

#include "herald/v1/customer.pb.h"
#include "service/common/result.h"
#include "service/http/types.h"

namespace herald::api {

// A partial preferences document: only the members present in the body change
// (a kind under "channels" replaces that kind's list; null clears a member).
class PreferencesPatch {
 public:
  static Result<PreferencesPatch> parse(const http::Context& ctx);
  static Result<PreferencesPatch> parse_json(std::string_view body);
  void apply(v1::Preferences& target) const;

 private:
  v1::Preferences values_;
  std::set<std::string> present_;  // "cadence", "channels.OUTAGE", ...
  std::set<std::string> nulled_;
};

}  // namespace herald::api
