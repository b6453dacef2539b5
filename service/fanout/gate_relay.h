#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "service/common/priority_gate.h"
#include "service/redis/endpoint.h"

namespace herald::fanout {

inline constexpr std::string_view kUrgentKey = "urgent";  // stream: from, lease (ms)

struct GateRelayOptions {
  std::string from;  // this process, unique among those sharing the Redis
  std::chrono::milliseconds lease{1000};   // how long an announcement holds the others
  std::chrono::milliseconds block{200};    // the listener's XREAD BLOCK; bounds stop()
  std::chrono::milliseconds redis_timeout{2000};  // must exceed block
  std::chrono::milliseconds reconnect_backoff{500};
};

// Carries urgent work between the processes that share one Redis (docs/architecture.md,
// "Urgent before bulk"): the announcer appends {from, lease} to the stream `urgent` while
// this process's gate has passes out (again every quarter lease, lease 0 when they are all
// back); the listener follows the stream and holds the gate while any other process's lease
// runs. Nothing runs on the caller's threads but a notify.
class GateRelay {
 public:
  GateRelay(redis::Endpoint endpoint, std::shared_ptr<PriorityGate> gate, GateRelayOptions options);
  ~GateRelay();  // stop()
  GateRelay(const GateRelay&) = delete;
  GateRelay& operator=(const GateRelay&) = delete;

  void start();  // once; installs the gate's observer
  void stop();   // sends the end of an announcement still out; idempotent

 private:
  void announce();
  void listen();
  bool pause(std::chrono::milliseconds ms);  // false once stopping

  redis::Endpoint endpoint_;
  std::shared_ptr<PriorityGate> gate_;
  GateRelayOptions options_;
  std::thread announcer_, listener_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool changed_ = false;
  bool stopping_ = false;
};

// A name for this process on the stream: `prefix` (e.g. the planner's consumer) and 8 random
// hex digits, so a restarted process with a reused PID is another sender.
std::string relay_sender(std::string_view prefix);

}  // namespace herald::fanout
