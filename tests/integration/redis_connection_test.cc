// The blocking connection's split pipeline (send now, read the replies later), which the
// planner uses to compose a chunk while Redis runs the one before, against a real Redis.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "service/redis/connection.h"
#include "tests/support/redis_server.h"

namespace herald::redis {
namespace {

using std::chrono::milliseconds;

Connection connect(const testing::RedisServer& server) {
  auto c = Connection::connect(server.endpoint(), milliseconds(5000));
  if (!c.ok()) throw std::runtime_error(c.error().message);
  return std::move(*c);
}

TEST(RedisConnection, SentCommandsRunBeforeTheirRepliesAreRead) {
  testing::RedisServer server;
  Connection writer = connect(server);
  Connection watcher = connect(server);
  auto sent =
      writer.send(batch(cmd("MULTI"), cmd("SET", "k", "v1"), cmd("INCR", "n"), cmd("EXEC")));
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(*sent, 4u);
  // Nothing of the writer's replies has been read, yet Redis already ran the transaction.
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    seen = watcher.command(cmd("GET", "k"))->str == "v1";
    if (!seen) std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_TRUE(seen) << "the commands went out at send(), not at the first read";

  auto second = writer.send(batch(cmd("INCR", "n"), cmd("GET", "missing")));
  ASSERT_TRUE(second.ok());
  auto first_replies = writer.receive(*sent);
  ASSERT_TRUE(first_replies.ok());
  ASSERT_EQ(first_replies->size(), 4u);
  EXPECT_EQ((*first_replies)[1].str, "QUEUED");
  ASSERT_EQ((*first_replies)[3].elements.size(), 2u) << "EXEC answers both queued commands";
  EXPECT_EQ((*first_replies)[3].elements[1].integer, 1);
  auto second_replies = writer.receive(*second);
  ASSERT_TRUE(second_replies.ok());
  EXPECT_EQ((*second_replies)[0].integer, 2) << "replies come in the order sent";
  EXPECT_TRUE((*second_replies)[1].is_nil());
  EXPECT_EQ(writer.command(cmd("GET", "k"))->str, "v1") << "the connection goes on as before";
}

TEST(RedisConnection, ALargeSendDoesNotBlockOnUnreadReplies) {
  testing::RedisServer server;
  Connection c = connect(server);
  // About 20 MB of commands, and their replies left unread until everything is sent.
  const std::string value(2000, 'x');
  size_t owed = 0;
  for (int round = 0; round < 10; ++round) {
    Batch b;
    for (int i = 0; i < 1000; ++i) b.push_back(cmd("SET", "k" + std::to_string(i), value));
    auto sent = c.send(b);
    ASSERT_TRUE(sent.ok()) << sent.error().message;
    owed += *sent;
  }
  auto replies = c.receive(owed);
  ASSERT_TRUE(replies.ok());
  EXPECT_EQ(replies->size(), 10'000u);
  EXPECT_EQ(replies->back().str, "OK");
}

TEST(RedisConnection, SendOnALostServerFailsAndMarksTheConnectionBroken) {
  testing::RedisServer server;
  Connection c = connect(server);
  server.kill();
  Result<size_t> sent = c.send(batch(cmd("PING")));
  Result<std::vector<Reply>> got =
      sent.ok() ? c.receive(*sent) : Result<std::vector<Reply>>(sent.error());
  EXPECT_FALSE(got.ok());
  EXPECT_TRUE(c.broken());
  EXPECT_FALSE(c.send(batch(cmd("PING"))).ok()) << "a broken connection sends nothing";
}

// The planner leaves a batch's last transaction unread and goes on to the next batch: whatever
// uses the connection next reads those replies first and hands them to the check, whose error
// is that call's error, and the replies after them stay in step.
TEST(RedisConnection, DeferredRepliesAreCheckedByTheNextUse) {
  testing::RedisServer server;
  Connection c = connect(server);
  auto sent = c.send(batch(cmd("MULTI"), cmd("SET", "k", "v1"), cmd("EXEC")));
  ASSERT_TRUE(sent.ok());
  std::vector<Reply> checked;
  c.defer(*sent, [&](std::vector<Reply> replies) {
    checked = std::move(replies);
    return ok_status();
  });
  auto got = c.command(cmd("GET", "k"));
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->str, "v1") << "the command's own reply, not a deferred one";
  ASSERT_EQ(checked.size(), 3u) << "the check saw the deferred replies first";
  EXPECT_EQ(checked[2].elements.size(), 1u) << "EXEC's reply";

  // A failed check is the next call's error; the call's own command is not sent.
  sent = c.send(batch(cmd("INCR", "k")));  // not an integer: an error reply
  ASSERT_TRUE(sent.ok());
  c.defer(*sent, [](std::vector<Reply> replies) {
    return replies[0].is_error() ? make_error(ErrorCode::kInternal, "deferred: " + replies[0].str)
                                 : ok_status();
  });
  auto failed = c.pipeline(batch(cmd("SET", "after", "1")));
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("deferred"), std::string::npos) << failed.error().message;
  EXPECT_FALSE(c.broken());
  EXPECT_TRUE(c.command(cmd("GET", "after"))->is_nil()) << "the failed call sent nothing";
  EXPECT_TRUE(c.settle().ok()) << "nothing is deferred any more";

  // take_deferred(): the caller reads them itself, before the replies of what it sends next.
  sent = c.send(batch(cmd("INCR", "n")));
  ASSERT_TRUE(sent.ok());
  c.defer(*sent, [](std::vector<Reply>) { return make_error(ErrorCode::kInternal, "unused"); });
  const size_t owed = c.take_deferred();
  EXPECT_EQ(owed, 1u);
  auto more = c.send(batch(cmd("INCR", "n")));
  ASSERT_TRUE(more.ok()) << "the dropped check did not run";
  auto replies = c.receive(owed + *more);
  ASSERT_TRUE(replies.ok());
  EXPECT_EQ((*replies)[0].integer, 1);
  EXPECT_EQ((*replies)[1].integer, 2);
}

}  // namespace
}  // namespace herald::redis
