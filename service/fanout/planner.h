#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "herald/v1/event.pb.h"
#include "service/common/metrics.h"
#include "service/core/crypto.h"
#include "service/fanout/audience.h"
#include "service/fanout/compose.h"
#include "service/fanout/decide.h"
#include "service/redis/connection.h"
#include "templates/catalog.h"

namespace herald::fanout {

struct PlannerOptions {
  std::string consumer = "heraldd";  // unique per process, within the "planners" group
  size_t batch = 500;
  std::chrono::milliseconds block{500};         // wait for intake entries; bounds stop()
  std::chrono::milliseconds claim_idle{30000};  // a dead planner's entries are taken after this
  std::chrono::milliseconds redis_timeout{5000};
  Settings settings;
  ComposeOptions compose;
};

// Turns accepted event revisions (the intake stream) into decisions and queued messages, and
// re-plans held messages when they fall due. Runs on its own thread with its own blocking
// connection. Per audience batch, one MULTI/EXEC writes the queued messages, the decision
// touchpoints, each customer's history for the event, the daily-cap counters, the held
// entries, the funnel counters and the audience cursor: a crash before EXEC replays the
// batch; after it, the history marks every decision taken, so nothing is sent twice.
class Planner {
 public:
  Planner(redis::Endpoint endpoint, const core::Sealer& sealer, const core::TokenSigner& signer,
          const templates::Catalog& catalog, PlannerOptions options);
  ~Planner();
  void start();
  void stop();

  // One round without a thread (tests, tools): plans what intake holds and what is due.
  // Returns the number of intake entries and held messages handled.
  Result<int> run_once(redis::Connection& conn, std::chrono::system_clock::time_point now);

 private:
  struct Work {
    uint64_t num = 0;
    std::vector<int> premises;
    std::string deferred;  // the held entry this work re-plans, if any
    v1::Channel only = v1::CHANNEL_UNSPECIFIED;
  };
  Status plan_revision(redis::Connection& conn, const std::string& event_id, uint32_t revision,
                       std::chrono::system_clock::time_point now);
  Status handle(redis::Connection& conn, const v1::Event& event, std::vector<Work>& work,
                redis::Batch tail, std::chrono::system_clock::time_point now);
  Result<int> run_due(redis::Connection& conn, std::chrono::system_clock::time_point now);
  void loop();

  redis::Endpoint endpoint_;
  const core::Sealer& sealer_;
  const core::TokenSigner& signer_;
  const templates::Catalog& catalog_;
  PlannerOptions options_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

inline constexpr std::string_view kPlannerGroup = "planners";
inline constexpr std::string_view kDeferredKey = "deferred";

}  // namespace herald::fanout
