#include "service/common/priority_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

namespace herald {
namespace {

using namespace std::chrono_literals;

TEST(PriorityGate, BulkWorkGoesOnWithoutWaitingWhenNothingUrgentIsPlanned) {
  PriorityGate gate;
  EXPECT_EQ(gate.urgent(), 0);
  EXPECT_EQ(gate.yield(0, 10s), std::chrono::steady_clock::duration::zero());
}

TEST(PriorityGate, ALaneIsNotHeldBackByItsOwnUrgentWork) {
  PriorityGate gate;
  PriorityGate::Pass mine(gate);
  EXPECT_EQ(gate.urgent(), 1);
  EXPECT_EQ(gate.yield(1, 10s), std::chrono::steady_clock::duration::zero());
}

TEST(PriorityGate, BulkWorkWaitsUntilTheUrgentWorkIsDoneAndNotLonger) {
  PriorityGate gate;
  auto pass = std::make_unique<PriorityGate::Pass>(gate);
  std::atomic<bool> started{false};
  auto waited = std::async(std::launch::async, [&] {
    started = true;
    return gate.yield(0, 30s);
  });
  // On a loaded machine the thread may start late: the hold is checked once it runs.
  for (int i = 0; i < 1000 && !started; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(started);
  EXPECT_EQ(waited.wait_for(50ms), std::future_status::timeout);  // held back meanwhile
  pass.reset();
  // Woken by the pass going away, long before the 30 s bound.
  ASSERT_EQ(waited.wait_for(10s), std::future_status::ready);
  const auto w = waited.get();
  EXPECT_GT(w, std::chrono::steady_clock::duration::zero());  // it did wait
  EXPECT_LT(w, 10s);
  EXPECT_EQ(gate.urgent(), 0);
}

TEST(PriorityGate, BulkWorkIsNeverHeldLongerThanTheBoundPerCall) {
  PriorityGate gate;
  PriorityGate::Pass stuck(gate);  // urgent work that does not finish
  const auto w = gate.yield(0, 40ms);
  EXPECT_GE(w, 40ms);
  EXPECT_EQ(gate.urgent(), 1);
}

TEST(PriorityGate, APassCountsOnceWhateverItIsMovedThrough) {
  PriorityGate gate;
  {
    PriorityGate::Pass a(gate);
    PriorityGate::Pass b(std::move(a));
    EXPECT_FALSE(a.held());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_TRUE(b.held());
    PriorityGate::Pass c;
    c = std::move(b);
    EXPECT_EQ(gate.urgent(), 1);
    PriorityGate::Pass d(gate);
    c = std::move(d);  // c's own pass leaves, d's is kept
    EXPECT_EQ(gate.urgent(), 1);
  }
  EXPECT_EQ(gate.urgent(), 0);
}

TEST(PriorityGate, AnotherProcesssUrgentWorkHoldsBulkWorkUntilItsLeaseEnds) {
  PriorityGate gate;
  gate.hold_remote_until(PriorityGate::Clock::now() + 150ms);
  EXPECT_TRUE(gate.remote_held());
  // Held although this process has no pass, and let go when the lease ends by itself, long
  // before the 30 s bound.
  const auto w = gate.yield(0, 30s);
  EXPECT_GE(w, 100ms);
  EXPECT_LT(w, 10s);
  EXPECT_FALSE(gate.remote_held());
  // Even a lane holding passes of its own waits for another process's urgent work.
  PriorityGate::Pass mine(gate);
  gate.hold_remote_until(PriorityGate::Clock::now() + 1h);
  EXPECT_GE(gate.yield(1, 30ms), 30ms);
}

TEST(PriorityGate, TheEndOfAnotherProcesssUrgentWorkWakesTheWaitersAtOnce) {
  PriorityGate gate;
  gate.hold_remote_until(PriorityGate::Clock::now() + 1h);
  auto waited = std::async(std::launch::async, [&] { return gate.yield(0, 30s); });
  EXPECT_EQ(waited.wait_for(50ms), std::future_status::timeout);
  gate.hold_remote_until({});  // the other process sent the end of its announcement
  ASSERT_EQ(waited.wait_for(10s), std::future_status::ready);
  EXPECT_LT(waited.get(), 10s);
}

TEST(PriorityGate, TheObserverHearsOfEveryPassTakenAndGivenBack) {
  PriorityGate gate;
  std::vector<int> seen;
  gate.set_observer([&] { seen.push_back(gate.urgent()); });
  {
    PriorityGate::Pass a(gate);
    PriorityGate::Pass b(gate);
    PriorityGate::Pass c(std::move(b));  // a move is no change
  }
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 1, 0}));
}

TEST(PriorityGate, AnAcceptedEmergencyHoldsBulkWorkForAMomentBeforeAnyPassIsTaken) {
  PriorityGate gate;
  const auto start = PriorityGate::Clock::now();
  gate.hold_until(start + 80ms);
  gate.hold_until(start + 10ms);  // an earlier end does not shorten the hold
  EXPECT_TRUE(gate.locally_held());
  EXPECT_EQ(gate.yield(0, 5s, false), PriorityGate::Clock::duration::zero())
      << "work that does not honour timed holds goes on";
  const auto waited = gate.yield(0, 5s);
  EXPECT_GE(PriorityGate::Clock::now() - start, 80ms) << "held until the latest end";
  EXPECT_LT(waited, 5s) << "and released by the end itself, without a notification";
  EXPECT_FALSE(gate.locally_held());
  EXPECT_EQ(gate.yield(0, 5s), PriorityGate::Clock::duration::zero());
}

TEST(PriorityGate, APassTakenEndsTheTimedHold) {
  PriorityGate gate;
  gate.hold_until(PriorityGate::Clock::now() + 1h);
  {
    PriorityGate::Pass lane_took_it(gate);
    EXPECT_FALSE(gate.locally_held());
  }
  EXPECT_EQ(gate.yield(0, 5s), PriorityGate::Clock::duration::zero())
      << "once the urgent work is done, bulk work goes on at once";
}

TEST(PriorityGate, ATimedHoldIsBoundedByTheCallersWait) {
  PriorityGate gate;
  gate.hold_until(PriorityGate::Clock::now() + 1h);
  const auto waited = gate.yield(0, 30ms);
  EXPECT_GE(waited, 30ms);
  EXPECT_LT(waited, 10s);
}

}  // namespace
}  // namespace herald
