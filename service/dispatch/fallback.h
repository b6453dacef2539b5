#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "herald/v1/customer.pb.h"
#include "herald/v1/message.pb.h"
#include "service/common/result.h"
#include "service/core/crypto.h"
#include "service/redis/connection.h"

// After a permanent failure, the customer's next channel for the same notification. The
// dispatcher only chooses it; the planner plans it (a marked `deferred` member), so its own
// checks (history, STOP, cadence, quiet hours) still apply.
namespace herald::dispatch {

// Candidates in order: the channels the customer chose for the event's kind, then those chosen
// for other kinds (consent to be reached that way); the first not `excluded` wins.
std::optional<v1::Channel> next_channel(const v1::Customer& c, v1::EventKind kind,
                                        const std::function<bool(v1::Channel)>& excluded);

// "<event>|<revision>|<channel number>|<customer number>|<failed channel number>", the
// planner's `deferred` member for a fallback.
std::string fallback_member(const v1::OutboundMessage& failed, v1::Channel next);

// For each failed message, the channel to fall back to: reads the event's kind, the customer,
// their history for the event and the opt-out and invalid sets in one pipeline, and excludes
// the failed channel, channels that already got this revision or a later one, channels without
// a contact, contacts marked invalid and STOPped SMS.
Result<std::vector<std::optional<v1::Channel>>> choose_fallbacks(
    redis::Connection& conn, const core::Sealer& sealer,
    std::span<const v1::OutboundMessage* const> failed);

}  // namespace herald::dispatch
