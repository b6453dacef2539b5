#include <gtest/gtest.h>

#include <set>

#include "service/dispatch/fallback.h"

namespace herald::dispatch {
namespace {

v1::Customer customer() {
  v1::Customer c;
  c.set_phone("+12014316859");
  c.set_email("ada@example.net");
  auto* ch = c.mutable_preferences()->mutable_channels();
  ch->add_outage(v1::SMS);
  ch->add_outage(v1::EMAIL);
  ch->add_planned_maintenance(v1::EMAIL);
  ch->add_planned_maintenance(v1::VOICE);
  return c;
}

auto excluding(std::set<v1::Channel> out) {
  return [out](v1::Channel ch) { return out.count(ch) > 0; };
}

TEST(DispatchFallback, TakesTheKindsChannelsInTheCustomersOrder) {
  EXPECT_EQ(next_channel(customer(), v1::OUTAGE, excluding({v1::SMS})), v1::EMAIL);
}

TEST(DispatchFallback, ThenChannelsChosenForOtherKinds) {
  // SMS failed and email already got this revision: voice, chosen for maintenance, is next.
  EXPECT_EQ(next_channel(customer(), v1::OUTAGE, excluding({v1::SMS, v1::EMAIL})), v1::VOICE);
}

TEST(DispatchFallback, NeverAChannelTheCustomerChoseForNothing) {
  auto c = customer();
  c.mutable_preferences()->mutable_channels()->clear_planned_maintenance();
  EXPECT_EQ(next_channel(c, v1::OUTAGE, excluding({v1::SMS, v1::EMAIL})), std::nullopt);
}

TEST(DispatchFallback, MemberNamesTheNextAndTheFailedChannel) {
  v1::OutboundMessage m;
  m.set_event_id("OUT-7");
  m.set_revision(3);
  m.set_customer_num(42);
  m.set_channel(v1::SMS);
  EXPECT_EQ(fallback_member(m, v1::EMAIL), "OUT-7|3|2|42|1");
}

}  // namespace
}  // namespace herald::dispatch
