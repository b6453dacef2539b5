#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

namespace herald {

// Lets urgent planning (an EMERGENCY revision) run ahead of bulk work in one process. Urgent
// work holds a Pass while it is in progress; bulk work calls yield() before its next batch and
// sleeps while more urgent work is in progress than the caller itself holds, for at most
// `max_wait` per call, so bulk work slows down but never stops. Redis and the cores are then
// left to the urgent batches instead of being shared with a large fan-out's. Other processes'
// urgent work reaches the gate through hold_remote_until() (fanout::GateRelay), and the relay
// hears of this process's through the observer.
class PriorityGate {
 public:
  // Movable handle on one piece of urgent work; leaves the gate when destroyed or reset.
  class Pass {
   public:
    Pass() = default;
    explicit Pass(PriorityGate& gate) : gate_(&gate) { gate_->enter(); }
    Pass(Pass&& other) noexcept : gate_(other.gate_) { other.gate_ = nullptr; }
    Pass& operator=(Pass&& other) noexcept {
      if (this != &other) {
        reset();
        gate_ = other.gate_;
        other.gate_ = nullptr;
      }
      return *this;
    }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    ~Pass() { reset(); }
    void reset() {
      if (gate_) gate_->leave();
      gate_ = nullptr;
    }
    bool held() const { return gate_ != nullptr; }

   private:
    PriorityGate* gate_ = nullptr;
  };

  using Clock = std::chrono::steady_clock;

  // This process's urgent work in progress (passes out).
  int urgent() const { return urgent_.load(std::memory_order_acquire); }

  // Other processes hold urgent work until `until` (a time point in the past: none). The
  // waiters re-check at once, so an earlier end wakes them.
  void hold_remote_until(Clock::time_point until) {
    {
      std::lock_guard lock(mu_);
      remote_until_.store(until.time_since_epoch().count(), std::memory_order_release);
    }
    cv_.notify_all();
  }
  bool remote_held(Clock::time_point now = Clock::now()) const {
    return now.time_since_epoch().count() < remote_until_.load(std::memory_order_acquire);
  }

  // Urgent work is on its way in this process but holds no pass yet (an EMERGENCY revision
  // just accepted, whose intake entry no lane has taken): bulk work that honours timed holds
  // waits until `until` (the latest of the holds asked for), or its max_wait, or until a pass
  // is taken, which ends every timed hold.
  void hold_until(Clock::time_point until) {
    auto want = until.time_since_epoch().count();
    auto have = local_until_.load(std::memory_order_acquire);
    while (have < want && !local_until_.compare_exchange_weak(have, want)) {
    }
  }
  bool locally_held(Clock::time_point now = Clock::now()) const {
    return now.time_since_epoch().count() < local_until_.load(std::memory_order_acquire);
  }

  // Called after each change of urgent(), on the thread that made it; set before any pass is
  // taken. It must return quickly (the relay only wakes its own thread).
  void set_observer(std::function<void()> observer) { observer_ = std::move(observer); }

  // Waits while urgent() > own (the passes the caller holds itself), another process holds
  // urgent work or, when `timed` is set, a hold_until() lasts; at most max_wait. Returns how
  // long it waited (zero on the fast path, without taking the lock).
  Clock::duration yield(int own, std::chrono::milliseconds max_wait, bool timed = true) {
    const auto start = Clock::now();
    auto held_until = [&](Clock::time_point now) {  // the end of the timed holds, if one lasts
      auto end = remote_until_.load(std::memory_order_acquire);
      if (timed) end = std::max(end, local_until_.load(std::memory_order_acquire));
      return now.time_since_epoch().count() < end ? Clock::time_point(Clock::duration(end))
                                                  : Clock::time_point{};
    };
    if (urgent() <= own && held_until(start) == Clock::time_point{}) return {};
    const auto deadline = start + max_wait;
    std::unique_lock lock(mu_);
    for (;;) {
      const auto now = Clock::now();
      if (now >= deadline) break;
      const bool local = urgent() > own;
      const auto timed_end = held_until(now);
      if (!local && timed_end == Clock::time_point{}) break;
      // A timed hold also ends by itself when its time comes, without a notification.
      cv_.wait_until(lock, local ? deadline : std::min(deadline, timed_end));
    }
    return Clock::now() - start;
  }

 private:
  void enter() {
    urgent_.fetch_add(1, std::memory_order_acq_rel);
    // A lane took urgent work: its pass holds the bulk work from now, and a timed hold that
    // outlived it would only keep bulk work waiting after the urgent batch is done.
    local_until_.store(0, std::memory_order_release);
    if (observer_) observer_();
  }
  void leave() {
    {
      std::lock_guard lock(mu_);  // a waiter between its check and its sleep is not missed
      urgent_.fetch_sub(1, std::memory_order_acq_rel);
    }
    cv_.notify_all();
    if (observer_) observer_();
  }

  std::atomic<int> urgent_{0};
  std::atomic<Clock::rep> remote_until_{0};
  std::atomic<Clock::rep> local_until_{0};
  std::function<void()> observer_;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace herald
