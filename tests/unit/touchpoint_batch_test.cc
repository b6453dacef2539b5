#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "herald/v1/touchpoint.pb.h"
#include "service/store/touchpoints.h"

namespace herald::store {
namespace {

v1::Touchpoint touchpoint(v1::TouchpointKind kind, const std::string& event,
                          const std::string& status = "") {
  v1::Touchpoint tp;
  tp.set_kind(kind);
  tp.set_event_id(event);
  tp.set_channel(v1::SMS);
  tp.set_status(status);
  tp.mutable_at()->set_seconds(1795000000);
  return tp;
}

// The commands on `key`, in order.
std::vector<redis::Command> on(const redis::Batch& out, const std::string& key) {
  std::vector<redis::Command> found;
  for (const auto& c : out) {
    if (c.size() > 1 && c[1] == key) found.push_back(c);
  }
  return found;
}

// A dispatcher's round sends to many customers: their latest-event marks go in one HSET per
// bucket of 64 customer numbers, each customer's last one winning, as one HSET a message did.
TEST(TouchpointBatch, ARoundsLatestEventMarksGoOneHashWriteABucket) {
  redis::Batch out;
  TouchpointBatch batch;
  batch.add(out, 1, touchpoint(v1::SEND, "OUT-1"));
  batch.add(out, 2, touchpoint(v1::SEND, "OUT-1"));
  batch.add(out, 70, touchpoint(v1::SEND, "OUT-1"));
  batch.add(out, 1, touchpoint(v1::SEND, "OUT-2"));
  batch.add(out, 3, touchpoint(v1::DECISION, "OUT-1"));  // a decision marks nothing
  batch.flush(out);
  const auto first = on(out, last_event_key(1));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0],
            (redis::Command{"HSET", last_event_key(1), "1", "OUT-1", "2", "OUT-1", "1", "OUT-2"}));
  const auto second = on(out, last_event_key(70));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0], (redis::Command{"HSET", last_event_key(70), "70", "OUT-1"}));
  EXPECT_NE(last_event_key(1), last_event_key(70));
  // Each bucket's journey entry once, customers 1 and 2 and 3 sharing theirs.
  EXPECT_EQ(on(out, journey_key(1)).size(), 1u);
}

// A STOP naming no event counts against the event that last messaged the customer: a mark
// added before the reply is written before the script that reads it.
TEST(TouchpointBatch, AReplyReadsTheMarksAddedBeforeIt) {
  redis::Batch out;
  TouchpointBatch batch;
  batch.add(out, 5, touchpoint(v1::SEND, "OUT-7"));
  batch.add(out, 5, touchpoint(v1::REPLY, "", "STOP"));
  batch.flush(out);
  size_t mark = out.size(), script = out.size();
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i][0] == "HSET" && out[i][1] == last_event_key(5)) mark = i;
    if (out[i][0] == "EVAL" && out[i].size() > 3 && out[i][3] == last_event_key(5)) script = i;
  }
  ASSERT_LT(mark, out.size());
  ASSERT_LT(script, out.size());
  EXPECT_LT(mark, script);
}

}  // namespace
}  // namespace herald::store
