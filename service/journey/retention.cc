#include "service/journey/retention.h"

#include <algorithm>
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

// The streams retention trims: journeys (in buckets, and those of earlier releases) and the
// events' search copies.
constexpr std::string_view kTrimmed[] = {"tjb:{", "tj:{", "te:{"};

bool trimmed(const std::string& key) {
  return std::any_of(std::begin(kTrimmed), std::end(kTrimmed),
                     [&](std::string_view prefix) { return key.starts_with(prefix); });
}

// One pass over the key space for all three kinds (a MATCH per kind would walk it thrice).
Result<int64_t> trim_streams(redis::Connection& conn, const std::string& min_id) {
  int64_t removed = 0;
  std::string cursor = "0";
  do {
    auto page = conn.command(redis::cmd("SCAN", cursor, "COUNT", "1000", "TYPE", "stream"));
    if (!page.ok()) return std::move(page).take_error();
    if (page->is_error() || page->elements.size() < 2) {
      return make_error(ErrorCode::kUnavailable, "redis: SCAN failed: " + page->str);
    }
    cursor = page->elements[0].str;
    // A plain XTRIM for every stream; the script, which deletes a stream left empty, only for
    // those it trimmed: most have nothing past the cutoff, and a script call costs several
    // plain commands.
    std::vector<std::string> keys;
    for (const auto& key : page->elements[1].elements) {
      if (trimmed(key.str)) keys.push_back(key.str);
    }
    redis::Batch trims;
    for (const auto& key : keys) trims.push_back(redis::cmd("XTRIM", key, "MINID", min_id));
    if (trims.empty()) continue;
    auto done = conn.pipeline(trims);
    if (!done.ok()) return std::move(done).take_error();
    redis::Batch empties;
    for (size_t i = 0; i < done->size(); ++i) {
      const redis::Reply& r = (*done)[i];
      if (r.is_error()) return make_error(ErrorCode::kUnavailable, "redis: " + r.str);
      removed += r.integer;
      if (r.integer > 0) empties.push_back(redis::cmd("EVAL", kTrimLua, "1", keys[i], min_id));
    }
    if (empties.empty()) continue;
    auto emptied = conn.pipeline(empties);
    if (!emptied.ok()) return std::move(emptied).take_error();
    for (const auto& r : *emptied) {
      if (r.is_error()) return make_error(ErrorCode::kUnavailable, "redis: " + r.str);
      removed += r.integer;  // none unless an old entry was written since (a late copy)
    }
  } while (cursor != "0");
  return removed;
}

}  // namespace

Result<bool> take_sweep_turn(redis::Connection& conn, const std::string& owner,
                             std::chrono::milliseconds interval) {
  auto r = conn.command(redis::cmd("SET", std::string(kSweepKey), owner, "NX", "PX",
                                   std::to_string(std::max<int64_t>(interval.count(), 1))));
  if (!r.ok()) return std::move(r).take_error();
  if (r->is_error()) return make_error(ErrorCode::kUnavailable, "redis: " + r->str);
  return !r->is_nil();
}

Result<int64_t> trim_touchpoints(redis::Connection& conn, int64_t cutoff_ms) {
  const std::string min_id = std::to_string(cutoff_ms);
  auto removed = trim_streams(conn, min_id);
  if (!removed.ok()) return removed;
  auto inbox = conn.command(redis::cmd("XTRIM", kInboxKey, "MINID", min_id));
  if (!inbox.ok()) return std::move(inbox).take_error();
  return *removed + inbox->integer;
}

}  // namespace herald::journey
