#include "service/fanout/ledger.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <charconv>
#include <sstream>

#include "herald/v1/store.pb.h"
#include "herald/v1/touchpoint.pb.h"
#include "service/core/timezone.h"
#include "service/dispatch/queue.h"
#include "service/store/codec.h"
#include "service/store/touchpoints.h"

namespace herald::fanout {
namespace {

using google::protobuf::util::TimeUtil;

int64_t secs(std::optional<Time> t) {
  return t ? std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count() : 0;
}
std::optional<Time> time_of(int64_t s) {
  if (s == 0) return std::nullopt;
  return Time(std::chrono::seconds(s));
}
int64_t ms_of(Time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string encode_history_text(const History& h) {
  return fmt::format("{}|{}|{}|{}|{}|{}", h.last_revision_sent, static_cast<int>(h.last_stage_sent),
                     static_cast<int>(h.last_severity_sent), secs(h.last_etr_sent),
                     secs(h.last_window_start_sent), secs(h.last_window_end_sent));
}

History decode_history_text(std::string_view text) {
  History h;
  int64_t f[6] = {0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (size_t start = 0; i < 6 && start <= text.size(); ++i) {
    auto bar = text.find('|', start);
    auto end = bar == std::string_view::npos ? text.size() : bar;
    std::from_chars(text.data() + start, text.data() + end, f[i]);
    start = end + 1;
  }
  h.last_revision_sent = static_cast<uint32_t>(f[0]);
  h.last_stage_sent = static_cast<v1::Stage>(f[1]);
  h.last_severity_sent = static_cast<v1::Severity>(f[2]);
  h.last_etr_sent = time_of(f[3]);
  h.last_window_start_sent = time_of(f[4]);
  h.last_window_end_sent = time_of(f[5]);
  return h;
}

Result<redis::Reply> check_reply(Result<redis::Reply> r) {
  if (r.ok() && r->is_error()) return make_error(ErrorCode::kInternal, "redis: " + r->str);
  return r;
}

// The customer, from its record (erased customers have none: nullopt).
std::optional<v1::Customer> customer_from(const redis::Reply& r, const core::Sealer& sealer) {
  if (r.type != redis::Reply::Type::kString) return std::nullopt;
  auto c = store::decode_record(r.str, sealer);
  if (!c.ok()) return std::nullopt;
  return std::move(*c);
}

v1::Customer* customer_from(const redis::Reply& r, const core::Sealer& sealer,
                            google::protobuf::Arena& arena) {
  if (r.type != redis::Reply::Type::kString) return nullptr;
  auto c = store::decode_record(r.str, sealer, arena);
  return c.ok() ? *c : nullptr;
}

void add_touchpoint(redis::Batch& tx, store::TouchpointBatch& tps, uint64_t num,
                    const v1::Customer& c, const v1::Event& e, v1::Channel ch, const char* status,
                    const Decision& d, std::string detail, Time now) {
  v1::Touchpoint tp;
  tp.set_customer_id(c.id());
  tp.set_kind(v1::DECISION);
  *tp.mutable_at() = TimeUtil::MillisecondsToTimestamp(ms_of(now));
  tp.set_event_id(e.id());
  tp.set_revision(e.revision());
  tp.set_channel(ch);
  tp.set_status(status);
  tp.set_reason(reason_name(d.reason));
  tp.set_detail(std::move(detail));
  tps.add(tx, num, tp);
}

std::string history_key(std::string_view event_id, uint64_t num) {
  return fmt::format("hist:{{{}}}:{}", event_id, num / kHistoryBucket);
}

std::string legacy_history_key(std::string_view event_id) {
  return fmt::format("hist:{{{}}}", event_id);
}

std::string cap_key(std::string_view day) { return fmt::format("caps:{}", day); }

std::string cap_offset(std::string_view num) {
  std::string out;
  out.reserve(num.size() + 1);
  out += '#';
  out += num;
  return out;
}

std::string bucket_cap_key(std::string_view day, uint64_t num) {
  return fmt::format("cap:{}:{}", day, num / kCapBucket);
}

namespace {

// Whether any key of an earlier release's counters (cap:...) exists: a SCAN to its end.
Result<bool> counter_hashes_exist(redis::Connection& conn) {
  std::string cursor = "0";
  do {
    auto page = conn.command(redis::cmd("SCAN", cursor, "MATCH", "cap:*", "COUNT", "1000"));
    if (!page.ok()) return std::move(page).take_error();
    if (page->elements.size() != 2) {
      return make_error(ErrorCode::kInternal, "SCAN for earlier cap counters: odd reply");
    }
    if (!page->elements[1].elements.empty()) return true;
    cursor = page->elements[0].str;
  } while (cursor != "0");
  return false;
}

}  // namespace

Result<std::string> legacy_caps_until(redis::Connection& conn, Time now) {
  auto since = conn.command(redis::cmd("GET", std::string(kCapsSinceKey)));
  if (!since.ok()) return std::move(since).take_error();
  if (since->type != redis::Reply::Type::kString) {
    auto found = counter_hashes_exist(conn);
    if (!found.ok()) return std::move(found).take_error();
    // SET NX GET: the value already there if another planner set it first, else nil.
    const std::string mine = *found ? utc_day(now) : "none";
    since = conn.command(redis::cmd("SET", std::string(kCapsSinceKey), mine, "NX", "GET"));
    if (!since.ok()) return std::move(since).take_error();
    if (since->type != redis::Reply::Type::kString) since->str = mine;
  }
  if (since->str == "none") return std::string();
  date::year_month_day ymd{};
  std::istringstream in(since->str);
  in >> date::parse("%F", ymd);
  if (in.fail() || !ymd.ok()) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("{} holds no day: {}", kCapsSinceKey, since->str));
  }
  return utc_day(date::sys_days(ymd) + date::days(1));
}

std::string legacy_cap_key(std::string_view day) { return fmt::format("cap:{}", day); }

std::string history_field(uint64_t num, v1::Channel ch) {
  return fmt::format("{}:{}", num, static_cast<int>(ch));
}

void add_history_fields(redis::Command& hmget, uint64_t num) {
  for (v1::Channel ch : kHistoryChannels) hmget.push_back(history_field(num, ch));
}

redis::Command history_read(std::string key, uint64_t num) {
  redis::Command c{"HMGET", std::move(key)};
  add_history_fields(c, num);
  return c;
}

History history_in(const redis::Reply& hmget, size_t index) {
  if (index >= hmget.elements.size()) return History{};
  const redis::Reply& h = hmget.elements[index];
  return h.type == redis::Reply::Type::kString ? decode_history_text(h.str) : History{};
}

History later_mark(History bucket, History legacy) {
  return legacy.last_revision_sent > bucket.last_revision_sent ? legacy : bucket;
}

}  // namespace herald::fanout
