#pragma once

#include <string>

#include "service/common/metrics.h"

namespace herald::testing {

// One unlabelled counter from the Prometheus text; -1 when it is absent.
inline double metric_value(const Metrics& metrics, const std::string& name) {
  std::string text = "\n" + metrics.render();
  auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

}  // namespace herald::testing
