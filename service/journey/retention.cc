#include "service/journey/retention.h"

#include <string>
#include <vector>

#include "service/journey/complaints.h"

namespace herald::journey {
namespace {

// KEYS: a stream. ARGV: the oldest id kept. Deleting an emptied stream here, not in a second
// round trip, cannot race with a touchpoint appended in between.
constexpr std::string_view kTrimLua = R"lua(
local n = redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])
if redis.call('XLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
return n)lua";

Result<int64_t> trim_matching(redis::Connection& conn, const std::string& pattern,
                              const std::string& min_id) {
  int64_t removed = 0;
  std::string cursor = "0";
  do {
    auto page = conn.command(redis::cmd("SCAN", cursor, "MATCH", pattern, "COUNT", "1000",
                                        "TYPE", "stream"));
    if (!page.ok()) return std::move(page).take_error();
    if (page->is_error() || page->elements.size() < 2) {
      return make_error(ErrorCode::kUnavailable, "redis: SCAN failed: " + page->str);
    }
    cursor = page->elements[0].str;
    redis::Batch trims;
    for (const auto& key : page->elements[1].elements) {
      trims.push_back(redis::cmd("EVAL", kTrimLua, "1", key.str, min_id));
    }
    if (trims.empty()) continue;
    auto done = conn.pipeline(trims);
    if (!done.ok()) return std::move(done).take_error();
    for (const auto& r : *done) {
      if (r.is_error()) return make_error(ErrorCode::kUnavailable, "redis: " + r.str);
      removed += r.integer;
    }
  } while (cursor != "0");
  return removed;
}

}  // namespace

Result<int64_t> trim_touchpoints(redis::Connection& conn, int64_t cutoff_ms) {
  const std::string min_id = std::to_string(cutoff_ms);
  int64_t removed = 0;
  for (const char* pattern : {"tj:*", "te:*"}) {
    auto n = trim_matching(conn, pattern, min_id);
    if (!n.ok()) return n;
    removed += *n;
  }
  auto inbox = conn.command(redis::cmd("XTRIM", kInboxKey, "MINID", min_id));
  if (!inbox.ok()) return std::move(inbox).take_error();
  return removed + inbox->integer;
}

}  // namespace herald::journey
