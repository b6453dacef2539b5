#pragma once

#include <cstdint>
#include <google/protobuf/map.h>

#include <optional>
#include <span>
#include <string>

#include "service/common/net.h"
#include "service/common/result.h"
#include "service/core/crypto.h"
#include "service/inbound/contact_index.h"
#include "service/inbound/keywords.h"
#include "service/redis/pool.h"
#include "service/store/customer_store.h"
#include "templates/catalog.h"

// Acting on an inbound SMS once its signature was checked (docs/architecture.md, "Webhooks
// in"). Keys written, all by customer number n:
//   stop:sms, stop:sms:<KIND>   STOP family / scoped STOP (the planner reads them)
//   out:{e}, outr:{e}           zsets n by ms: OUT reports on event e, and those after it closed
//   sv:{e}                      hash digit -> count: survey answers on a closed event
//   cbq                         stream n, event, reason, at: CALL; n, op=cancel, at: CANCEL
//                               CALL (callbacks consume both)
//   inbox                       stream n, at, text (sealed, associated data n): free text
//   dq:sms:*                    HELP and STATUS replies, as notices
// plus a REPLY touchpoint (SURVEY for survey answers) with the keyword as status.
namespace herald::inbound {

struct InboundDeps {
  redis::Pool& pool;
  store::CustomerStore& customers;
  const core::Sealer& sealer;
  const templates::Catalog& catalog;
  const ContactIndex& contacts;
};

struct InboundSms {
  std::string from;  // E.164
  std::string body;
  int64_t now_ms = 0;
};

enum class InboundResult { kUnknownNumber, kHandled };

// Errors are Redis's (kUnavailable): the provider retries on a 5xx.
awaitable<Result<InboundResult>> handle_inbound_sms(InboundDeps deps, InboundSms sms);

std::string out_key(std::string_view event_id);        // out:{e}
std::string out_after_key(std::string_view event_id);  // outr:{e}
std::string survey_key(std::string_view event_id);     // sv:{e}

// What operators see of the replies on GET /v1/events/{id}, in its funnel map:
// "reports:out", "reports:out_after_restoration", "survey:<1..5>". The reads, and the fold of
// their replies (in order) into the map.
redis::Batch event_report_reads(std::string_view event_id);
void add_event_reports(std::span<const redis::Reply> replies,
                       google::protobuf::Map<std::string, int64_t>& out);

// The customer whose stored phone is `phone`, with their number; nullopt when none is.
struct FoundCustomer {
  v1::Customer customer;
  uint64_t num = 0;
};
awaitable<Result<std::optional<FoundCustomer>>> find_by_phone(InboundDeps deps, std::string phone);
// The customer's internal number (from cid:{h}); nullopt when there is no such customer.
awaitable<Result<std::optional<uint64_t>>> number_of(redis::Pool& pool, std::string customer_id);
// The customer id of number `num` (from its record); nullopt when erased.
awaitable<Result<std::optional<std::string>>> id_of(redis::Pool& pool, uint64_t num);

}  // namespace herald::inbound
