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

struct Histogram {
  std::array<uint64_t, kBuckets.size()> buckets{};  // non-cumulative; summed when rendered
  double sum = 0;
  uint64_t count = 0;

  void add(double seconds) {
    size_t bucket = 0;
    while (bucket < kBuckets.size() && seconds > kBuckets[bucket]) ++bucket;
    if (bucket < kBuckets.size()) ++buckets[bucket];
    sum += seconds;
    ++count;
  }
  // `labels`: the series' labels, escaped, without braces (`route="/x"`).
  void render(std::string& out, std::string_view name, const std::string& labels) const {
    auto put = std::back_inserter(out);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += buckets[i];
      fmt::format_to(put, "{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, kBuckets[i], cumulative);
    }
    fmt::format_to(put, "{}_bucket{{{},le=\"+Inf\"}} {}\n{}_sum{{{}}} {}\n{}_count{{{}}} {}\n",
                   name, labels, count, name, labels, sum, name, labels, count);
  }
};

struct RouteStats {
  std::map<int, uint64_t> by_status;
  Histogram latency;
};

struct NamedHistogram {
  std::string help;
  std::map<std::pair<std::string, std::string>, Histogram> series;  // (label, value)
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
  std::map<std::string, NamedHistogram, std::less<>> histograms;
  std::vector<Gauge> gauges;
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::observe_request(std::string_view route, int status, double seconds) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->routes.find(route);
  if (it == impl_->routes.end()) it = impl_->routes.emplace(std::string(route), RouteStats{}).first;
  RouteStats& stats = it->second;
  ++stats.by_status[status];
  stats.latency.add(seconds);
}

void Metrics::observe(std::string_view name, std::string_view help, std::string_view label,
                      std::string_view value, double seconds) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->histograms.find(name);
  if (it == impl_->histograms.end()) {
    it = impl_->histograms.try_emplace(std::string(name)).first;
    it->second.help = std::string(help);
  }
  it->second.series[{std::string(label), std::string(value)}].add(seconds);
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
      stats.latency.render(out, "herald_http_request_duration_seconds",
                           fmt::format("route=\"{}\"", escape_label(route)));
    }
    for (const auto& [name, histogram] : impl_->histograms) {
      header(out, name, histogram.help, "histogram");
      for (const auto& [label, h] : histogram.series) {
        h.render(out, name, fmt::format("{}=\"{}\"", label.first, escape_label(label.second)));
      }
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
