#include "service/inbound/delivery_status.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <array>
#include <charconv>
#include <utility>

#include "channels/channel.h"
#include "service/dispatch/queue.h"
#include "service/notify/notice.h"
#include "service/store/scripts.h"
#include "service/store/touchpoints.h"

namespace herald::inbound {
namespace {

using google::protobuf::util::TimeUtil;

constexpr std::array<std::pair<std::string_view, int>, 27> kRanks = {{
    {"accepted", 1},    {"scheduled", 1},   {"queued", 1},      {"processed", 1},
    {"initiated", 2},   {"sending", 2},     {"deferred", 2},    {"ringing", 3},
    {"sent", 3},        {"in-progress", 4}, {"answered", 4},    {"delivered", 5},
    {"read", 5},        {"completed", 5},   {"undelivered", 5}, {"failed", 5},
    {"busy", 5},        {"no-answer", 5},   {"canceled", 5},    {"bounce", 5},
    {"dropped", 5},     {"blocked", 5},     {"expired", 5},     {"rejected", 5},
    {"spamreport", 0},  {"open", 0},        {"click", 0},
}};

// KEYS none (run through store::Script). ARGV: status key, field, "<rank>|<status>", rank,
// funnel key, funnel field ('' = none), ttl seconds (0 = none). Returns 1 when it advanced.
const store::Script& merge_script() {
  static const store::Script script(R"lua(
local cur = redis.call('HGET', ARGV[1], ARGV[2])
local rank = tonumber(ARGV[4])
if cur then
  local held = tonumber(string.match(cur, '^(%d+)|')) or 0
  if held >= 5 or rank <= held then return 0 end
end
redis.call('HSET', ARGV[1], ARGV[2], ARGV[3])
if ARGV[7] ~= '0' then redis.call('EXPIRE', ARGV[1], ARGV[7]) end
if ARGV[6] ~= '' then redis.call('HINCRBY', ARGV[5], ARGV[6], 1) end
return 1)lua");
  return script;
}

template <class T>
bool parse_number(std::string_view s, T& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

}  // namespace

int status_rank(std::string_view status) {
  for (const auto& [name, rank] : kRanks) {
    if (name == status) return rank;
  }
  return 0;
}

std::string_view final_outcome(std::string_view status) {
  if (status_rank(status) != kFinalRank) return {};
  return status == "delivered" || status == "read" || status == "completed" ? "delivered"
                                                                             : "undelivered";
}

std::optional<MessageRef> parse_message_id(std::string_view id) {
  MessageRef ref;
  if (auto notice = notify::parse_notice_id(id)) {
    ref.num = notice->num;
    ref.notice_id = std::string(id);
    return ref;
  }
  // From the right: event ids may hold anything but the last three parts are fixed.
  const auto c3 = id.rfind(':');
  if (c3 == std::string_view::npos || c3 == 0) return std::nullopt;
  const auto c2 = id.rfind(':', c3 - 1);
  if (c2 == std::string_view::npos || c2 == 0) return std::nullopt;
  const auto c1 = id.rfind(':', c2 - 1);
  if (c1 == std::string_view::npos || c1 == 0) return std::nullopt;
  v1::Channel channel;
  if (!v1::Channel_Parse(std::string(id.substr(c2 + 1, c3 - c2 - 1)), &channel) ||
      channel == v1::CHANNEL_UNSPECIFIED || !parse_number(id.substr(c3 + 1), ref.num) ||
      !parse_number(id.substr(c1 + 1, c2 - c1 - 1), ref.revision)) {
    return std::nullopt;
  }
  ref.event_id = std::string(id.substr(0, c1));
  ref.channel = channel;
  return ref;
}

awaitable<Result<bool>> merge_status(redis::Pool& pool, StatusUpdate u) {
  const int rank = status_rank(u.status);
  if (rank == 0) co_return false;
  const MessageRef& m = u.message;
  const v1::Channel channel = m.notice_id.empty() ? m.channel : u.channel;
  const bool notice = !m.notice_id.empty();
  const std::string key = fmt::format("ms:{{{}}}", notice ? m.notice_id : m.event_id);
  const std::string field = notice ? std::string(channels::channel_key(channel))
                                   : fmt::format("{}:{}:{}", m.num, channels::channel_key(channel),
                                                 m.revision);
  const std::string_view outcome = final_outcome(u.status);
  const std::string funnel_field =
      outcome.empty() ? std::string() : fmt::format("{}:{}", channels::channel_key(channel), outcome);
  auto advanced = co_await merge_script().run(
      pool, redis::cmd(key, field, fmt::format("{}|{}", rank, u.status), std::to_string(rank),
                       dispatch::funnel_key(m.event_id), funnel_field,
                       notice ? "2592000" : "0"));
  if (!advanced.ok()) co_return std::move(advanced).take_error();
  if (advanced->integer != 1) co_return false;

  // Recorded after the merge, by the one touchpoint writer: a crash in between loses this
  // journey entry but never double-counts the funnel.
  v1::Touchpoint tp;
  tp.set_kind(v1::DELIVERY);
  *tp.mutable_at() = TimeUtil::MillisecondsToTimestamp(u.at_ms);
  tp.set_event_id(m.event_id);
  tp.set_revision(m.revision);
  tp.set_channel(channel);
  tp.set_status(u.status);
  tp.set_reason(u.error_code);
  tp.set_detail(notice ? fmt::format("{} {}", m.notice_id, u.provider_id) : u.provider_id);
  redis::Batch batch;
  store::append_touchpoint(batch, m.num, tp);
  auto wrote = co_await pool.exec(std::move(batch));
  if (!wrote.ok()) co_return std::move(wrote).take_error();
  co_return true;
}

}  // namespace herald::inbound
