#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  long status = 0;  // 0: no response (transport_error says why)
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased; the last value wins
  std::string transport_error;

  std::string header(const std::string& lower_name) const;  // "" when absent
};

// A small blocking HTTP/1.1 client on libcurl for tests; keeps its connection alive between
// requests. One per thread. Sends no Content-Type unless given one.
class HttpClient {
 public:
  explicit HttpClient(std::string base_url,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResponse request(std::string_view method, std::string_view path, std::string_view body = {},
                       const Headers& headers = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// {"Authorization": "Bearer <credential>"}, plus Content-Type when given.
Headers bearer(std::string_view credential, std::string_view content_type = "application/json");

// The JSON value at a dotted path ("error.field", "errors[2].line") of a JSON body: strings
// as they are, numbers without a trailing ".0", booleans as true/false; nullopt when absent or
// when the body is not JSON.
std::optional<std::string> json_at(std::string_view body, std::string_view path);

}  // namespace herald::testing
