#include "service/fanout/gate_relay.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "service/redis/connection.h"
#include "tests/support/redis_server.h"

namespace herald::fanout {
namespace {

using namespace std::chrono_literals;

// Two heraldd processes sharing one Redis, each with its gate and relay: an EMERGENCY revision
// being planned in one must hold back the other's bulk planning and sending.
class GateRelayTest : public ::testing::Test {
 protected:
  struct Process {
    std::shared_ptr<PriorityGate> gate = std::make_shared<PriorityGate>();
    std::unique_ptr<GateRelay> relay;
  };

  Process start(const std::string& from, std::chrono::milliseconds lease) {
    Process p;
    p.relay = std::make_unique<GateRelay>(server_.endpoint(), p.gate,
                                          GateRelayOptions{.from = from, .lease = lease});
    p.relay->start();
    return p;
  }

  // Polls (at most 10 s) until the gate's remote hold is `held`.
  static bool becomes(const PriorityGate& gate, bool held) {
    for (int i = 0; i < 1000; ++i) {
      if (gate.remote_held() == held) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  testing::RedisServer server_;
};

TEST_F(GateRelayTest, UrgentWorkInOneProcessHoldsTheOthersBulkWorkUntilItIsDone) {
  Process a = start("a", 30s);  // a long lease: only the end message can let b go soon
  Process b = start("b", 30s);
  std::this_thread::sleep_for(300ms);  // both listeners are following the stream
  auto pass = std::make_unique<PriorityGate::Pass>(*a.gate);
  ASSERT_TRUE(becomes(*b.gate, true));
  EXPECT_FALSE(a.gate->remote_held());  // a does not hold itself back through Redis

  auto waited = std::async(std::launch::async, [&] { return b.gate->yield(0, 20s); });
  EXPECT_EQ(waited.wait_for(100ms), std::future_status::timeout);  // b's bulk work waits
  pass.reset();
  ASSERT_EQ(waited.wait_for(10s), std::future_status::ready);
  EXPECT_LT(waited.get(), 10s);  // let go by a's end, not by the 30 s lease or the 20 s bound
  EXPECT_FALSE(b.gate->remote_held());
}

TEST_F(GateRelayTest, AnAnnouncementOutlastsItsLeaseOnlyWhileItIsRenewed) {
  Process a = start("a", 1s);
  Process b = start("b", 1s);
  std::this_thread::sleep_for(300ms);
  {
    PriorityGate::Pass pass(*a.gate);
    ASSERT_TRUE(becomes(*b.gate, true));
    // Held for three leases: the renewals every quarter lease keep b holding back.
    for (int i = 0; i < 12; ++i) {
      std::this_thread::sleep_for(250ms);
      EXPECT_TRUE(b.gate->remote_held()) << "after " << (i + 1) * 250 << " ms";
    }
  }
  EXPECT_TRUE(becomes(*b.gate, false));
}

TEST_F(GateRelayTest, AProcessThatDiedWhileAnnouncingHoldsTheOthersOnlyUntilItsLeaseEnds) {
  Process b = start("b", 1s);
  std::this_thread::sleep_for(300ms);
  // What a process leaves behind when it is killed: one announcement, never renewed or ended.
  auto conn = redis::Connection::connect(server_.endpoint(), 5s);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(conn->command(redis::cmd("XADD", std::string(kUrgentKey), "*", "from", "dead",
                                       "lease", "2000"))
                  .ok());
  ASSERT_TRUE(becomes(*b.gate, true));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_GT(b.gate->yield(0, 20s), 1s);  // held back for (most of) the lease ...
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);  // ... and no longer
  EXPECT_FALSE(b.gate->remote_held());
}

TEST_F(GateRelayTest, BulkWorkGoesOnWhileRedisIsAwayAndTheRelayCatchesUpWhenItReturns) {
  Process a = start("a", 30s);
  Process b = start("b", 30s);
  server_.stop();
  {
    PriorityGate::Pass pass(*a.gate);  // cannot be announced
    EXPECT_LT(b.gate->yield(0, 2s), 1s);
    EXPECT_EQ(b.gate->yield(0, 2s), std::chrono::steady_clock::duration::zero());
  }
  server_.restart();
  std::this_thread::sleep_for(1500ms);  // both relays reconnect (500 ms backoff)
  PriorityGate::Pass pass(*a.gate);
  EXPECT_TRUE(becomes(*b.gate, true));
}

}  // namespace
}  // namespace herald::fanout
