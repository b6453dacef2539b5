#include "service/callbacks/keys.h"

#include <fmt/format.h>

#include <charconv>

namespace herald::callbacks {
namespace {

// ARGV: 1 op (book | park | set), 2 id, 3 customer id, 4 the record the caller read ('' for a
// new callback), 5 old status ('' new), 6 new status (park, set), 7 its index score (park,
// set), 8 event id, 9 event counters to bump, comma separated ('' none), 10 call time ms ('' none), 11 '1' the
// callback stays the customer's open one, '0' it closes, 12 outbox 'what' ('' none), 13 now
// ms, 14 old slot start ('' none), 15 set to add the id to (park), 16 wait set to leave
// ('' none), 17 the new record (park, set), then for book: triples (slot start, promised ms,
// record in that slot), best first.
// Replies: {'E', id} the customer already has an open callback; {'X'} the record changed
// since it was read; {'B', slot} booked; {'F'} every candidate is full; {'OK'} parked or set.
constexpr std::string_view kCallbackLua = R"lua(
local P = 'cb:{cb}:'
local op, id, customer, expect = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local old, event, counter, called = ARGV[5], ARGV[8], ARGV[9], ARGV[10]
local open, what, now, oldslot = ARGV[11], ARGV[12], ARGV[13], ARGV[14]
if expect == '' then
  local existing = redis.call('HGET', P .. 'open', customer)
  if existing then return {'E', existing} end
elseif redis.call('HGET', P .. 'rec', id) ~= expect then
  return {'X'}
end
local function commit(new, score, rec)
  if oldslot ~= '' then redis.call('ZREM', P .. 'in:' .. oldslot, id) end
  redis.call('SREM', P .. 'moved', id)
  redis.call('SREM', P .. 'later', id)
  if ARGV[16] ~= '' then redis.call('SREM', ARGV[16], id) end
  redis.call('HSET', P .. 'rec', id, rec)
  if old ~= '' then redis.call('ZREM', P .. 'st:' .. old, id) end
  redis.call('ZADD', P .. 'st:' .. new, score, id)
  if open == '1' then
    redis.call('HSET', P .. 'open', customer, id)
  elseif redis.call('HGET', P .. 'open', customer) == id then
    redis.call('HDEL', P .. 'open', customer)
  end
  if event ~= '' then
    for c in string.gmatch(counter, '[^,]+') do redis.call('HINCRBY', P .. 'ev:' .. event, c, 1) end
  end
  if called ~= '' then redis.call('ZADD', P .. 'called', called, id) end
  if what ~= '' then redis.call('XADD', P .. 'out', '*', 'id', id, 'what', what, 'r', rec) end
end
if op == 'book' then
  for i = 18, #ARGV, 3 do
    local slot = ARGV[i]
    local cap = redis.call('HGET', P .. 'cap', slot)
    if cap then
      local agents = tonumber(string.match(cap, ':(%d+)$'))
      if redis.call('ZCARD', P .. 'in:' .. slot) < agents then
        commit('BOOKED', ARGV[i + 1], ARGV[i + 2])
        redis.call('ZADD', P .. 'in:' .. slot, now, id)
        return {'B', slot}
      end
    end
  end
  return {'F'}
end
commit(ARGV[6], ARGV[7], ARGV[17])
if op == 'park' and ARGV[15] ~= '' then redis.call('SADD', ARGV[15], id) end
return {'OK'}
)lua";

// ARGV: 1 first start (s), 2 end (s, exclusive), then pairs (start, "minutes:agents").
// Slots starting in [first, end) that are not named go; a slot with more bookings than agents
// gives up its latest bookings into cb:{cb}:moved. Returns the ids taken out of their slots.
constexpr std::string_view kCapacityLua = R"lua(
local P = 'cb:{cb}:'
local keep = {}
for i = 3, #ARGV, 2 do keep[ARGV[i]] = ARGV[i + 1] end
local out = {}
local function cut(slot, agents)
  local n = redis.call('ZCARD', P .. 'in:' .. slot)
  if n <= agents then return end
  local popped = redis.call('ZPOPMAX', P .. 'in:' .. slot, n - agents)
  for j = 1, #popped, 2 do
    redis.call('SADD', P .. 'moved', popped[j])
    out[#out + 1] = popped[j]
  end
end
for _, slot in ipairs(redis.call('ZRANGEBYSCORE', P .. 'slots', ARGV[1], '(' .. ARGV[2])) do
  if not keep[slot] then
    redis.call('ZREM', P .. 'slots', slot)
    redis.call('HDEL', P .. 'cap', slot)
    cut(slot, 0)
  end
end
for i = 3, #ARGV, 2 do
  local slot = ARGV[i]
  redis.call('ZADD', P .. 'slots', slot, slot)
  redis.call('HSET', P .. 'cap', slot, ARGV[i + 1])
  cut(slot, tonumber(string.match(ARGV[i + 1], ':(%d+)$')))
end
return out
)lua";

}  // namespace

std::string slot_key(int64_t start_s) { return fmt::format("cb:{{cb}}:in:{}", start_s); }

std::string status_key(v1::Callback::Status status) {
  return fmt::format("cb:{{cb}}:st:{}", v1::Callback::Status_Name(status));
}

std::string wait_key(std::string_view event_id) {
  return fmt::format("cb:{{cb}}:wait:{}", event_id);
}

std::string event_counts_key(std::string_view event_id) {
  return fmt::format("cb:{{cb}}:ev:{}", event_id);
}

std::string encode_capacity(uint32_t minutes, uint32_t agents) {
  return fmt::format("{}:{}", minutes, agents);
}

bool decode_capacity(std::string_view text, uint32_t& minutes, uint32_t& agents) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  auto a = std::from_chars(text.data(), text.data() + colon, minutes);
  auto b = std::from_chars(text.data() + colon + 1, text.data() + text.size(), agents);
  return a.ec == std::errc() && b.ec == std::errc() && b.ptr == text.data() + text.size();
}

const store::Script& callback_script() {
  static const store::Script script{std::string(kCallbackLua)};
  return script;
}

const store::Script& capacity_script() {
  static const store::Script script{std::string(kCapacityLua)};
  return script;
}

}  // namespace herald::callbacks
