#include "service/store/touchpoints.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cctype>

#include "herald/v1/common.pb.h"
#include "herald/v1/report.pb.h"

namespace herald::store {
namespace {

using google::protobuf::util::TimeUtil;

// KEYS: rpd, ttn, rp. ARGV: customer number, first-delivery second. A customer counts once
// per event, at their first delivered message.
constexpr std::string_view kFirstDeliveryLua = R"lua(
if redis.call('SETBIT', KEYS[1], ARGV[1], 1) == 0 then
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  redis.call('HINCRBY', KEYS[3], 'notified', 1)
end
return 0)lua";

// KEYS: tl:{n/64}. ARGV: customer number, field. A STOP that names no event counts against the
// event that last messaged the customer, if any.
constexpr std::string_view kOptOutLua = R"lua(
local e = redis.call('HGET', KEYS[1], ARGV[1])
if e then
  local rp = 'rp:{' .. e .. '}'
  redis.call('HINCRBY', rp, 'optouts', 1)
  redis.call('HINCRBY', rp, ARGV[2], 1)
end
return 0)lua";

// KEYS: a journey bucket. ARGV: the customer number. Deletes the customer's touchpoints:
// entries of its own go (the stream too once empty); when an entry shares it with other
// customers, the stream is written again with every entry under its own id and the
// customer's group a placeholder (`n` = "-", each `t` empty), so every other touchpoint keeps
// its index in its entry and hence its id; XSETID restores the stream's last id. Returns the
// entries removed or rewritten.
constexpr std::string_view kEraseJourneyLua = R"lua(
local entries = redis.call('XRANGE', KEYS[1], '-', '+')
local own, shared = {}, false
for _, e in ipairs(entries) do
  local f = e[2]
  if f[1] == 'n' and f[2] == ARGV[1] then
    own[#own + 1] = e[1]
  elseif f[1] == 'g' then
    for i = 3, #f, 2 do
      if f[i] == 'n' and f[i + 1] == ARGV[1] then shared = true end
    end
  end
end
if not shared then
  for i = 1, #own, 1000 do
    redis.call('XDEL', KEYS[1], unpack(own, i, math.min(i + 999, #own)))
  end
  if #own > 0 and redis.call('XLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
  return #own
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local last
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then last = info[i + 1] end
end
redis.call('DEL', KEYS[1])
local kept, changed = 0, 0
for _, e in ipairs(entries) do
  local f = e[2]
  local out, live, mine, owner = {}, false, false, nil
  for i = 1, #f, 2 do
    local k, v = f[i], f[i + 1]
    if k == 'n' then
      owner = v
      if v == ARGV[1] then
        v = '-'
        mine = true
      elseif v ~= '-' then
        live = true
      end
    elseif k == 't' and owner == ARGV[1] then
      v = ''
    end
    out[#out + 1] = k
    out[#out + 1] = v
  end
  if mine then changed = changed + 1 end
  if live then
    redis.call('XADD', KEYS[1], e[1], unpack(out))
    kept = kept + 1
  end
end
if kept > 0 then redis.call('XSETID', KEYS[1], last) end
return changed)lua";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string journey_key(uint64_t num) { return fmt::format("tjb:{{{}}}", num / kJourneyBucket); }
std::string legacy_journey_key(uint64_t num) { return fmt::format("tj:{{{}}}", num); }
std::string event_touchpoints_key(std::string_view event_id) {
  return fmt::format("te:{{{}}}", event_id.empty() ? kNoEvent : event_id);
}
std::string report_key(std::string_view event_id) { return fmt::format("rp:{{{}}}", event_id); }
std::string delivered_bits_key(std::string_view event_id) {
  return fmt::format("rpd:{{{}}}", event_id);
}
std::string time_to_notify_key(std::string_view event_id) {
  return fmt::format("ttn:{{{}}}", event_id);
}
std::string last_event_key(uint64_t num) { return fmt::format("tl:{{{:x}}}", num / 64); }

std::string channel_name(int channel) {
  if (!v1::Channel_IsValid(channel) || channel == v1::CHANNEL_UNSPECIFIED) return "none";
  return lower(v1::Channel_Name(static_cast<v1::Channel>(channel)));
}

bool is_opt_out(std::string_view keyword) {
  const std::string k = lower(keyword);
  if (k == "stop" || k.rfind("stop ", 0) == 0) return true;
  for (std::string_view w : {"stopall", "unsubscribe", "cancel", "end", "quit"}) {
    if (k == w) return true;
  }
  return false;
}


namespace {

redis::Command touch_event_command(std::string_view event_id, int64_t at_ms) {
  return redis::cmd("ZADD", kTouchedEventsKey, "GT", std::to_string(at_ms),
                    event_id.empty() ? kNoEvent : event_id);
}

// The bytes stored for a touchpoint: without its id (the stream gives it) or customer id
// (implied by the journey's key, and absent from the anonymous search copies).
std::string stored_bytes(const v1::Touchpoint& tp) {
  v1::Touchpoint stored = tp;
  stored.clear_customer_id();
  stored.clear_id();
  return stored.SerializeAsString();
}

// The report counters a touchpoint moves; its latest-event mark goes to `last_events` (one
// HSET per tl:{n/64} key, written at flush).
void append_counters(redis::Batch& out, uint64_t num, const v1::Touchpoint& tp,
                     std::map<std::string, redis::Command>& last_events) {
  const std::string n = std::to_string(num);
  const std::string_view event = tp.event_id().empty() ? kNoEvent : std::string_view(tp.event_id());
  const int64_t at_ms = TimeUtil::TimestampToMilliseconds(tp.at());
  const std::string ch = channel_name(tp.channel());
  const bool has_event = !tp.event_id().empty();
  switch (tp.kind()) {
    case v1::SEND:
      // Marked when a message leaves, not when it is queued: the event the customer last
      // heard about, and one write fewer per message on a fan-out's path.
      if (has_event) {
        std::string key = last_event_key(num);
        auto& mark = last_events[key];
        if (mark.empty()) mark = {"HSET", std::move(key)};
        mark.push_back(n);
        mark.push_back(tp.event_id());
      }
      break;
    case v1::DELIVERY: {
      if (!has_event) break;
      const std::string status = lower(tp.status());
      out.push_back(redis::cmd("HINCRBY", report_key(event), ch + ":delivery:" + status, "1"));
      if (status == "delivered") {
        out.push_back(redis::cmd("EVAL", kFirstDeliveryLua, "3", delivered_bits_key(event),
                                 time_to_notify_key(event), report_key(event), n,
                                 std::to_string(at_ms / 1000)));
      }
      break;
    }
    case v1::REPLY: {
      std::string keyword = tp.status();
      std::transform(keyword.begin(), keyword.end(), keyword.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      if (has_event) {
        out.push_back(redis::cmd("HINCRBY", report_key(event), ch + ":reply:" + keyword, "1"));
      }
      if (!is_opt_out(keyword)) break;
      if (has_event) {
        out.push_back(redis::cmd("HINCRBY", report_key(event), "optouts", "1"));
        out.push_back(redis::cmd("HINCRBY", report_key(event), ch + ":optouts", "1"));
      } else {
        out.push_back(redis::cmd("EVAL", kOptOutLua, "1", last_event_key(num), n, ch + ":optouts"));
      }
      break;
    }
    case v1::COMPLAINT:
      if (has_event && tp.status() == "open") out.push_back(redis::cmd("HINCRBY", report_key(event), "complaints", "1"));
      break;
    default:
      break;
  }
}

}  // namespace

void append_touchpoint(redis::Batch& out, uint64_t num, const v1::Touchpoint& tp) {
  TouchpointBatch one;
  one.add(out, num, tp);
  one.flush(out);
}

void TouchpointBatch::add(redis::Batch& out, uint64_t num, const v1::Touchpoint& tp) {
  // A reply reads the latest-event marks (a STOP that names no event): those added before it
  // are written first.
  if (tp.kind() == v1::REPLY) flush_last_events(out);
  std::string bytes = stored_bytes(tp);
  const std::string event(tp.event_id().empty() ? kNoEvent : std::string_view(tp.event_id()));
  Copies& copies = events_[event];
  copies.at_ms = std::max(copies.at_ms, TimeUtil::TimestampToMilliseconds(tp.at()));
  copies.items.emplace_back(num, bytes);
  journeys_[num].push_back(std::move(bytes));
  append_counters(out, num, tp, last_events_);
}

void TouchpointBatch::flush_last_events(redis::Batch& out) {
  for (auto& [key, mark] : last_events_) out.push_back(std::move(mark));
  last_events_.clear();
}

void TouchpointBatch::flush(redis::Batch& out) {
  // journeys_ is ordered by customer number: a bucket's customers are neighbours.
  for (auto it = journeys_.begin(); it != journeys_.end();) {
    const uint64_t bucket = it->first / kJourneyBucket;
    auto end = it;
    size_t customers = 0;
    for (; end != journeys_.end() && end->first / kJourneyBucket == bucket; ++end) ++customers;
    redis::Command c{"XADD", journey_key(it->first), "*"};
    if (customers > 1) {
      c.emplace_back("g");
      c.push_back(std::to_string(customers));
    }
    for (; it != end; ++it) {
      c.emplace_back("n");
      c.push_back(std::to_string(it->first));
      for (auto& bytes : it->second) {
        c.emplace_back("t");
        c.push_back(std::move(bytes));
      }
    }
    out.push_back(std::move(c));
  }
  for (auto& [event, copies] : events_) {
    const std::string key = event_touchpoints_key(event);
    for (size_t at = 0; at < copies.items.size(); at += kPerEntry) {
      redis::Command c{"XADD", key, "*"};
      for (size_t k = at; k < std::min(at + kPerEntry, copies.items.size()); ++k) {
        c.emplace_back("n");
        c.push_back(std::to_string(copies.items[k].first));
        c.emplace_back("t");
        c.push_back(std::move(copies.items[k].second));
      }
      out.push_back(std::move(c));
    }
    out.push_back(touch_event_command(event, copies.at_ms));
  }
  flush_last_events(out);
  journeys_.clear();
  events_.clear();
}

std::vector<std::string> touchpoints_in(const redis::Reply& range, uint64_t num, bool legacy) {
  const std::string n = std::to_string(num);
  std::vector<std::string> out;
  for (const auto& item : range.elements) {
    if (item.elements.size() < 2) continue;
    const auto& kv = item.elements[1].elements;
    bool mine = legacy;  // a bucket entry: the group of the latest `n`
    for (size_t i = 0; i + 1 < kv.size(); i += 2) {
      if (!legacy && kv[i].str == "n") mine = kv[i + 1].str == n;
      if (mine && kv[i].str == "t") out.push_back(kv[i + 1].str);
    }
  }
  return out;
}

awaitable<Status> erase_touchpoints(redis::Pool& pool, uint64_t num) {
  const std::string legacy = legacy_journey_key(num);
  auto read = co_await pool.exec(redis::batch(redis::cmd("XRANGE", journey_key(num), "-", "+"),
                                              redis::cmd("XRANGE", legacy, "-", "+")));
  if (!read.ok()) co_return std::move(read).take_error();
  for (const auto& r : *read) {
    if (r.is_error()) co_return make_error(ErrorCode::kUnavailable, "redis: " + r.str);
  }
  std::vector<std::string> removed = touchpoints_in((*read)[0], num, false);
  for (auto& t : touchpoints_in((*read)[1], num, true)) removed.push_back(std::move(t));
  std::vector<std::string> complaint_ids;
  for (const auto& bytes : removed) {
    v1::Touchpoint tp;
    if (tp.ParseFromString(bytes) && tp.kind() == v1::COMPLAINT && tp.status() == "open") {
      complaint_ids.push_back(tp.detail());
    }
  }
  // The entries go in a script: one appended for the customer since the read goes too.
  redis::Batch writes = redis::batch(
      redis::cmd("EVAL", kEraseJourneyLua, "1", journey_key(num), std::to_string(num)),
      redis::cmd("DEL", legacy), redis::cmd("HDEL", last_event_key(num), std::to_string(num)));
  if (!complaint_ids.empty()) {
    redis::Command get = redis::cmd("HMGET", kComplaintsKey);
    for (const auto& id : complaint_ids) get.push_back(id);
    auto got = co_await pool.exec(redis::batch(std::move(get)));
    if (!got.ok()) co_return std::move(got).take_error();
    for (const auto& r : got->front().elements) {
      v1::Complaint c;
      if (r.type != redis::Reply::Type::kString || !c.ParseFromString(r.str)) continue;
      c.clear_sealed_text();
      c.clear_note();
      writes.push_back(redis::cmd("HSET", kComplaintsKey, c.id(), c.SerializeAsString()));
    }
  }
  auto done = co_await pool.exec(std::move(writes));
  if (!done.ok()) co_return std::move(done).take_error();
  for (const auto& r : *done) {
    if (r.is_error()) co_return make_error(ErrorCode::kUnavailable, "redis: " + r.str);
  }
  co_return ok_status();
}

}  // namespace herald::store
