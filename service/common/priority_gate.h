#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace herald {

// Lets urgent planning (an EMERGENCY revision) run ahead of bulk work in one process. Urgent
// work holds a Pass while it is in progress; bulk work calls yield() before its next batch and
// sleeps while more urgent work is in progress than the caller itself holds, for at most
// `max_wait` per call, so bulk work slows down but never stops. Redis and the cores are then
// left to the urgent batches instead of being shared with a large fan-out's.
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

  int urgent() const { return urgent_.load(std::memory_order_acquire); }

  // Waits while urgent() > own (the passes the caller holds itself), at most max_wait.
  // Returns how long it waited (zero on the fast path, without taking the lock).
  std::chrono::steady_clock::duration yield(int own, std::chrono::milliseconds max_wait) {
    if (urgent() <= own) return {};
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, start + max_wait, [&] { return urgent() <= own; });
    return std::chrono::steady_clock::now() - start;
  }

 private:
  void enter() { urgent_.fetch_add(1, std::memory_order_acq_rel); }
  void leave() {
    {
      std::lock_guard lock(mu_);  // a waiter between its check and its sleep is not missed
      urgent_.fetch_sub(1, std::memory_order_acq_rel);
    }
    cv_.notify_all();
  }

  std::atomic<int> urgent_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace herald
