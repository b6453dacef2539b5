#include "service/events/intake.h"

#include "service/events/event_store.h"

namespace herald::events {
namespace {

constexpr std::string_view kDeadMaxLen = "10000";

// KEYS: the stream. The trim point is the smallest, over groups, of the id after the
// last-delivered one and of the oldest pending id; XTRIM MINID keeps ids >= it.
constexpr std::string_view kTrimLua = R"lua(
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if not ok or #groups == 0 then return 0 end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a_ms, a_seq, b_ms, b_seq)
  return a_ms < b_ms or (a_ms == b_ms and a_seq < b_seq)
end
local min_ms, min_seq = nil, nil
local function consider(ms, seq)
  if min_ms == nil or less(ms, seq, min_ms, min_seq) then min_ms, min_seq = ms, seq end
end
for _, g in ipairs(groups) do
  local f = {}
  for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
  local ms, seq = parse(f['last-delivered-id'])
  consider(ms, seq + 1)
  if tonumber(f['pending']) > 0 then
    local p = redis.call('XPENDING', KEYS[1], f['name'])
    local pms, pseq = parse(p[2])
    consider(pms, pseq)
  end
end
if min_ms == nil or (min_ms == 0 and min_seq <= 1) then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-%d', min_ms, min_seq))
)lua";

// KEYS: the stream. ARGV: group, idle ms.
constexpr std::string_view kPruneLua = R"lua(
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then return 0 end
local gone = 0
for _, c in ipairs(consumers) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if tonumber(f['pending']) == 0 and tonumber(f['idle']) > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    gone = gone + 1
  end
end
return gone
)lua";

Result<long long> integer_of(Result<redis::Reply> r, std::string_view what) {
  if (!r.ok()) return std::move(r).take_error();
  if (r->is_error()) return make_error(ErrorCode::kInternal, std::string(what) + ": " + r->str);
  return r->integer;
}

}  // namespace

redis::Command dead_letter_command(std::string_view source, std::string_view item,
                                   std::string_view reason) {
  return redis::cmd("XADD", kIntakeDeadKey, "MAXLEN", "~", kDeadMaxLen, "*", "source", source,
                    "item", item, "reason", reason);
}

Result<long long> trim_intake(redis::Connection& conn) {
  return integer_of(conn.command(redis::cmd("EVAL", kTrimLua, "1", kIntakeKey)), "intake trim");
}

Result<long long> prune_consumers(redis::Connection& conn, std::string_view stream,
                                  std::string_view group, std::chrono::milliseconds idle) {
  return integer_of(conn.command(redis::cmd("EVAL", kPruneLua, "1", stream, group,
                                            std::to_string(idle.count()))),
                    "consumer pruning");
}

}  // namespace herald::events
