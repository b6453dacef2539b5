#pragma once

#include <string>

namespace herald::ctl {

struct Options {
  std::string url = "http://127.0.0.1:8080";
  std::string key;
};

// Each returns the process exit code: 0 done, 1 the server said no, 2 usage or I/O.
int key_new(const std::string& role);
int token_new(const Options& opts, const std::string& customer_id);
// Splits the file at line boundaries into `jobs` parts uploaded side by side, and
// prints one merged result with line numbers of the whole file.
int import_file(const Options& opts, const std::string& path, int jobs);
int customer_get(const Options& opts, const std::string& customer_id);

}  // namespace herald::ctl
