#include "service/dispatch/fallback.h"

#include <fmt/format.h>

#include <algorithm>

#include "channels/channel.h"
#include "herald/v1/event.pb.h"
#include "service/events/event_store.h"
#include "service/fanout/decide.h"
#include "service/fanout/ledger.h"
#include "service/store/keys.h"

namespace herald::dispatch {
namespace {

constexpr auto& kCustomerChannels = fanout::kHistoryChannels;
constexpr v1::EventKind kKinds[] = {v1::OUTAGE, v1::PLANNED_MAINTENANCE, v1::BOIL_WATER_ADVISORY};

bool has_contact(const v1::Customer& c, v1::Channel ch) {
  return ch == v1::EMAIL ? !c.email().empty() : !c.phone().empty();
}

size_t slot_of(v1::Channel ch) {
  return static_cast<size_t>(std::find(std::begin(kCustomerChannels), std::end(kCustomerChannels),
                                       ch) -
                             std::begin(kCustomerChannels));
}

}  // namespace

std::optional<v1::Channel> next_channel(const v1::Customer& c, v1::EventKind kind,
                                        const std::function<bool(v1::Channel)>& excluded) {
  std::vector<v1::Channel> order = fanout::channels_for(c, kind);
  for (auto other : kKinds) {
    for (auto ch : fanout::channels_for(c, other)) {
      if (std::find(order.begin(), order.end(), ch) == order.end()) order.push_back(ch);
    }
  }
  for (auto ch : order) {
    if (slot_of(ch) < std::size(kCustomerChannels) && !excluded(ch)) return ch;
  }
  return std::nullopt;
}

std::string fallback_member(const v1::OutboundMessage& failed, v1::Channel next) {
  return fmt::format("{}|{}|{}|{}|{}", failed.event_id(), failed.revision(),
                     static_cast<int>(next), failed.customer_num(),
                     static_cast<int>(failed.channel()));
}

Result<std::vector<std::optional<v1::Channel>>> choose_fallbacks(
    redis::Connection& conn, const core::Sealer& sealer,
    std::span<const v1::OutboundMessage* const> failed) {
  std::vector<std::optional<v1::Channel>> out(failed.size());
  if (failed.empty()) return out;
  // Per message: event, record, history (its bucket, the legacy hash), stop:sms, invalid per
  // channel.
  constexpr size_t kPer = 2 + 2 + 1 + std::size(kCustomerChannels);
  redis::Batch reads;
  for (const auto* m : failed) {
    const std::string num = std::to_string(m->customer_num());
    reads.push_back(redis::cmd("GET", events::event_key(m->event_id())));
    reads.push_back(redis::cmd("HGET", store::record_key(m->customer_num()),
                               store::record_field(m->customer_num())));
    reads.push_back(fanout::history_read(fanout::history_key(m->event_id(), m->customer_num()),
                                         m->customer_num()));
    reads.push_back(
        fanout::history_read(fanout::legacy_history_key(m->event_id()), m->customer_num()));
    reads.push_back(redis::cmd("SISMEMBER", "stop:sms", num));
    for (auto ch : kCustomerChannels) {
      reads.push_back(
          redis::cmd("SISMEMBER", fmt::format("invalid:{}", channels::channel_key(ch)), num));
    }
  }
  auto got = conn.pipeline(reads);
  if (!got.ok()) return std::move(got).take_error();
  for (size_t i = 0; i < failed.size(); ++i) {
    const v1::OutboundMessage& m = *failed[i];
    const redis::Reply* r = &(*got)[i * kPer];
    v1::EventState state;
    if (r[0].type != redis::Reply::Type::kString || !state.ParseFromString(r[0].str)) continue;
    auto customer = fanout::customer_from(r[1], sealer);
    if (!customer) continue;  // erased meanwhile
    auto excluded = [&](v1::Channel ch) {
      const size_t s = slot_of(ch);
      if (ch == m.channel() || !has_contact(*customer, ch)) return true;
      const fanout::History h =
          fanout::later_mark(fanout::history_in(r[2], s), fanout::history_in(r[3], s));
      if (h.last_revision_sent >= m.revision()) return true;
      if (ch == v1::SMS && r[4].integer == 1) return true;
      return r[5 + s].integer == 1;
    };
    out[i] = next_channel(*customer, state.event().kind(), excluded);
  }
  return out;
}

}  // namespace herald::dispatch
