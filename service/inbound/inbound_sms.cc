#include "service/inbound/inbound_sms.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "herald/v1/event.pb.h"
#include "herald/v1/store.pb.h"
#include "service/core/timezone.h"
#include "service/events/event_store.h"
#include "service/fanout/ledger.h"
#include "service/notify/notice.h"
#include "service/store/keys.h"
#include "service/store/touchpoints.h"

// g++ 12 inlines Asio's recycling frame allocator into the coroutines' frame deallocation
// here (a false -Wmismatched-new-delete); the code allocates nothing itself.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace herald::inbound {
namespace {

using google::protobuf::util::TimeUtil;
using Clock = std::chrono::system_clock;

constexpr int kStatusEventsScanned = 50;  // active events looked at for a STATUS reply
constexpr auto kReplyValidity = std::chrono::hours(1);
constexpr v1::EventKind kKinds[] = {v1::OUTAGE, v1::PLANNED_MAINTENANCE, v1::BOIL_WATER_ADVISORY};

bool closed(const v1::EventState& s) {
  const auto stage = s.event().stage();
  return stage == v1::RESTORED || stage == v1::COMPLETED || stage == v1::LIFTED;
}

std::optional<v1::EventState> parse_state(const redis::Reply& r) {
  v1::EventState state;
  if (r.type != redis::Reply::Type::kString || !state.ParseFromString(r.str)) return std::nullopt;
  return state;
}

std::string kind_flag(v1::EventKind kind) {
  switch (kind) {
    case v1::OUTAGE: return "outage";
    case v1::PLANNED_MAINTENANCE: return "planned_maintenance";
    default: return "boil_water_advisory";
  }
}

// One line per event concerning the customer, in their language and zone.
std::string status_line(const v1::Customer& c, const v1::EventState& s,
                        const templates::Catalog& catalog) {
  const date::time_zone* tz = core::find_zone(c.time_zone());
  if (!tz) tz = core::find_zone("UTC");
  const auto at = [](const google::protobuf::Timestamp& t) {
    return Clock::time_point(std::chrono::seconds(t.seconds()));
  };
  const v1::Event& e = s.event();
  templates::NoticeVars v;
  v[kind_flag(e.kind())] = "1";
  v["event_ref"] = e.id();
  if (closed(s)) v["restored"] = "1";
  if (e.has_estimated_restoration()) {
    v["etr_local"] = core::format_local_datetime(tz, at(e.estimated_restoration()), c.language());
  }
  if (e.has_window_start()) {
    v["window_local"] = core::format_local_datetime(tz, at(e.window_start()), c.language());
  }
  return catalog.render_notice("status_item", templates::Part::kSmsText, c.language(), v)
      .value_or("");
}

awaitable<Result<std::string>> status_items(InboundDeps d, const FoundCustomer& f) {
  auto active = co_await d.pool.exec(redis::batch(redis::cmd(
      "ZREVRANGE", events::kActiveKey, "0", std::to_string(kStatusEventsScanned - 1))));
  if (!active.ok()) co_return std::move(active).take_error();
  const auto& ids = active->front().elements;
  if (ids.empty()) co_return std::string();
  redis::Batch reads;
  for (const auto& id : ids) {
    reads.push_back(fanout::history_read(fanout::history_key(id.str, f.num), f.num));
    reads.push_back(fanout::history_read(fanout::legacy_history_key(id.str), f.num));
    reads.push_back(redis::cmd("GET", events::event_key(id.str)));
  }
  auto got = co_await d.pool.exec(std::move(reads));
  if (!got.ok()) co_return std::move(got).take_error();
  std::string items;
  for (size_t i = 0; i < ids.size(); ++i) {
    bool concerned = false;  // a mark in the customer's bucket or the legacy hash
    for (size_t k = 0; k < 2; ++k) {
      for (const auto& h : (*got)[3 * i + k].elements) concerned = concerned || !h.is_nil();
    }
    auto state = parse_state((*got)[3 * i + 2]);
    if (!concerned || !state) continue;
    const std::string line = status_line(f.customer, *state, d.catalog);
    if (line.empty()) continue;
    if (!items.empty()) items += ' ';
    items += line;
  }
  co_return items;
}

Status queue_notice(redis::Batch& tx, InboundDeps d, const FoundCustomer& f, std::string name,
                    templates::NoticeVars vars, int64_t now_ms) {
  notify::Notice n;
  n.name = std::move(name);
  n.vars = std::move(vars);
  n.valid_for = kReplyValidity;
  const auto now = Clock::time_point(std::chrono::milliseconds(now_ms));
  auto queued = notify::append_notice(tx, f.customer, f.num, n, d.catalog, d.sealer, now);
  if (!queued.ok()) return queued.error();
  return ok_status();
}

struct Latest {
  std::string event_id;  // empty: Herald never messaged the customer about an event
  std::optional<v1::EventState> state;
};

awaitable<Result<Latest>> latest_event(redis::Pool& pool, uint64_t num) {
  auto last = co_await pool.exec(
      redis::batch(redis::cmd("HGET", store::last_event_key(num), std::to_string(num))));
  if (!last.ok()) co_return std::move(last).take_error();
  Latest out;
  if (last->front().is_nil()) co_return out;
  out.event_id = last->front().str;
  auto state = co_await pool.exec(redis::batch(redis::cmd("GET", events::event_key(out.event_id))));
  if (!state.ok()) co_return std::move(state).take_error();
  out.state = parse_state(state->front());
  co_return out;
}

}  // namespace

std::string out_key(std::string_view event_id) { return fmt::format("out:{{{}}}", event_id); }
std::string out_after_key(std::string_view event_id) {
  return fmt::format("outr:{{{}}}", event_id);
}
std::string survey_key(std::string_view event_id) { return fmt::format("sv:{{{}}}", event_id); }

redis::Batch event_report_reads(std::string_view event_id) {
  return redis::batch(redis::cmd("ZCARD", out_key(event_id)),
                      redis::cmd("ZCARD", out_after_key(event_id)),
                      redis::cmd("HGETALL", survey_key(event_id)));
}

void add_event_reports(std::span<const redis::Reply> replies,
                       google::protobuf::Map<std::string, int64_t>& out) {
  if (replies.size() < 3) return;
  if (replies[0].integer > 0) out["reports:out"] = replies[0].integer;
  if (replies[1].integer > 0) out["reports:out_after_restoration"] = replies[1].integer;
  const auto& sv = replies[2].elements;
  for (size_t i = 0; i + 1 < sv.size(); i += 2) {
    out["survey:" + sv[i].str] = std::atoll(sv[i + 1].str.c_str());
  }
}

awaitable<Result<std::optional<uint64_t>>> number_of(redis::Pool& pool, std::string customer_id) {
  auto cid = co_await pool.exec(
      redis::batch(redis::cmd("HGET", store::customer_id_key(customer_id), customer_id)));
  if (!cid.ok()) co_return std::move(cid).take_error();
  const std::string& v = cid->front().str;
  uint64_t num = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), num);
  if (cid->front().is_nil() || ec != std::errc() || end == v.data()) {
    co_return std::optional<uint64_t>{};
  }
  co_return std::optional<uint64_t>{num};
}

awaitable<Result<std::optional<std::string>>> id_of(redis::Pool& pool, uint64_t num) {
  auto rec = co_await pool.exec(
      redis::batch(redis::cmd("HGET", store::record_key(num), store::record_field(num))));
  if (!rec.ok()) co_return std::move(rec).take_error();
  v1::CustomerRecord record;
  if (rec->front().type != redis::Reply::Type::kString || !record.ParseFromString(rec->front().str)) {
    co_return std::optional<std::string>{};
  }
  co_return std::optional<std::string>{record.customer().id()};
}

awaitable<Result<std::optional<FoundCustomer>>> find_by_phone(InboundDeps d, std::string phone) {
  using Found = std::optional<FoundCustomer>;
  ContactIndex::Slot slot = d.contacts.phone_slot(phone);
  auto id = co_await d.pool.exec(
      redis::batch(redis::cmd("HGET", std::move(slot.key), std::move(slot.field))));
  if (!id.ok()) co_return std::move(id).take_error();
  if (id->front().is_nil()) co_return Found{};
  auto customer = co_await d.customers.get(id->front().str);
  if (!customer.ok()) co_return std::move(customer).take_error();
  // The index may be stale (the phone changed since): the record decides.
  if (!customer->has_value() || (*customer)->phone() != phone) co_return Found{};
  auto num = co_await number_of(d.pool, (*customer)->id());
  if (!num.ok()) co_return std::move(num).take_error();
  if (!num->has_value()) co_return Found{};
  co_return Found{FoundCustomer{std::move(**customer), **num}};
}

namespace {

// The writes one keyword asks for, into the caller's MULTI/EXEC; may refine the touchpoint.
void apply_keyword(redis::Batch& tx, InboundDeps d, const FoundCustomer& f, const Parsed& p,
                   const Latest& latest, const InboundSms& sms, const std::string& status_items,
                   v1::Touchpoint& tp) {
  const bool after_close = latest.state && closed(*latest.state);
  const std::string n = std::to_string(f.num);
  const std::string at = std::to_string(sms.now_ms);
  switch (p.keyword) {
    case Keyword::kStop:
      tx.push_back(redis::cmd("SADD", kStopAllKey, n));
      break;
    case Keyword::kStopKind:
      tx.push_back(redis::cmd("SADD", stop_kind_key(p.kind), n));
      break;
    case Keyword::kStart:
      tx.push_back(redis::cmd("SREM", kStopAllKey, n));
      for (auto kind : kKinds) tx.push_back(redis::cmd("SREM", stop_kind_key(kind), n));
      break;
    case Keyword::kHelp:
    case Keyword::kStatus: {
      templates::NoticeVars vars;
      if (p.keyword == Keyword::kStatus) vars["items"] = status_items;
      const char* name = p.keyword == Keyword::kHelp ? "help" : "status";
      if (auto s = queue_notice(tx, d, f, name, std::move(vars), sms.now_ms); !s.ok()) {
        spdlog::warn("inbound: {} reply not queued: {}", name, s.error().message);
      }
      break;
    }
    case Keyword::kOut:
      if (latest.event_id.empty()) break;
      tx.push_back(redis::cmd("ZADD", out_key(latest.event_id), at, n));
      if (after_close) {
        tx.push_back(redis::cmd("ZADD", out_after_key(latest.event_id), at, n));
        tp.set_detail("OUT after restoration");
      }
      break;
    case Keyword::kCall:
      tx.push_back(redis::cmd("XADD", "cbq", "*", "n", n, "event", latest.event_id, "reason",
                              "sms CALL", "at", at));
      break;
    case Keyword::kCancelCall:
      tx.push_back(redis::cmd("XADD", "cbq", "*", "n", n, "op", "cancel", "at", at));
      break;
    case Keyword::kSurvey:
      if (!after_close) break;
      tp.set_kind(v1::SURVEY);
      tx.push_back(redis::cmd("HINCRBY", survey_key(latest.event_id),
                              std::to_string(p.score), "1"));
      break;
    case Keyword::kText: {
      // Free text may name people and places: only ever stored sealed.
      const std::string sealed = d.sealer.seal(sms.body, n);
      tp.set_detail(core::base64url(sealed));
      tx.push_back(redis::cmd("XADD", "inbox", "*", "n", n, "at", at, "text", sealed));
      break;
    }
  }
}

v1::Touchpoint reply_touchpoint(const FoundCustomer& f, const Parsed& p, const Latest& latest,
                                int64_t now_ms) {
  v1::Touchpoint tp;
  tp.set_customer_id(f.customer.id());
  tp.set_kind(v1::REPLY);
  *tp.mutable_at() = TimeUtil::MillisecondsToTimestamp(now_ms);
  tp.set_event_id(latest.event_id);
  tp.set_channel(v1::SMS);
  tp.set_status(p.word.empty() ? "TEXT" : p.word);
  tp.set_reason("sms");
  tp.set_detail(p.word);
  return tp;
}

}  // namespace

awaitable<Result<InboundResult>> handle_inbound_sms(InboundDeps d, InboundSms sms) {
  auto found = co_await find_by_phone(d, sms.from);
  if (!found.ok()) co_return std::move(found).take_error();
  if (!found->has_value()) co_return InboundResult::kUnknownNumber;
  const FoundCustomer& f = **found;
  const Parsed p = parse_keyword(sms.body);
  auto latest = co_await latest_event(d.pool, f.num);
  if (!latest.ok()) co_return std::move(latest).take_error();
  std::string items;
  if (p.keyword == Keyword::kStatus) {
    auto got = co_await status_items(d, f);
    if (!got.ok()) co_return std::move(got).take_error();
    items = std::move(*got);
  }
  v1::Touchpoint tp = reply_touchpoint(f, p, *latest, sms.now_ms);
  redis::Batch tx = redis::batch(redis::cmd("MULTI"));
  apply_keyword(tx, d, f, p, *latest, sms, items, tp);
  store::append_touchpoint(tx, f.num, tp);
  tx.push_back(redis::cmd("EXEC"));
  auto done = co_await d.pool.exec(std::move(tx));
  if (!done.ok()) co_return std::move(done).take_error();
  if (done->back().is_nil() || done->back().is_error()) {
    co_return make_error(ErrorCode::kUnavailable, "inbound SMS transaction failed");
  }
  co_return InboundResult::kHandled;
}

}  // namespace herald::inbound
