#include "service/store/scripts.h"

#include <fmt/format.h>
#include <openssl/sha.h>

namespace herald::store {
namespace {

// ARGV[1] = now (ms); then per operation either
//   'U', id, cid-key, record, index-list, geo, expect   (expect: '' or SHA-1 of the current record)
//   'D', id, cid-key
// Replies per operation: 'C<created_ms>', 'U<created_ms>', 'D', 'N' (not found), 'X' (changed
// meanwhile). index-list: premise entries joined by ';', each
// "premise,pm-key,feeder,transformer,zip,hasgeo". geo: "lon lat" for each premise with a location,
// joined by ';'.
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
local function pm_remove(key, pid, n)
  local v = redis.call('HGET', key, pid)
  if not v then return end
  local keep = {}
  for m in string.gmatch(v, '[^,]+') do if m ~= n then keep[#keep + 1] = m end end
  if #keep == 0 then redis.call('HDEL', key, pid) else redis.call('HSET', key, pid, table.concat(keep, ',')) end
end
local function pm_add(key, pid, n)
  if redis.call('HSETNX', key, pid, n) == 1 then return end
  local v = redis.call('HGET', key, pid)
  for m in string.gmatch(v, '[^,]+') do if m == n then return end end
  redis.call('HSET', key, pid, v .. ',' .. n)
end
local function unindex(n, idx)
  for k, f in ipairs(entries(idx)) do
    pm_remove(f[2], f[1], n)
    if f[3] ~= '' then redis.call('SREM', 'ix:f:' .. f[3], n) end
    if f[4] ~= '' then redis.call('SREM', 'ix:t:' .. f[4], n) end
    if f[5] ~= '' then redis.call('SREM', 'ix:z:' .. f[5], n) end
    if f[6] == '1' then redis.call('ZREM', 'geo', n .. '.' .. (k - 1)) end
  end
end
local function index(n, idx, geo, sets)
  local gs = {}
  for c in string.gmatch(geo, '[^;]+') do gs[#gs + 1] = c end
  local j = 0
  for k, f in ipairs(entries(idx)) do
    if sets then
      pm_add(f[2], f[1], n)
      if f[3] ~= '' then redis.call('SADD', 'ix:f:' .. f[3], n) end
      if f[4] ~= '' then redis.call('SADD', 'ix:t:' .. f[4], n) end
      if f[5] ~= '' then redis.call('SADD', 'ix:z:' .. f[5], n) end
    end
    if f[6] == '1' then
      j = j + 1
      local lon, lat = string.match(gs[j], '^(%S+) (%S+)$')
      redis.call('GEOADD', 'geo', lon, lat, n .. '.' .. (k - 1))
    end
  end
end
local function record_of(n)
  local num = tonumber(n)
  return 'c:{' .. string.format('%x', math.floor(num / 64)) .. '}', string.format('%d', num % 64)
end
local now = ARGV[1]
local out = {}
local i = 2
while i <= #ARGV do
  local op, id, cidkey = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local cur = redis.call('HGET', cidkey, id)
  local n, created, oldidx
  if cur then n, created, oldidx = string.match(cur, '^(%d+)|(%d+)|(.*)$') end
  if op == 'U' then
    local blob, idx, geo, expect = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
    i = i + 7
    if cur then
      local rk, rf = record_of(n)
      if expect ~= '' and redis.sha1hex(redis.call('HGET', rk, rf) or '') ~= expect then
        out[#out + 1] = 'X'
      else
        local changed = oldidx ~= idx
        if changed then unindex(n, oldidx) end
        index(n, idx, geo, changed)
        redis.call('HSET', rk, rf, blob)
        redis.call('HSET', cidkey, id, n .. '|' .. created .. '|' .. idx)
        out[#out + 1] = 'U' .. created
      end
    elseif expect ~= '' then
      out[#out + 1] = 'N'
    else
      n = string.format('%d', redis.call('INCR', 'seq:customer'))
      local rk, rf = record_of(n)
      index(n, idx, geo, true)
      redis.call('HSET', rk, rf, blob)
      redis.call('HSET', cidkey, id, n .. '|' .. now .. '|' .. idx)
      out[#out + 1] = 'C' .. now
    end
  else
    i = i + 3
    if cur then
      local rk, rf = record_of(n)
      unindex(n, oldidx)
      redis.call('HDEL', rk, rf)
      redis.call('HDEL', cidkey, id)
      out[#out + 1] = 'D'
    else
      out[#out + 1] = 'N'
    end
  end
end
return out
)lua";

// ARGV: cid-key, id. Returns {cid value, record} or nil.
constexpr std::string_view kGetLua = R"lua(
local cur = redis.call('HGET', ARGV[1], ARGV[2])
if not cur then return false end
local num = tonumber(string.match(cur, '^(%d+)|'))
local rk = 'c:{' .. string.format('%x', math.floor(num / 64)) .. '}'
return {cur, redis.call('HGET', rk, string.format('%d', num % 64)) or ''}
)lua";

}  // namespace

std::string sha1_hex(std::string_view data) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  std::string hex;
  for (unsigned char b : digest) hex += fmt::format("{:02x}", b);
  return hex;
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
  static const Script script{std::string(kBatchLua)};
  return script;
}

const Script& customer_get_script() {
  static const Script script{std::string(kGetLua)};
  return script;
}

}  // namespace herald::store
