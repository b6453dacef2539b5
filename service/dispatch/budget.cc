#include "service/dispatch/budget.h"

#include <fmt/format.h>

namespace herald::dispatch {
namespace {

Result<redis::Reply> checked(Result<redis::Reply> r) {
  if (!r.ok()) return r;
  if (r->is_error()) return make_error(ErrorCode::kUnavailable, "budget script: " + r->str);
  return r;
}

}  // namespace

std::string rate_key(std::string_view budget_key) { return fmt::format("rb:{{{}}}", budget_key); }
std::string calls_key(std::string_view budget_key) { return fmt::format("cc:{{{}}}", budget_key); }

redis::Command take_tokens_command(std::string_view budget_key, int rate_per_s, int64_t n) {
  // Fractional tokens are kept, so slow rates (1/s) refill exactly between short rounds.
  static constexpr std::string_view kScript = R"lua(
local rate = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local size = math.max(1, rate)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(s[1]) or size
local ts = tonumber(s[2]) or now
if now > ts then
  tokens = math.min(size, tokens + (now - ts) * rate / 1000)
  ts = now
end
local got = 0
if n < 0 then
  tokens = math.min(size, tokens - n)
else
  got = math.min(n, math.floor(tokens))
  tokens = tokens - got
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], 60000)
local wait = 0
if n > 0 and got < n then wait = math.ceil((1 - tokens) * 1000 / rate) end
return {got, wait})lua";
  return redis::cmd("EVAL", kScript, "1", rate_key(budget_key), std::to_string(rate_per_s),
                    std::to_string(n));
}

Result<Grant> parse_grant(Result<redis::Reply> reply) {
  auto r = checked(std::move(reply));
  if (!r.ok()) return std::move(r).take_error();
  if (r->elements.size() != 2) return make_error(ErrorCode::kInternal, "budget script: bad reply");
  return Grant{r->elements[0].integer, std::chrono::milliseconds(r->elements[1].integer)};
}

redis::Command take_call_slots_command(std::string_view budget_key, int max_calls,
                                      std::chrono::seconds ceiling,
                                      std::span<const std::string> message_ids) {
  static constexpr std::string_view kScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local free = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1])
local lapse = now + tonumber(ARGV[2])
local got = 0
for i = 3, #ARGV do
  if got >= free then break end
  redis.call('ZADD', KEYS[1], lapse, ARGV[i])
  got = got + 1
end
if got > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return got)lua";
  redis::Command c = redis::cmd("EVAL", kScript, "1", calls_key(budget_key),
                                std::to_string(max_calls), std::to_string(ceiling.count() * 1000));
  for (const auto& id : message_ids) c.push_back(id);
  return c;
}

redis::Command release_call_command(std::string_view budget_key, std::string_view message_id) {
  return redis::cmd("ZREM", calls_key(budget_key), message_id);
}

Result<Grant> Budget::take(redis::Connection& conn, int64_t n) {
  if (!rate_limited() || n <= 0) return Grant{std::max<int64_t>(0, n), {}};
  return parse_grant(conn.command(take_tokens_command(key_, rate_, n)));
}

Status Budget::give_back(redis::Connection& conn, int64_t n) {
  if (!rate_limited() || n <= 0) return ok_status();
  auto r = parse_grant(conn.command(take_tokens_command(key_, rate_, -n)));
  if (!r.ok()) return std::move(r).take_error();
  return ok_status();
}

Result<int64_t> Budget::take_calls(redis::Connection& conn,
                                   std::span<const std::string> message_ids) {
  if (!calls_limited() || message_ids.empty()) return static_cast<int64_t>(message_ids.size());
  auto r = checked(
      conn.command(take_call_slots_command(key_, max_calls_, ceiling_, message_ids)));
  if (!r.ok()) return std::move(r).take_error();
  return r->integer;
}

}  // namespace herald::dispatch
