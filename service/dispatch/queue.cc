#include "service/dispatch/queue.h"

#include <fmt/format.h>

#include <algorithm>

#include "channels/channel.h"

namespace herald::dispatch {
namespace {

constexpr int kClaimRounds = 16;  // XAUTOCLAIM cursor steps per priority per call

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

redis::Batch ack_commands(const Entry& entry) {
  return redis::batch(redis::cmd("XACK", entry.stream, kGroup, entry.id),
                      redis::cmd("XDEL", entry.stream, entry.id));
}

redis::Command settle_command(const Entry& entry, std::string_view outcome) {
  // Counting only when this XACK removed the entry keeps the funnel exact when a claimed
  // entry was sent by two consumers.
  static constexpr std::string_view kScript = R"lua(
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('XDEL', KEYS[1], ARGV[2])
  redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
  return 1
end
return 0)lua";
  return redis::cmd("EVAL", kScript, "2", entry.stream, funnel_key(entry.message.event_id()),
                    kGroup, entry.id,
                    fmt::format("{}:{}", channels::channel_key(entry.message.channel()), outcome));
}

void append_entries(const std::string& stream, const redis::Reply& list, std::vector<Entry>& out) {
  for (const auto& item : list.elements) {
    if (item.elements.size() < 2) continue;
    Entry e;
    e.stream = stream;
    e.id = item.elements[0].str;
    const auto& fields = item.elements[1].elements;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str == kField) {
        e.valid = e.message.ParseFromString(fields[i + 1].str);
        break;
      }
    }
    out.push_back(std::move(e));
  }
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
    const size_t want = max - out.size();
    const std::string key = stream_key(channel, p);
    auto r = run(redis::cmd("XREADGROUP", "GROUP", kGroup, consumer, "COUNT", std::to_string(want),
                            "STREAMS", key, ">"));
    if (!r.ok()) return std::move(r).take_error();
    const size_t before = out.size();
    for (const auto& stream : r->elements) {
      if (stream.elements.size() == 2) append_entries(key, stream.elements[1], out);
    }
    // A full batch means this priority may hold more: lower ones wait for the next read.
    if (out.size() - before >= want) return out;
  }
  if (!out.empty() || block.count() <= 0) return out;

  // Everything was empty: wait on all priorities at once, taking few so that `max` holds.
  redis::Command wait = redis::cmd("XREADGROUP", "GROUP", kGroup, consumer, "COUNT",
                                   std::to_string(std::max<size_t>(1, max / 3)), "BLOCK",
                                   std::to_string(block.count()), "STREAMS");
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

Result<std::vector<Entry>> DispatchQueue::claim_idle(const std::string& consumer,
                                                     v1::Channel channel,
                                                     std::chrono::milliseconds min_idle,
                                                     size_t max) {
  std::vector<Entry> out;
  for (auto p : kPriorities) {
    const std::string key = stream_key(channel, p);
    std::string cursor = "0-0";
    for (int round = 0; round < kClaimRounds && out.size() < max; ++round) {
      auto r = run(redis::cmd("XAUTOCLAIM", key, kGroup, consumer, std::to_string(min_idle.count()),
                              cursor, "COUNT", std::to_string(max - out.size())));
      if (!r.ok()) return std::move(r).take_error();
      if (r->elements.size() < 2) break;
      append_entries(key, r->elements[1], out);
      cursor = r->elements[0].str;
      if (cursor == "0-0") break;
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
