#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace herald {

// Process metrics in Prometheus text format. Thread-safe; cheap to update.
class Metrics {
 public:
  Metrics();
  ~Metrics();

  void observe_request(std::string_view route, int status, double seconds);
  void count_redis_error();
  void count_redis_reconnect();
  // A named counter with one label, e.g. ("herald_import_lines_total", "result", "accepted").
  void add(std::string_view name, std::string_view label, std::string_view value, double n = 1);
  // A histogram with one label, in the request latency's buckets (0.5 ms .. 5 s), e.g.
  // ("herald_planner_first_batch_seconds", "priority", "urgent", 0.004). `help` is taken from
  // the first observation of `name`.
  void observe(std::string_view name, std::string_view help, std::string_view label,
               std::string_view value, double seconds);
  // A gauge read when /metrics is rendered.
  void gauge(std::string name, std::string help, std::function<double()> read);

  std::string render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herald
