#include <gtest/gtest.h>

#include <map>

#include "service/journey/filter.h"
#include "service/journey/stream_id.h"

namespace herald::journey {
namespace {

Query from(std::map<std::string, std::string> params) {
  return [params](std::string_view name) -> std::optional<std::string> {
    auto it = params.find(std::string(name));
    if (it == params.end()) return std::nullopt;
    return it->second;
  };
}

TEST(JourneyFilter, ParsesEveryParameter) {
  auto f = parse_filter(from({{"since", "2030-01-01T00:00:00Z"},
                              {"until", "2030-01-02T00:00:00Z"},
                              {"channel", "sms"},
                              {"kind", "DECISION"},
                              {"event", "OUT-1"},
                              {"status", "queued"}}));
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->since_ms, 1893456000000);
  EXPECT_EQ(f->until_ms, 1893542400000);
  EXPECT_EQ(f->channel, v1::SMS);
  EXPECT_EQ(f->kind, v1::DECISION);
  EXPECT_EQ(f->event, "OUT-1");
}

TEST(JourneyFilter, NamesTheBadParameter) {
  EXPECT_EQ(parse_filter(from({{"since", "yesterday"}})).error().field, "since");
  EXPECT_EQ(parse_filter(from({{"channel", "PIGEON"}})).error().field, "channel");
  EXPECT_EQ(parse_filter(from({{"kind", "HUG"}})).error().field, "kind");
  EXPECT_EQ(parse_filter(from({{"since", "2030-01-02T00:00:00Z"},
                               {"until", "2030-01-01T00:00:00Z"}}))
                .error()
                .field,
            "until");
  EXPECT_EQ(parse_page(from({{"limit", "0"}})).error().field, "limit");
  EXPECT_EQ(parse_page(from({{"limit", "1001"}})).error().field, "limit");
  EXPECT_EQ(parse_page(from({{"limit", "12"}}))->limit, 12u);
}

TEST(JourneyFilter, MatchesOnChannelKindEventAndStatusIgnoringCase) {
  v1::Touchpoint tp;
  tp.set_kind(v1::DELIVERY);
  tp.set_channel(v1::EMAIL);
  tp.set_event_id("OUT-1");
  tp.set_status("Delivered");
  Filter f;
  EXPECT_TRUE(f.matches(tp));
  f.status = "delivered";
  EXPECT_TRUE(f.matches(tp));
  f.channel = v1::SMS;
  EXPECT_FALSE(f.matches(tp));
  f.channel = v1::EMAIL;
  f.event = "OUT-2";
  EXPECT_FALSE(f.matches(tp));
  f.event.clear();
  f.kind = v1::REPLY;
  EXPECT_FALSE(f.matches(tp));
}

TEST(StreamIdTest, ParsesOrdersAndPrints) {
  auto a = StreamId::parse("1700000000000-3");
  auto b = StreamId::parse("1700000000000-12");
  ASSERT_TRUE(a && b);
  EXPECT_LT(*a, *b) << "sequence numbers compare as numbers, not text";
  EXPECT_EQ(a->str(), "1700000000000-3");
  EXPECT_EQ(StreamId::parse("1700000000001")->seq, 0u);
  EXPECT_FALSE(StreamId::parse("17x-1"));
  EXPECT_FALSE(StreamId::parse("1-"));
}

TEST(StreamIdTest, TouchpointsInsideAnEntryOrderAfterItsFirst) {
  auto first = StreamId::parse("1700000000000-3");
  auto third = StreamId::parse("1700000000000-3.2");
  auto next = StreamId::parse("1700000000000-4");
  ASSERT_TRUE(first && third && next);
  EXPECT_EQ(third->sub, 2u);
  EXPECT_LT(*first, *third);
  EXPECT_LT(*third, *next);
  EXPECT_EQ(third->str(), "1700000000000-3.2");
  EXPECT_EQ(third->entry(), "1700000000000-3") << "XRANGE takes the entry, not the touchpoint";
  EXPECT_EQ(first->str(), "1700000000000-3") << "the first of an entry prints as before";
  EXPECT_FALSE(StreamId::parse("1-1."));
  EXPECT_FALSE(StreamId::parse("1-1.x"));
  EXPECT_FALSE(StreamId::parse("1-1.99999999999"));
}

}  // namespace
}  // namespace herald::journey
