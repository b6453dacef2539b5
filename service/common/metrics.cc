#include "service/common/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <vector>

namespace herald {
namespace {

constexpr std::array<double, 13> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,    0.25,  0.5,    1,     2.5,  5};

struct RouteStats {
  std::map<int, uint64_t> by_status;
  std::array<uint64_t, kBuckets.size()> buckets{};  // non-cumulative; summed when rendered
  double sum = 0;
  uint64_t count = 0;
};

struct Gauge {
  std::string name;
  std::string help;
  std::function<double()> read;
};

std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

// A gauge name may carry its labels ("herald_queue_depth{queue=\"sms\"}"); HELP/TYPE use the base.
std::string_view base_name(std::string_view name) { return name.substr(0, name.find('{')); }

void header(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

struct Metrics::Impl {
  mutable std::mutex mu;
  std::map<std::string, RouteStats, std::less<>> routes;
  uint64_t redis_errors = 0;
  uint64_t redis_reconnects = 0;
  // name -> (label, value) -> count
  std::map<std::string, std::map<std::pair<std::string, std::string>, double>, std::less<>>
      counters;
  std::vector<Gauge> gauges;
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::observe_request(std::string_view route, int status, double seconds) {
  size_t bucket = 0;
  while (bucket < kBuckets.size() && seconds > kBuckets[bucket]) ++bucket;
  std::lock_guard lock(impl_->mu);
  auto it = impl_->routes.find(route);
  if (it == impl_->routes.end()) it = impl_->routes.emplace(std::string(route), RouteStats{}).first;
  RouteStats& stats = it->second;
  ++stats.by_status[status];
  if (bucket < kBuckets.size()) ++stats.buckets[bucket];
  stats.sum += seconds;
  ++stats.count;
}

void Metrics::count_redis_error() {
  std::lock_guard lock(impl_->mu);
  ++impl_->redis_errors;
}

void Metrics::count_redis_reconnect() {
  std::lock_guard lock(impl_->mu);
  ++impl_->redis_reconnects;
}

void Metrics::add(std::string_view name, std::string_view label, std::string_view value, double n) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->counters.find(name);
  if (it == impl_->counters.end()) it = impl_->counters.try_emplace(std::string(name)).first;
  it->second[{std::string(label), std::string(value)}] += n;
}

void Metrics::gauge(std::string name, std::string help, std::function<double()> read) {
  std::lock_guard lock(impl_->mu);
  impl_->gauges.push_back(Gauge{std::move(name), std::move(help), std::move(read)});
}

std::string Metrics::render() const {
  std::string out;
  auto put = std::back_inserter(out);
  std::vector<Gauge> gauges;
  {
    std::lock_guard lock(impl_->mu);
    header(out, "herald_http_requests_total", "HTTP requests by route pattern and status.",
           "counter");
    for (const auto& [route, stats] : impl_->routes) {
      for (const auto& [status, n] : stats.by_status) {
        fmt::format_to(put, "herald_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                       escape_label(route), status, n);
      }
    }
    header(out, "herald_http_request_duration_seconds", "HTTP request latency by route pattern.",
           "histogram");
    for (const auto& [route, stats] : impl_->routes) {
      std::string label = escape_label(route);
      uint64_t cumulative = 0;
      for (size_t i = 0; i < kBuckets.size(); ++i) {
        cumulative += stats.buckets[i];
        fmt::format_to(put,
                       "herald_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                       label, kBuckets[i], cumulative);
      }
      fmt::format_to(put,
                     "herald_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n"
                     "herald_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n"
                     "herald_http_request_duration_seconds_count{{route=\"{}\"}} {}\n",
                     label, stats.count, label, stats.sum, label, stats.count);
    }
    header(out, "herald_redis_errors_total", "Redis commands that failed.", "counter");
    fmt::format_to(put, "herald_redis_errors_total {}\n", impl_->redis_errors);
    header(out, "herald_redis_reconnects_total", "Redis reconnections.", "counter");
    fmt::format_to(put, "herald_redis_reconnects_total {}\n", impl_->redis_reconnects);
    for (const auto& [name, series] : impl_->counters) {
      header(out, name, "Herald counter.", "counter");
      for (const auto& [label, n] : series) {
        fmt::format_to(put, "{}{{{}=\"{}\"}} {}\n", name, label.first, escape_label(label.second),
                       n);
      }
    }
    gauges = impl_->gauges;
  }
  // Gauges are read without the lock: a reader may itself touch the metrics.
  std::stable_sort(gauges.begin(), gauges.end(), [](const Gauge& a, const Gauge& b) {
    return base_name(a.name) < base_name(b.name);
  });
  std::string_view last_base;
  for (const Gauge& g : gauges) {
    std::string_view base = base_name(g.name);
    if (base != last_base) header(out, base, g.help, "gauge");
    last_base = base;
    fmt::format_to(put, "{} {}\n", g.name, g.read());
  }
  return out;
}

}  // namespace herald
