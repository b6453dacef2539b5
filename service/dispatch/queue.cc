#include "service/dispatch/queue.h"

#include <fmt/format.h>

#include <algorithm>

#include "channels/channel.h"

namespace herald::dispatch {
namespace {

constexpr int kClaimRounds = 16;  // XAUTOCLAIM cursor steps per priority per call
constexpr int kReadsPerStream = 4;  // XREADGROUP calls per priority per take

// The most messages in one of the entries from `from` on.
size_t largest_entry(const std::vector<Entry>& out, size_t from) {
  size_t most = 0;
  for (size_t i = from; i < out.size(); ++i) most = std::max(most, out[i].parts);
  return most;
}

int priority_number(v1::Priority priority) {
  return priority == v1::PRIORITY_UNSPECIFIED ? static_cast<int>(v1::PRIORITY_NORMAL)
                                              : static_cast<int>(priority);
}

int rank(const std::string& stream) { return stream.empty() ? 0 : stream.back() - '0'; }

Error reply_error(const std::string& what, const redis::Reply& reply) {
  return make_error(ErrorCode::kUnavailable, what + ": " + reply.str);
}

}  // namespace

std::string stream_key(v1::Channel channel, v1::Priority priority) {
  return fmt::format("dq:{}:{}", channels::channel_key(channel), priority_number(priority));
}

std::string funnel_key(std::string_view event_id) { return fmt::format("fn:{{{}}}", event_id); }

redis::Command enqueue_command(const v1::OutboundMessage& msg) {
  return redis::cmd("XADD", stream_key(msg.channel(), msg.priority()), "*", kField,
                    msg.SerializeAsString());
}

void EntryBatch::add(const v1::OutboundMessage& msg) {
  by_stream_[stream_key(msg.channel(), msg.priority())].push_back(msg.SerializeAsString());
}

void EntryBatch::flush(redis::Batch& out) {
  for (auto& [stream, messages] : by_stream_) {
    for (size_t at = 0; at < messages.size(); at += kMessagesPerEntry) {
      redis::Command c{"XADD", stream, "*"};
      for (size_t k = at; k < std::min(at + kMessagesPerEntry, messages.size()); ++k) {
        c.emplace_back(kField);
        c.push_back(std::move(messages[k]));
      }
      out.push_back(std::move(c));
    }
  }
  by_stream_.clear();
}

redis::Batch ack_commands(const Entry& entry) {
  return redis::batch(redis::cmd("XACK", entry.stream, kGroup, entry.id),
                      redis::cmd("XDEL", entry.stream, entry.id));
}

redis::Command settle_command(std::span<const Settlement> settlements) {
  // Acting only when this XACK removed the entry keeps the funnel exact, and the retries
  // single, when a claimed entry was settled by two consumers. The deletes are one XDEL per
  // stream and the funnel one HINCRBY per field, after the loop: a call from Lua costs more
  // than the command itself.
  // An entry's parts share its id: the first part's XACK answers for all of them.
  // KEYS per settlement: stream, funnel, retry set (or the stream). ARGV: group, then per
  // settlement id, funnel field, due, member.
  static constexpr std::string_view kScript = R"lua(
local done, gone, counts, acked = {}, {}, {}, {}
for i = 0, #KEYS / 3 - 1 do
  local stream, id = KEYS[3 * i + 1], ARGV[4 * i + 2]
  local ids = gone[stream]
  if not ids then ids = {}; gone[stream] = ids; acked[stream] = {} end
  local pending = acked[stream][id]
  if pending == nil then
    pending = redis.call('XACK', stream, ARGV[1], id) == 1
    acked[stream][id] = pending
    if pending then ids[#ids + 1] = id end
  end
  if pending then
    local field, due = ARGV[4 * i + 3], ARGV[4 * i + 4]
    if field ~= '' then
      local funnel = counts[KEYS[3 * i + 2]]
      if not funnel then funnel = {}; counts[KEYS[3 * i + 2]] = funnel end
      funnel[field] = (funnel[field] or 0) + 1
    end
    if due ~= '' then redis.call('ZADD', KEYS[3 * i + 3], due, ARGV[4 * i + 5]) end
    done[i + 1] = 1
  else
    done[i + 1] = 0
  end
end
for stream, ids in pairs(gone) do
  for at = 1, #ids, 1000 do redis.call('XDEL', stream, unpack(ids, at, math.min(at + 999, #ids))) end
end
for key, funnel in pairs(counts) do
  for field, n in pairs(funnel) do redis.call('HINCRBY', key, field, n) end
end
return done)lua";
  redis::Command keys;
  redis::Command args{std::string(kGroup)};
  for (const Settlement& s : settlements) {
    const Entry& e = *s.entry;
    keys.push_back(e.stream);
    keys.push_back(funnel_key(e.message.event_id()));
    keys.push_back(s.later ? s.later->key : e.stream);
    args.push_back(e.id);
    args.push_back(s.outcome.empty() ? std::string()
                                     : fmt::format("{}:{}", channels::channel_key(e.message.channel()),
                                                   s.outcome));
    args.push_back(s.later ? std::to_string(s.later->due_ms) : std::string());
    args.push_back(s.later ? s.later->member : std::string());
  }
  redis::Command out{"EVAL", std::string(kScript), std::to_string(keys.size())};
  out.insert(out.end(), std::make_move_iterator(keys.begin()), std::make_move_iterator(keys.end()));
  out.insert(out.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
  return out;
}

size_t append_entries(const std::string& stream, const redis::Reply& list,
                      std::vector<Entry>& out) {
  size_t entries = 0;
  for (const auto& item : list.elements) {
    if (item.elements.size() < 2) continue;
    ++entries;
    const auto& fields = item.elements[1].elements;
    size_t parts = 0;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) parts += fields[i].str == kField ? 1 : 0;
    auto part = [&]() -> Entry& {
      Entry& e = out.emplace_back();
      e.stream = stream;
      e.id = item.elements[0].str;
      e.parts = std::max<size_t>(parts, 1);
      return e;
    };
    if (parts == 0) part();  // holds no message: one invalid part, so it is settled
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str != kField) continue;
      Entry& e = part();
      e.valid = e.message.ParseFromString(fields[i + 1].str);
    }
  }
  return entries;
}

Result<redis::Reply> DispatchQueue::run(const redis::Command& cmd) {
  auto reply = conn_.command(cmd);
  if (!reply.ok()) return std::move(reply).take_error();
  if (reply->is_error()) return reply_error(cmd.front(), *reply);
  return reply;
}

Status DispatchQueue::enqueue(const v1::OutboundMessage& msg) {
  auto r = run(enqueue_command(msg));
  if (!r.ok()) return std::move(r).take_error();
  return ok_status();
}

Status DispatchQueue::ensure_groups(v1::Channel channel) {
  redis::Batch cmds;
  for (auto p : kPriorities) {
    cmds.push_back(redis::cmd("XGROUP", "CREATE", stream_key(channel, p), kGroup, "0", "MKSTREAM"));
  }
  auto replies = conn_.pipeline(cmds);
  if (!replies.ok()) return std::move(replies).take_error();
  for (const auto& r : *replies) {
    if (r.is_error() && r.str.rfind("BUSYGROUP", 0) != 0) return reply_error("XGROUP", r);
  }
  return ok_status();
}

Status DispatchQueue::ensure_groups() {
  for (auto c : kChannels) {
    if (auto s = ensure_groups(c); !s.ok()) return s;
  }
  return ok_status();
}

Result<std::vector<Entry>> DispatchQueue::read(const std::string& consumer, v1::Channel channel,
                                               size_t max, std::chrono::milliseconds block) {
  std::vector<Entry> out;
  if (max == 0) return out;
  for (auto p : kPriorities) {
    if (auto s = read_into(stream_key(channel, p), consumer, max, out); !s.ok()) return s.error();
    // A full batch means this priority may hold more: lower ones wait for the next read.
    if (out.size() >= max) return out;
  }
  if (!out.empty() || block.count() <= 0) return out;

  // Everything was empty: wait on all priorities at once, taking few so that `max` holds.
  redis::Command wait = redis::cmd("XREADGROUP", "GROUP", kGroup, consumer, "COUNT",
                                   std::to_string(std::max<size_t>(1, max / 3 / kMessagesPerEntry)),
                                   "BLOCK", std::to_string(block.count()), "STREAMS");
  for (auto p : kPriorities) wait.push_back(stream_key(channel, p));
  for (size_t i = 0; i < std::size(kPriorities); ++i) wait.push_back(">");
  auto r = run(wait);
  if (!r.ok()) return std::move(r).take_error();
  for (const auto& stream : r->elements) {
    if (stream.elements.size() == 2)
      append_entries(stream.elements[0].str, stream.elements[1], out);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Entry& a, const Entry& b) { return rank(a.stream) < rank(b.stream); });
  return out;
}

Status DispatchQueue::claim_into(const std::string& key, const std::string& consumer,
                                 std::chrono::milliseconds min_idle, size_t max,
                                 std::vector<Entry>& out) {
  std::string cursor = "0-0";
  for (int round = 0; round < kClaimRounds && wants_more(key, max, out.size()); ++round) {
    auto r = run(redis::cmd("XAUTOCLAIM", key, kGroup, consumer, std::to_string(min_idle.count()),
                            cursor, "COUNT", std::to_string(entries_for(key, max - out.size()))));
    if (!r.ok()) return std::move(r).take_error();
    if (r->elements.size() < 2) break;
    const size_t before = out.size();
    if (append_entries(key, r->elements[1], out) > 0) learn(key, largest_entry(out, before));
    cursor = r->elements[0].str;
    if (cursor == "0-0") break;
  }
  return ok_status();
}

Status DispatchQueue::read_into(const std::string& key, const std::string& consumer, size_t max,
                                std::vector<Entry>& out) {
  for (int round = 0; round < kReadsPerStream && wants_more(key, max, out.size()); ++round) {
    const size_t count = entries_for(key, max - out.size());
    auto r = run(redis::cmd("XREADGROUP", "GROUP", kGroup, consumer, "COUNT", std::to_string(count),
                            "STREAMS", key, ">"));
    if (!r.ok()) return std::move(r).take_error();
    const size_t before = out.size();
    size_t got = 0;
    for (const auto& stream : r->elements) {
      if (stream.elements.size() == 2) got += append_entries(key, stream.elements[1], out);
    }
    if (got > 0) learn(key, largest_entry(out, before));
    if (got < count) break;  // the stream has no more new entries
  }
  return ok_status();
}

size_t DispatchQueue::entry_size(const std::string& key) {
  return entry_size_.try_emplace(key, kMessagesPerEntry).first->second;
}

size_t DispatchQueue::entries_for(const std::string& key, size_t wanted) {
  return std::max<size_t>(1, wanted / entry_size(key));
}

bool DispatchQueue::wants_more(const std::string& key, size_t max, size_t have) {
  return have == 0 || (have < max && max - have >= entry_size(key));
}

void DispatchQueue::learn(const std::string& key, size_t largest) {
  entry_size_[key] = std::clamp<size_t>(largest, 1, kMessagesPerEntry);
}

Result<std::vector<Entry>> DispatchQueue::take(const std::string& consumer, v1::Channel channel,
                                               size_t max, bool claim,
                                               std::chrono::milliseconds min_idle) {
  std::vector<Entry> out;
  for (auto p : kPriorities) {
    if (out.size() >= max) break;
    const std::string key = stream_key(channel, p);
    if (claim) {
      if (auto s = claim_into(key, consumer, min_idle, max, out); !s.ok()) return s.error();
      if (out.size() >= max) break;
    }
    if (auto s = read_into(key, consumer, max, out); !s.ok()) return s.error();
  }
  return out;
}

Status DispatchQueue::wait_for_new(v1::Channel channel, std::chrono::milliseconds block) {
  redis::Command wait =
      redis::cmd("XREAD", "COUNT", "1", "BLOCK", std::to_string(block.count()), "STREAMS");
  for (auto p : kPriorities) wait.push_back(stream_key(channel, p));
  for (size_t i = 0; i < std::size(kPriorities); ++i) wait.push_back("$");
  auto r = run(wait);
  if (!r.ok()) return std::move(r).take_error();
  return ok_status();
}

Result<long long> DispatchQueue::prune_consumers(v1::Channel channel,
                                                 std::chrono::milliseconds idle) {
  static constexpr std::string_view kScript = R"lua(
local gone = 0
for _, key in ipairs(KEYS) do
  local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', key, ARGV[1])
  if ok then
    for _, c in ipairs(consumers) do
      local f = {}
      for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
      if tonumber(f['pending']) == 0 and tonumber(f['idle']) > tonumber(ARGV[2]) then
        redis.call('XGROUP', 'DELCONSUMER', key, ARGV[1], f['name'])
        gone = gone + 1
      end
    end
  end
end
return gone)lua";
  redis::Command c = redis::cmd("EVAL", kScript, std::to_string(std::size(kPriorities)));
  for (auto p : kPriorities) c.push_back(stream_key(channel, p));
  c.push_back(std::string(kGroup));
  c.push_back(std::to_string(idle.count()));
  auto r = run(c);
  if (!r.ok()) return std::move(r).take_error();
  return r->integer;
}

Result<std::vector<Entry>> DispatchQueue::claim_idle(const std::string& consumer,
                                                     v1::Channel channel,
                                                     std::chrono::milliseconds min_idle,
                                                     size_t max) {
  std::vector<Entry> out;
  for (auto p : kPriorities) {
    if (auto s = claim_into(stream_key(channel, p), consumer, min_idle, max, out); !s.ok()) {
      return s.error();
    }
  }
  return out;
}

Status DispatchQueue::ack(const Entry& entry) {
  auto replies = conn_.pipeline(ack_commands(entry));
  if (!replies.ok()) return std::move(replies).take_error();
  for (const auto& r : *replies) {
    if (r.is_error()) return reply_error("XACK", r);
  }
  return ok_status();
}

Result<long long> DispatchQueue::pending(v1::Channel channel) {
  long long total = 0;
  for (auto p : kPriorities) {
    auto r = run(redis::cmd("XPENDING", stream_key(channel, p), kGroup));
    if (!r.ok()) return std::move(r).take_error();
    if (!r->elements.empty()) total += r->elements[0].integer;
  }
  return total;
}

}  // namespace herald::dispatch
