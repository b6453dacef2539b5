#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "service/common/net.h"
#include "service/common/result.h"
#include "service/inbound/contact_index.h"
#include "service/redis/pool.h"
#include "service/store/customer_store.h"

// SendGrid Event Webhook events, once the batch's signature was checked.
//   processed, deferred, delivered, bounce, dropped  merge into the message's status
//   bounce, dropped                  SADD invalid:email n (and iv:email n -> hash of the address)
//   unsubscribe, group_unsubscribe, spamreport  email removed from every kind's channels, with
//                                    a PREFERENCE_CHANGE touchpoint
// open and click are read and ignored. Events without a herald_message_id naming a customer
// (sent by something else through the same account) are skipped.
namespace herald::inbound {

struct EmailEvent {
  std::string event;       // "delivered", "bounce", ...
  std::string message_id;  // herald_message_id (unique_args)
  std::string provider_id;  // sg_message_id
  std::string reason;      // bounce / drop reason or type, for the journey
  int64_t at_ms = 0;
};

// The JSON array SendGrid posts; kInvalidArgument when it is not one.
Result<std::vector<EmailEvent>> parse_email_events(std::string_view body);

struct EmailEventCounts {
  int applied = 0;
  int skipped = 0;
};

awaitable<Result<EmailEventCounts>> apply_email_events(redis::Pool& pool,
                                                       store::CustomerStore& customers,
                                                       const ContactIndex& contacts,
                                                       std::vector<EmailEvent> events,
                                                       int64_t now_ms);

// Email off for every kind, as unsubscribe, spam reports and the one-click link do, with a
// PREFERENCE_CHANGE touchpoint (reason: why). kNotFound when there is no such customer.
awaitable<Status> unsubscribe_email(redis::Pool& pool, store::CustomerStore& customers,
                                    std::string customer_id, uint64_t num, std::string reason,
                                    int64_t now_ms);

}  // namespace herald::inbound
