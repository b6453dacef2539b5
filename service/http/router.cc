#include "service/http/router.h"

#include <stdexcept>

namespace herald::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  for (;;) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_param(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' &&
         segment.find('}') != std::string_view::npos;
}

}  // namespace

void Router::add(bhttp::verb method, std::string pattern, Handler handler, RouteOptions options) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + pattern);
  }
  Route route{method, pattern, {}, std::move(handler), options};
  for (std::string_view segment : split_path(pattern)) {
    if (segment.front() == '{' && !is_param(segment)) {
      throw std::invalid_argument("malformed {name} segment in route: " + pattern);
    }
    route.segments.emplace_back(segment);
  }
  routes_.push_back(std::move(route));
}

bool Router::matches(const Route& route, const std::vector<std::string_view>& segments,
                     Params* params, unsigned* specificity) {
  if (route.segments.size() != segments.size()) return false;
  *specificity = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& want = route.segments[i];
    std::string got = percent_decode(segments[i]);
    *specificity <<= 1;
    if (!is_param(want)) {
      if (got != want) return false;
      *specificity |= 1;
      continue;
    }
    size_t close = want.find('}');
    std::string_view suffix = std::string_view(want).substr(close + 1);  // "{id}:cancel"
    if (got.size() <= suffix.size() || !std::string_view(got).ends_with(suffix)) return false;
    got.resize(got.size() - suffix.size());
    (*params)[want.substr(1, close - 1)] = std::move(got);
  }
  return true;
}

Router::Match Router::match(bhttp::verb method, std::string_view path) const {
  path = path.substr(0, path.find_first_of("?#"));
  std::vector<std::string_view> segments = split_path(path);
  Match best;
  best.route = "unmatched";
  best.error = ErrorCode::kNotFound;
  unsigned best_specificity = 0;
  for (const Route& route : routes_) {
    Params params;
    unsigned specificity = 0;
    if (!matches(route, segments, &params, &specificity)) continue;
    if (route.method != method) {
      best.allowed.push_back(route.method);
      continue;
    }
    if (best.handler != nullptr && specificity <= best_specificity) continue;
    best.handler = &route.handler;
    best.params = std::move(params);
    best.route = route.pattern;
    best.streaming = route.options.streaming;
    best.error.reset();
    best_specificity = specificity;
  }
  if (best.handler != nullptr) {
    best.allowed.clear();
  } else if (!best.allowed.empty()) {
    best.error = ErrorCode::kMethodNotAllowed;
  }
  return best;
}

}  // namespace herald::http
