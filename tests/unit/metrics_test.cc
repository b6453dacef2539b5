#include "service/common/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace herald {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(Metrics, CountsRequestsByRouteAndStatus) {
  Metrics m;
  m.observe_request("/v1/customers/{id}", 200, 0.002);
  m.observe_request("/v1/customers/{id}", 200, 0.003);
  m.observe_request("/v1/customers/{id}", 404, 0.001);
  std::string text = m.render();
  EXPECT_TRUE(has_line(text, "# TYPE herald_http_requests_total counter"));
  EXPECT_TRUE(
      has_line(text, R"(herald_http_requests_total{route="/v1/customers/{id}",status="200"} 2)"))
      << text;
  EXPECT_TRUE(
      has_line(text, R"(herald_http_requests_total{route="/v1/customers/{id}",status="404"} 1)"));
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Metrics m;
  m.observe_request("/r", 200, 0.0004);
  m.observe_request("/r", 200, 0.02);
  m.observe_request("/r", 200, 7);
  std::string text = m.render();
  EXPECT_TRUE(has_line(text, "# TYPE herald_http_request_duration_seconds histogram"));
  EXPECT_TRUE(
      has_line(text, R"(herald_http_request_duration_seconds_bucket{route="/r",le="0.0005"} 1)"))
      << text;
  EXPECT_TRUE(
      has_line(text, R"(herald_http_request_duration_seconds_bucket{route="/r",le="0.01"} 1)"));
  EXPECT_TRUE(
      has_line(text, R"(herald_http_request_duration_seconds_bucket{route="/r",le="0.025"} 2)"));
  EXPECT_TRUE(
      has_line(text, R"(herald_http_request_duration_seconds_bucket{route="/r",le="5"} 2)"));
  EXPECT_TRUE(
      has_line(text, R"(herald_http_request_duration_seconds_bucket{route="/r",le="+Inf"} 3)"));
  EXPECT_TRUE(has_line(text, R"(herald_http_request_duration_seconds_count{route="/r"} 3)"));
  EXPECT_TRUE(has_line(text, R"(herald_http_request_duration_seconds_sum{route="/r"} 7.0204)"));
}

TEST(Metrics, NamedHistogramsKeepOneSeriesPerLabelValue) {
  Metrics m;
  m.observe("herald_planner_first_batch_seconds", "First batch.", "priority", "urgent", 0.004);
  m.observe("herald_planner_first_batch_seconds", "ignored", "priority", "urgent", 0.03);
  m.observe("herald_planner_first_batch_seconds", "ignored", "priority", "bulk", 0.3);
  std::string text = m.render();
  EXPECT_TRUE(has_line(text, "# HELP herald_planner_first_batch_seconds First batch.")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE herald_planner_first_batch_seconds histogram"));
  EXPECT_TRUE(has_line(
      text, R"(herald_planner_first_batch_seconds_bucket{priority="urgent",le="0.005"} 1)"));
  EXPECT_TRUE(has_line(
      text, R"(herald_planner_first_batch_seconds_bucket{priority="urgent",le="0.05"} 2)"));
  EXPECT_TRUE(
      has_line(text, R"(herald_planner_first_batch_seconds_bucket{priority="bulk",le="0.25"} 0)"));
  EXPECT_TRUE(
      has_line(text, R"(herald_planner_first_batch_seconds_bucket{priority="bulk",le="0.5"} 1)"));
  EXPECT_TRUE(has_line(text, R"(herald_planner_first_batch_seconds_count{priority="urgent"} 2)"));
  EXPECT_TRUE(has_line(text, R"(herald_planner_first_batch_seconds_sum{priority="bulk"} 0.3)"));
}

TEST(Metrics, RedisCountersAlwaysPresent) {
  Metrics m;
  EXPECT_TRUE(has_line(m.render(), "herald_redis_errors_total 0"));
  m.count_redis_error();
  m.count_redis_reconnect();
  m.count_redis_reconnect();
  std::string text = m.render();
  EXPECT_TRUE(has_line(text, "herald_redis_errors_total 1"));
  EXPECT_TRUE(has_line(text, "herald_redis_reconnects_total 2"));
  EXPECT_TRUE(has_line(text, "# TYPE herald_redis_reconnects_total counter"));
}

TEST(Metrics, GenericCountersAndEscaping) {
  Metrics m;
  m.add("herald_import_lines_total", "result", "accepted", 3);
  m.add("herald_import_lines_total", "result", "accepted");
  m.add("herald_import_lines_total", "result", "bad \"quote\"");
  std::string text = m.render();
  EXPECT_TRUE(has_line(text, "# TYPE herald_import_lines_total counter"));
  EXPECT_TRUE(has_line(text, R"(herald_import_lines_total{result="accepted"} 4)")) << text;
  EXPECT_TRUE(has_line(text, R"(herald_import_lines_total{result="bad \"quote\""} 1)"));
}

TEST(Metrics, GaugesReadAtRenderWithOneHeaderPerName) {
  Metrics m;
  double depth = 5;
  m.gauge(R"(herald_queue_depth{queue="sms"})", "Queued sends.", [&] { return depth; });
  m.gauge("herald_up", "Process up.", [] { return 1.0; });
  m.gauge(R"(herald_queue_depth{queue="email"})", "Queued sends.", [] { return 2.0; });
  depth = 9;
  std::string text = m.render();
  EXPECT_TRUE(has_line(text, R"(herald_queue_depth{queue="sms"} 9)")) << text;
  EXPECT_TRUE(has_line(text, R"(herald_queue_depth{queue="email"} 2)"));
  EXPECT_TRUE(has_line(text, "# HELP herald_queue_depth Queued sends."));
  size_t first = text.find("# TYPE herald_queue_depth gauge");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(text.find("# TYPE herald_queue_depth gauge", first + 1), std::string::npos);
  EXPECT_TRUE(has_line(text, "herald_up 1"));
}

TEST(Metrics, ConcurrentUpdatesAreAllCounted) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) m.observe_request("/r", 200, 0.001);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(has_line(m.render(), R"(herald_http_requests_total{route="/r",status="200"} 4000)"));
}

}  // namespace
}  // namespace herald
