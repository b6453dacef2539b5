#include "service/journey/worker.h"

#include <spdlog/spdlog.h>

#include "service/common/thread_name.h"
#include "service/journey/complaints.h"
#include "service/journey/retention.h"
#include "service/redis/connection.h"

namespace herald::journey {
namespace {

using Clock = std::chrono::system_clock;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

}  // namespace

Worker::Worker(redis::Endpoint endpoint, const core::Sealer& sealer, Metrics& metrics,
               WorkerOptions options)
    : endpoint_(std::move(endpoint)),
      sealer_(sealer),
      metrics_(metrics),
      options_(std::move(options)),
      matcher_(options_.keywords) {}

Worker::~Worker() { stop(); }

void Worker::start() {
  thread_ = std::thread([this] {
    name_this_thread("journey");
    loop();
  });
}

void Worker::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void Worker::loop() {
  auto next_sweep = std::chrono::steady_clock::now();
  while (!stopping_) {
    auto conn = redis::Connection::connect(endpoint_, options_.redis_timeout);
    if (!conn.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    while (!stopping_) {
      auto taken = take_inbox(*conn, sealer_, matcher_, options_.consumer, options_.block);
      if (!taken.ok()) {
        spdlog::warn("complaints: {}", taken.error().message);
        break;
      }
      if (taken->flagged > 0) metrics_.add("herald_complaints_total", "outcome", "flagged", taken->flagged);
      if (taken->unreadable > 0) {
        metrics_.add("herald_complaints_unreadable_total", "outcome", "unreadable", taken->unreadable);
      }
      if (std::chrono::steady_clock::now() < next_sweep) continue;
      next_sweep = std::chrono::steady_clock::now() + options_.sweep_interval;
      auto turn = take_sweep_turn(
          *conn, options_.consumer,
          std::chrono::duration_cast<std::chrono::milliseconds>(options_.sweep_interval));
      if (!turn.ok()) {
        spdlog::warn("retention: {}", turn.error().message);
        break;
      }
      if (!*turn) continue;  // another process (or this one before a restart) swept meanwhile
      const int64_t cutoff = now_ms() - int64_t{options_.retention_days} * 86'400'000;
      auto trimmed = trim_touchpoints(*conn, cutoff);
      if (!trimmed.ok()) {
        spdlog::warn("retention: {}", trimmed.error().message);
        break;
      }
      if (*trimmed > 0) spdlog::info("retention: {} touchpoints past {} days trimmed", *trimmed,
                                     options_.retention_days);
    }
  }
}

}  // namespace herald::journey
