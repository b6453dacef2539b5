#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "service/daemon/ctl.h"

namespace herald::ctl {

// A byte range of an NDJSON file that starts and ends on a line boundary.
struct Part {
  long offset = 0;
  long length = 0;
  uint64_t first_line = 1;
};

std::vector<Part> split_lines(const std::string& path, int jobs);
// Uploads the parts side by side (curl multi) and prints the merged ImportResult.
int import_parts(const Options& opts, const std::string& path, const std::vector<Part>& parts);

}  // namespace herald::ctl
