#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "service/http/types.h"

namespace herald::http {

struct RouteOptions {
  bool streaming = false;  // the handler reads the body through Context::body
};

// Maps method + path to a handler. Patterns are literal segments and {name}
// segments, e.g. "/v1/customers/{id}/preferences"; a segment may end in a
// literal suffix such as "/v1/customers:import" or "/v1/callbacks/{id}:cancel".
class Router {
 public:
  void add(bhttp::verb method, std::string pattern, Handler handler, RouteOptions options = {});

  struct Match {
    const Handler* handler = nullptr;  // null: see error
    Params params;
    std::string route;  // the matched pattern, or "unmatched"
    bool streaming = false;
    std::optional<ErrorCode> error;    // kNotFound, or kMethodNotAllowed when the path exists
    std::vector<bhttp::verb> allowed;  // with kMethodNotAllowed: the methods the path has
  };
  Match match(bhttp::verb method, std::string_view path) const;

 private:
  struct Route {
    bhttp::verb method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    RouteOptions options;
  };
  // Literal segments beat {name} segments, leftmost first; higher is more specific.
  static bool matches(const Route& route, const std::vector<std::string_view>& segments,
                      Params* params, unsigned* specificity);

  std::vector<Route> routes_;
};

}  // namespace herald::http
