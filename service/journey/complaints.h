#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "herald/v1/report.pb.h"
#include "service/common/net.h"
#include "service/common/result.h"
#include "service/core/crypto.h"
#include "service/journey/keywords.h"
#include "service/redis/connection.h"
#include "service/redis/pool.h"
#include "service/store/touchpoints.h"

namespace herald::journey {

inline constexpr std::string_view kComplaintsKey = store::kComplaintsKey;  // id -> Complaint
inline constexpr std::string_view kComplaintsOpenKey = "cmp:open";          // id by opened ms
inline constexpr std::string_view kComplaintsResolvedKey = "cmp:resolved";  // id by resolved ms
inline constexpr std::string_view kComplaintsAllKey = "cmp:all";            // id by opened ms
inline constexpr std::string_view kInboxKey = "inbox";
inline constexpr std::string_view kComplaintsGroup = "complaints";

struct IntakeCounts {
  int read = 0;
  int flagged = 0;
  int unreadable = 0;  // text that would not open under HERALD_PII_KEY
};

// One round over the inbox (a dead consumer's entries first, then new ones, waiting up to
// `block`): complaints are filed with a COMPLAINT touchpoint; every entry read is acked.
Result<IntakeCounts> take_inbox(redis::Connection& conn, const core::Sealer& sealer,
                                const KeywordMatcher& matcher, const std::string& consumer,
                                std::chrono::milliseconds block);

// Open or resolved complaints, oldest first; the text only when `with_text`.
awaitable<Result<v1::ComplaintList>> list_complaints(redis::Pool& pool, const core::Sealer& sealer,
                                                     bool open, bool with_text,
                                                     size_t limit);

// kNotFound, or kConflict when it was resolved already.
awaitable<Result<v1::Complaint>> resolve_complaint(redis::Pool& pool, std::string id,
                                                   std::string note, int64_t now_ms);

// Time to resolution over the resolved ids (a ZRANGE reply).
awaitable<Result<v1::ComplaintReport>> complaint_summary(redis::Pool& pool,
                                                         const redis::Reply& resolved_ids);

}  // namespace herald::journey
