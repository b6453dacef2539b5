#include "service/store/scripts.h"

#include <fmt/format.h>
#include <openssl/sha.h>

#include "service/core/crypto.h"

namespace herald::store {
namespace {

// Both customer write scripts end with this: runs the commands that ride with a change, from
// ARGV[i] on: 'T', k, the k words of one command, as many as there are.
constexpr std::string_view kRidingLua = R"lua(
local function run_riding(i)
  while i <= #ARGV do
    local k = tonumber(ARGV[i + 1])
    redis.call(unpack(ARGV, i + 2, i + 1 + k))
    i = i + 2 + k
  end
end
)lua";

// ARGV: per operation either
//   'U', id, cid-key, record, index-list, geo, expect, old-index-list
//   'D', id, cid-key, expect, old-index-list
// and after them, optionally, commands to run only if every operation is made:
//   'T', k, the k words of one command        (e.g. the journey touchpoint of a change)
// expect is '' for a customer the caller believes new, else the SHA-1 of the record the caller
// read, whose index-list it passes as old-index-list: the script checks the record is still
// that one before it removes the old index entries, so the id map need not hold them.
// Each customer id appears at most once per call (the caller splits batches). Replies per
// operation: 'C' (created), 'U' (updated), 'D' (erased), 'N' (not found), 'X' (changed since
// the caller read it), 'R' (exists: read it and send it again with expect).
// index-list: premise entries joined by ';', each
// "premise,pm-key,feeder,transformer,zip,cell,block,block-member" where cell is the premise's GEO
// cell key and block, block-member its entry in the block's set of used cells (store/keys.h),
// the three empty when it has no location (block sets only grow: an emptied cell stays listed);
// geo: "lon lat" for each premise with a location, joined by ';'; '=' when an update leaves the
// index list and every location as they were (nothing to re-index).
// Writes are grouped by key (one SADD per set, one GEOADD per cell, one HSET per record bucket): each
// redis.call from Lua costs several microseconds, more than most of the commands themselves.
// With ids unique per call, removing every old entry before adding every new one is the same as
// doing it customer by customer.
constexpr std::string_view kBatchLua = R"lua(
local function entries(idx)
  local list = {}
  for e in string.gmatch(idx, '[^;]+') do
    local f = {}
    for part in string.gmatch(e .. ',', '([^,]*),') do f[#f + 1] = part end
    list[#list + 1] = f
  end
  return list
end
local function push(groups, key, value)
  local g = groups[key]
  if not g then g = {}; groups[key] = g end
  g[#g + 1] = value
end
-- ':' and customer n's slice of a feeder's or a ZIP's set (store::index_slice)
local function slice(n) return ':' .. string.format('%d', math.floor(tonumber(n) / 1024) % 16) end
local sets_rem, sets_add, pm_rem, pm_add, geo_rem, geo_add, records = {}, {}, {}, {}, {}, {}, {}
-- customer n at premise pid: field 'pid,n' of the premise's hash (store::premise_field)
local function unindex(n, idx)
  for k, f in ipairs(entries(idx)) do
    push(pm_rem, f[2], f[1] .. ',' .. n)
    if f[3] ~= '' then push(sets_rem, 'ix:f:' .. f[3] .. slice(n), n) end
    if f[4] ~= '' then push(sets_rem, 'ix:t:' .. f[4], n) end
    if f[5] ~= '' then push(sets_rem, 'ix:z:' .. f[5] .. slice(n), n) end
    if f[6] ~= '' then push(geo_rem, f[6], n .. '.' .. (k - 1)) end
  end
end
local function index(n, idx, geo, sets)
  local gs = {}
  for c in string.gmatch(geo, '[^;]+') do gs[#gs + 1] = c end
  local j = 0
  for k, f in ipairs(entries(idx)) do
    if sets then
      push(pm_add, f[2], f[1] .. ',' .. n); push(pm_add, f[2], '')
      if f[3] ~= '' then push(sets_add, 'ix:f:' .. f[3] .. slice(n), n) end
      if f[4] ~= '' then push(sets_add, 'ix:t:' .. f[4], n) end
      if f[5] ~= '' then push(sets_add, 'ix:z:' .. f[5] .. slice(n), n) end
    end
    if f[6] ~= '' then
      j = j + 1
      local lon, lat = string.match(gs[j], '^(%S+) (%S+)$')
      push(geo_add, f[6], lon); push(geo_add, f[6], lat); push(geo_add, f[6], n .. '.' .. (k - 1))
      push(sets_add, f[7], f[8])
    end
  end
end
local function record_of(n)
  local num = tonumber(n)
  return 'c:{' .. string.format('%x', math.floor(num / 64)) .. '}', string.format('%d', num % 64)
end
local function each_chunk(list, width, fn)
  local step = 900 * width
  for i = 1, #list, step do fn(unpack(list, i, math.min(i + step - 1, #list))) end
end

local ops, new_count = {}, 0
local i = 1
while i <= #ARGV and ARGV[i] ~= 'T' do
  local op = {kind = ARGV[i], id = ARGV[i + 1], cidkey = ARGV[i + 2]}
  if op.kind == 'U' then
    op.blob, op.idx, op.geo, op.expect, op.oldidx =
      ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
    i = i + 8
  else
    op.expect, op.oldidx = ARGV[i + 3], ARGV[i + 4]
    i = i + 5
  end
  op.n = redis.call('HGET', op.cidkey, op.id)
  if op.n and op.kind == 'U' and op.expect == '' then
    -- an id claimed by a create that stopped before writing the record: create it at that number
    local rk, rf = record_of(op.n)
    if redis.call('HEXISTS', rk, rf) == 0 then op.claimed = op.n; op.n = nil end
  end
  if op.kind == 'U' and not op.n and not op.claimed and op.expect == '' then new_count = new_count + 1 end
  ops[#ops + 1] = op
end
local next_n = 0
if new_count > 0 then next_n = redis.call('INCRBY', 'seq:customer', new_count) - new_count end

local out, cid_writes, cid_dels, rec_dels = {}, {}, {}, {}
for _, op in ipairs(ops) do
  if op.n then
    local rk, rf = record_of(op.n)
    if op.expect == '' then
      out[#out + 1] = 'R'
    elseif redis.sha1hex(redis.call('HGET', rk, rf) or '') ~= op.expect then
      out[#out + 1] = 'X'
    elseif op.kind == 'U' then
      local changed = op.oldidx ~= op.idx
      if changed then unindex(op.n, op.oldidx) end
      if changed or op.geo ~= '=' then index(op.n, op.idx, op.geo, changed) end
      push(records, rk, rf); push(records, rk, op.blob)
      out[#out + 1] = 'U'
    else
      unindex(op.n, op.oldidx)
      rec_dels[#rec_dels + 1] = {rk, rf}
      cid_dels[#cid_dels + 1] = {op.cidkey, op.id}
      out[#out + 1] = 'D'
    end
  elseif op.kind == 'U' and op.expect == '' then
    local n = op.claimed
    if not n then
      next_n = next_n + 1
      n = string.format('%d', next_n)
    end
    local rk, rf = record_of(n)
    index(n, op.idx, op.geo, true)
    push(records, rk, rf); push(records, rk, op.blob)
    cid_writes[#cid_writes + 1] = {op.cidkey, op.id, n}
    out[#out + 1] = 'C'
  else
    out[#out + 1] = 'N'
  end
end

for key, members in pairs(sets_rem) do each_chunk(members, 1, function(...) redis.call('SREM', key, ...) end) end
for key, members in pairs(geo_rem) do each_chunk(members, 1, function(...) redis.call('ZREM', key, ...) end) end
for key, fields in pairs(pm_rem) do each_chunk(fields, 1, function(...) redis.call('HDEL', key, ...) end) end
for key, members in pairs(sets_add) do each_chunk(members, 1, function(...) redis.call('SADD', key, ...) end) end
for key, items in pairs(geo_add) do each_chunk(items, 3, function(...) redis.call('GEOADD', key, ...) end) end
for key, items in pairs(pm_add) do each_chunk(items, 2, function(...) redis.call('HSET', key, ...) end) end
for key, fields in pairs(records) do each_chunk(fields, 2, function(...) redis.call('HSET', key, ...) end) end
for _, e in ipairs(rec_dels) do redis.call('HDEL', e[1], e[2]) end
for _, e in ipairs(cid_writes) do redis.call('HSET', e[1], e[2], e[3]) end
for _, e in ipairs(cid_dels) do redis.call('HDEL', e[1], e[2]) end
local made = true
for _, o in ipairs(out) do if o ~= 'C' and o ~= 'U' and o ~= 'D' then made = false end end
if made then run_riding(i) end
return out
)lua";

// ARGV: pairs of cid-key, id. Returns n, record for each (both nil when there is no such id).
constexpr std::string_view kGetLua = R"lua(
local out = {}
for i = 1, #ARGV, 2 do
  local n = redis.call('HGET', ARGV[i], ARGV[i + 1])
  if n then
    local num = tonumber(n)
    local rk = 'c:{' .. string.format('%x', math.floor(num / 64)) .. '}'
    out[#out + 1] = n
    out[#out + 1] = redis.call('HGET', rk, string.format('%d', num % 64)) or ''
  else
    out[#out + 1] = false
    out[#out + 1] = false
  end
end
return out
)lua";

// Replaces one customer's record when nothing it is indexed by changes (a preferences PATCH, a
// contact marked undeliverable): ARGV record key, field, expect (SHA-1 of the record the caller read), new
// record, then optionally commands to run only if it is replaced: 'T', k, the k words of one
// command. Replies 'U' (replaced) or 'X' (the record changed, or was erased, since the caller
// read it). Numbers are never reused, so the record alone names the customer. The batch script
// does the same for such an update at more than twice the cost in Redis (its set-up, the id map
// read, the tables it builds; `bash scripts/bench_scripts.sh` measures both).
constexpr std::string_view kRecordSwapLua = R"lua(
local rk, rf = ARGV[1], ARGV[2]
if redis.sha1hex(redis.call('HGET', rk, rf) or '') ~= ARGV[3] then return 'X' end
redis.call('HSET', rk, rf, ARGV[4])
run_riding(5)
return 'U'
)lua";

}  // namespace

std::string sha1_hex(std::string_view data) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return core::to_hex(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

Script::Script(std::string body) : body_(std::move(body)), sha1_(sha1_hex(body_)) {}

awaitable<Result<redis::Reply>> Script::run(redis::Pool& pool,
                                            std::vector<std::string> args) const {
  redis::Command evalsha;
  evalsha.reserve(args.size() + 3);
  evalsha.push_back("EVALSHA");
  evalsha.push_back(sha1_);
  evalsha.push_back("0");
  for (auto& a : args) evalsha.push_back(std::move(a));
  auto first = co_await pool.exec(redis::batch(evalsha));
  if (!first.ok()) co_return std::move(first).take_error();
  redis::Reply reply = std::move(first->front());
  if (reply.is_error() && reply.str.rfind("NOSCRIPT", 0) == 0) {
    auto again =
        co_await pool.exec(redis::batch(redis::cmd("SCRIPT", "LOAD", body_), std::move(evalsha)));
    if (!again.ok()) co_return std::move(again).take_error();
    reply = std::move(again->back());
  }
  if (reply.is_error())
    co_return make_error(ErrorCode::kInternal, "redis script failed: " + reply.str);
  co_return reply;
}

const Script& customer_batch_script() {
  static const Script script{std::string(kRidingLua) + std::string(kBatchLua)};
  return script;
}

const Script& record_swap_script() {
  static const Script script{std::string(kRidingLua) + std::string(kRecordSwapLua)};
  return script;
}

const Script& customer_get_script() {
  static const Script script{std::string(kGetLua)};
  return script;
}

}  // namespace herald::store
