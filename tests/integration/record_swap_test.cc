#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "service/common/net.h"
#include "service/redis/connection.h"
#include "service/redis/pool.h"
#include "service/store/scripts.h"
#include "tests/support/redis_server.h"

namespace herald::store {
namespace {

// The script a preferences or contact change goes through: the record is replaced only if it
// is still the one the caller read, and the commands riding with it (the journey touchpoint)
// run only then.
class RecordSwap : public ::testing::Test {
 protected:
  RecordSwap()
      : pool_(server_.endpoint(), redis::PoolOptions{}, nullptr),
        conn_(redis::Connection::connect(server_.endpoint(), std::chrono::seconds(5)).value()) {}

  std::string swap(const std::string& expect, const std::string& record) {
    std::vector<std::string> args{"c:{0}", "7", expect, record,
                                  "T", "5", "XADD", "j:{7}", "*", "t", "changed"};
    std::optional<std::string> out;
    net::io_context io;
    net::co_spawn(
        io,
        [&]() -> awaitable<void> {
          auto r = co_await record_swap_script().run(pool_, args);
          out = r.ok() ? r->str : "error: " + r.error().message;
        },
        net::detached);
    io.run();
    return out.value_or("not run");
  }
  std::string record() { return conn_.command(redis::cmd("HGET", "c:{0}", "7"))->str; }
  long long touchpoints() { return conn_.command(redis::cmd("XLEN", "j:{7}"))->integer; }

  testing::RedisServer server_;
  redis::Pool pool_;
  redis::Connection conn_;
};

TEST_F(RecordSwap, ReplacesTheRecordItWasGivenAndWritesTheTouchpointWithIt) {
  ASSERT_TRUE(conn_.command(redis::cmd("HSET", "c:{0}", "7", "first")).ok());
  EXPECT_EQ(swap(sha1_hex("first"), "second"), "U");
  EXPECT_EQ(record(), "second");
  EXPECT_EQ(touchpoints(), 1);
}

TEST_F(RecordSwap, ARecordChangedSinceItWasReadIsLeftAloneWithNoTouchpoint) {
  ASSERT_TRUE(conn_.command(redis::cmd("HSET", "c:{0}", "7", "changed by a PUT")).ok());
  EXPECT_EQ(swap(sha1_hex("first"), "second"), "X");
  EXPECT_EQ(record(), "changed by a PUT");
  EXPECT_EQ(touchpoints(), 0);
}

TEST_F(RecordSwap, AnErasedCustomerIsNotBroughtBack) {
  EXPECT_EQ(swap(sha1_hex("first"), "second"), "X");
  EXPECT_EQ(conn_.command(redis::cmd("HEXISTS", "c:{0}", "7"))->integer, 0);
  EXPECT_EQ(touchpoints(), 0);
}

}  // namespace
}  // namespace herald::store
