#pragma once

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

#include "service/common/net.h"
#include "service/common/result.h"

namespace herald::http {

using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;
using Params = std::unordered_map<std::string, std::string>;

// The body of a streaming route, read chunk by chunk as it arrives. next()
// yields the next chunk, std::nullopt at the end, or an Error (timeout,
// client gone, over the streaming limit).
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  virtual awaitable<Result<std::optional<std::string>>> next() = 0;
};

struct Context {
  const Request& request;      // for streaming routes: headers only, body empty
  Params params;               // {name} segments of the route pattern
  std::string route;           // the pattern, for metrics
  BodyReader* body = nullptr;  // set only on streaming routes

  std::string_view header(bhttp::field f) const;
  std::string_view header(std::string_view name) const;
  // Query parameter value, percent-decoded.
  std::optional<std::string> query(std::string_view name) const;
};

using Handler = std::function<awaitable<Response>(Context&)>;

// Decodes %XX escapes (and '+' as a space, for query strings); malformed escapes stay as they are.
std::string percent_decode(std::string_view in, bool plus_as_space = false);

}  // namespace herald::http
