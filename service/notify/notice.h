#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "herald/v1/customer.pb.h"
#include "herald/v1/message.pb.h"
#include "service/common/result.h"
#include "service/core/crypto.h"
#include "service/redis/reply.h"
#include "templates/catalog.h"

// One-off messages to one customer that are not event notifications: replies to inbound SMS
// keywords (HELP, STATUS), callback confirmations and the like. They travel the same dispatch
// streams as event notifications, so rate budgets, retries, priorities and delivery receipts
// apply to them unchanged.
//
// Contract:
// - Content comes from templates/<lang>/notice/<name>.<part>.mustache, loaded by
//   templates::Catalog::load (heraldd refuses to start if a language misses a file that the
//   fallback language has). Parts per channel: SMS "sms"; EMAIL "email_subject", "email_text"
//   and "email_html" (all three); VOICE "voice". The customer's language picks the folder
//   (unknown languages get English). Variables are the caller's, already localised; empty ones
//   are unset, so {{#x}} sections skip and {{^x}} sections show. "first_name" is filled in from
//   the customer unless the caller set it.
// - The message id is "notice:<name>:<customer number>:<unique>" (<unique>: random, url-safe
//   base64, no ':'); event_id is empty and revision 0, so the event funnels and the dispatcher's
//   staleness check leave it alone (it counts in the "fn:{}" hash; see docs/architecture.md).
// - Content is sealed with the PII key, the message id as associated data, like event messages.
// - Nothing is written by compose; append_notice adds exactly one XADD (onto
//   dq:<channel>:<priority>) to the caller's batch, which the caller runs, alone or inside its
//   own MULTI/EXEC, so a reply can be queued atomically with what caused it.
// - Errors: kNotFound when the notice has no template for that channel; kConflict
//   when the customer has no phone (SMS, VOICE) or email (EMAIL); kInvalidArgument for a
//   channel notices cannot use (WEBHOOK) or a name that is not [a-z0-9_]+.
namespace herald::notify {

struct Notice {
  std::string name;  // e.g. "help", "status": the template file stem
  v1::Channel channel = v1::SMS;
  v1::Priority priority = v1::PRIORITY_NORMAL;
  templates::NoticeVars vars;
  // Zero: no limit. Otherwise the message is not worth sending after queued_at + valid_for
  // (an answer to STATUS is useless an hour later); sets valid_until.
  std::chrono::seconds valid_for{0};
};

// Renders and seals one notice for customer `num`. Writes nothing.
Result<v1::OutboundMessage> compose_notice(const v1::Customer& customer, uint64_t num,
                                           const Notice& notice, const templates::Catalog& catalog,
                                           const core::Sealer& sealer,
                                           std::chrono::system_clock::time_point now);

// compose_notice, then appends the XADD that queues it to `out`. Returns the message id.
Result<std::string> append_notice(redis::Batch& out, const v1::Customer& customer, uint64_t num,
                                  const Notice& notice, const templates::Catalog& catalog,
                                  const core::Sealer& sealer,
                                  std::chrono::system_clock::time_point now);

// "notice:<name>:<num>:<unique>".
std::string notice_id(std::string_view name, uint64_t num, std::string_view unique);

struct NoticeRef {
  std::string name;
  uint64_t num = 0;
};
// The name and customer number of a notice id; nullopt for any other id (e.g. an event
// message's "<event>:<revision>:<channel>:<num>").
std::optional<NoticeRef> parse_notice_id(std::string_view id);

}  // namespace herald::notify
