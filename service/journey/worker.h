#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "service/common/metrics.h"
#include "service/core/crypto.h"
#include "service/journey/keywords.h"
#include "service/redis/endpoint.h"

namespace herald::journey {

struct WorkerOptions {
  std::string consumer = "heraldd";  // unique per process within the "complaints" group
  std::vector<std::string> keywords;  // both languages
  int retention_days = 395;
  std::chrono::seconds sweep_interval{3600};
  std::chrono::milliseconds block{500};  // inbox wait; bounds stop()
  std::chrono::milliseconds redis_timeout{5000};
};

// heraldd's journey housekeeping on its own thread and connection: files complaints from the
// inbox as they arrive, and trims touchpoints past retention every sweep interval.
class Worker {
 public:
  Worker(redis::Endpoint endpoint, const core::Sealer& sealer, Metrics& metrics,
         WorkerOptions options);
  ~Worker();
  void start();
  void stop();

 private:
  void loop();

  redis::Endpoint endpoint_;
  const core::Sealer& sealer_;
  Metrics& metrics_;
  WorkerOptions options_;
  KeywordMatcher matcher_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace herald::journey
