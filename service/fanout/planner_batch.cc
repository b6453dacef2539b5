#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "channels/channel.h"
#include "service/dispatch/queue.h"
#include "service/events/event_store.h"
#include "service/fanout/ledger.h"
#include "service/fanout/planner.h"
#include "service/store/keys.h"

namespace herald::fanout {
namespace {

using Clock = std::chrono::system_clock;
constexpr std::string_view kStopAll = "stop:sms";

int64_t ms_of(Time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string stop_key(v1::EventKind kind) {
  return fmt::format("stop:sms:{}", v1::EventKind_Name(kind));
}

// A fallback channel counts as chosen for the kind: the customer chose it for some kind.
void choose_for_kind(v1::Customer& c, v1::EventKind kind, v1::Channel ch) {
  auto* choice = c.mutable_preferences()->mutable_channels();
  auto* list = kind == v1::OUTAGE                ? choice->mutable_outage()
               : kind == v1::PLANNED_MAINTENANCE ? choice->mutable_planned_maintenance()
                                                 : choice->mutable_boil_water_advisory();
  list->Add(ch);
}

std::string queued_note(const v1::OutboundMessage& m) {
  std::string note = m.etr_shown().empty() ? "" : "ETR " + m.etr_shown();
  if (m.fallback_from() == v1::CHANNEL_UNSPECIFIED) return note;
  return (note.empty() ? "" : note + "; ") +
         fmt::format("fallback from {}", channels::channel_key(m.fallback_from()));
}

// Fields from `from` on are short digit strings, so the std::sto* below cannot throw.
bool all_digits(const std::vector<std::string>& f, size_t from) {
  return std::all_of(f.begin() + static_cast<long>(from), f.end(), [](const std::string& x) {
    return !x.empty() && x.size() < 19 &&
           std::all_of(x.begin(), x.end(), [](char c) { return c >= '0' && c <= '9'; });
  });
}

}  // namespace

Status Planner::handle(redis::Connection& conn, const v1::Event& event, std::vector<Work>& work,
                       redis::Batch tail, Clock::time_point now) {
  static constexpr v1::Channel kAll[] = {v1::SMS, v1::EMAIL, v1::VOICE};
  redis::Batch reads;
  const std::string hist = history_key(event.id());
  for (const Work& w : work) {
    reads.push_back(redis::cmd("HGET", store::record_key(w.num), store::record_field(w.num)));
    for (v1::Channel ch : kAll)
      reads.push_back(redis::cmd("HGET", hist, fmt::format("{}:{}", w.num, static_cast<int>(ch))));
    reads.push_back(redis::cmd("SISMEMBER", kStopAll, std::to_string(w.num)));
    reads.push_back(redis::cmd("SISMEMBER", stop_key(event.kind()), std::to_string(w.num)));
    for (v1::Channel ch : kAll) {  // marked by bounces and refused sends (invalid_contact)
      reads.push_back(redis::cmd("SISMEMBER", fmt::format("invalid:{}", channels::channel_key(ch)),
                                 std::to_string(w.num)));
    }
  }
  auto got = conn.pipeline(reads);
  if (!got.ok()) return std::move(got).take_error();
  constexpr size_t kPer = 9;

  std::vector<std::optional<v1::Customer>> customers(work.size());
  redis::Batch cap_reads;
  std::vector<std::string> days(work.size());
  for (size_t i = 0; i < work.size(); ++i) {
    customers[i] = customer_from((*got)[i * kPer], sealer_);
    if (!customers[i]) continue;
    days[i] = local_day(*customers[i], now);
    cap_reads.push_back(redis::cmd("HGET", "cap:" + days[i], std::to_string(work[i].num)));
  }
  auto caps = conn.pipeline(cap_reads);
  if (!caps.ok()) return std::move(caps).take_error();

  redis::Batch tx;
  tx.push_back(redis::cmd("MULTI"));
  std::map<std::string, long long> funnel;
  size_t cap_i = 0;
  for (size_t i = 0; i < work.size(); ++i) {
    const Work& w = work[i];
    if (!w.deferred.empty()) tx.push_back(redis::cmd("ZREM", kDeferredKey, w.deferred));
    if (!customers[i]) {
      ++funnel["erased"];
      continue;
    }
    const bool fallback = w.fallback_from != v1::CHANNEL_UNSPECIFIED;
    if (fallback) choose_for_kind(*customers[i], event.kind(), w.only);
    const v1::Customer& c = *customers[i];
    CustomerState s;
    const auto& cap = (*caps)[cap_i++];
    if (cap.type == redis::Reply::Type::kString && !fallback) s.sent_today = std::stoi(cap.str);
    s.sms_stopped = (*got)[i * kPer + 4].integer == 1;
    if ((*got)[i * kPer + 5].integer == 1) s.sms_stopped_kinds.insert(event.kind());
    for (size_t k = 0; k < std::size(kAll); ++k) {
      if ((*got)[i * kPer + 6 + k].integer == 1) s.invalid_channels.insert(kAll[k]);
    }
    if (w.deferred.empty()) ++funnel["audience"];

    const auto premises = w.premises.empty() ? premises_in_area(c, event.area()) : w.premises;
    std::vector<v1::Channel> channels = channels_for(c, event.kind());
    if (w.only != v1::CHANNEL_UNSPECIFIED) channels = {w.only};
    if (channels.empty()) ++funnel["not_opted_in"];
    std::optional<templates::Vars> vars;
    bool queued_any = false;
    for (v1::Channel ch : channels) {
      const int slot = ch == v1::SMS ? 1 : ch == v1::EMAIL ? 2 : 3;
      const redis::Reply& h = (*got)[i * kPer + static_cast<size_t>(slot)];
      const History history =
          h.type == redis::Reply::Type::kString ? decode_history_text(h.str) : History{};
      Decision d = decide(c, event, ch, history, s, now, options_.settings);
      const std::string name(channels::channel_key(ch));
      if (d.action == Action::kQueue) {
        if (!vars) vars = message_vars(c, event, premises, signer_, options_.compose, now);
        auto msg = compose(c, w.num, event, ch, d.priority, *vars, catalog_, sealer_, now);
        if (!msg.ok()) {
          ++funnel[name + ":failed"];
          continue;
        }
        msg->set_fallback_from(w.fallback_from);
        tx.push_back(dispatch::enqueue_command(*msg));
        tx.push_back(redis::cmd("HSET", hist, fmt::format("{}:{}", w.num, static_cast<int>(ch)),
                                encode_history_text(history_of(event))));
        add_touchpoint(tx, w.num, c, event, ch, "queued", d, queued_note(*msg), now);
        ++funnel[name + ":queued"];
        queued_any = true;
      } else if (d.action == Action::kHold) {
        tx.push_back(redis::cmd(
            "ZADD", kDeferredKey, std::to_string(ms_of(d.due)),
            fmt::format("{}|{}|{}|{}", event.id(), event.revision(), static_cast<int>(ch), w.num) +
                (fallback ? fmt::format("|{}", static_cast<int>(w.fallback_from)) : "")));
        add_touchpoint(tx, w.num, c, event, ch, "held", d, "", now);
        ++funnel[name + ":held"];
      } else {
        add_touchpoint(tx, w.num, c, event, ch, "suppressed", d, "", now);
        ++funnel[fmt::format("{}:suppressed:{}", name, reason_name(d.reason))];
      }
    }
    if (queued_any && counts_toward_cap(event) && !fallback) {
      tx.push_back(redis::cmd("HINCRBY", "cap:" + days[i], std::to_string(w.num), "1"));
      tx.push_back(redis::cmd("EXPIRE", "cap:" + days[i], "172800"));
    }
  }
  for (const auto& [field, n] : funnel) {
    tx.push_back(redis::cmd("HINCRBY", dispatch::funnel_key(event.id()), field, std::to_string(n)));
  }
  for (auto& t : tail) tx.push_back(std::move(t));
  tx.push_back(redis::cmd("EXEC"));
  auto done = conn.pipeline(tx);
  if (!done.ok()) return std::move(done).take_error();
  const redis::Reply& exec = done->back();
  if (exec.is_error() || exec.is_nil()) {
    return make_error(ErrorCode::kInternal, "planner transaction failed: " + exec.str);
  }
  for (const auto& r : exec.elements) {
    if (r.is_error()) return make_error(ErrorCode::kInternal, "planner write failed: " + r.str);
  }
  return ok_status();
}

Result<int> Planner::run_due(redis::Connection& conn, Clock::time_point now) {
  auto due = conn.command(redis::cmd("ZRANGEBYSCORE", kDeferredKey, "-inf",
                                     std::to_string(ms_of(now)), "LIMIT", "0", "200"));
  if (!due.ok()) return std::move(due).take_error();
  // Members "<event>|<revision>|<channel>|<customer number>", grouped by event revision.
  std::map<std::pair<std::string, uint32_t>, std::vector<Work>> groups;
  std::vector<std::string> unreadable;  // would block the LIMIT window forever
  for (const auto& m : due->elements) {
    std::vector<std::string> f;
    size_t start = 0;
    for (size_t bar; (bar = m.str.find('|', start)) != std::string::npos; start = bar + 1) {
      f.push_back(m.str.substr(start, bar - start));
    }
    f.push_back(m.str.substr(start));
    // A fifth field: a dispatcher's fallback.
    if ((f.size() != 4 && f.size() != 5) || !all_digits(f, 1) || f[1] == "0") {
      unreadable.push_back(m.str);
      continue;
    }
    Work w;
    w.num = std::stoull(f[3]);
    w.only = static_cast<v1::Channel>(std::stoi(f[2]));
    if (f.size() == 5) w.fallback_from = static_cast<v1::Channel>(std::stoi(f[4]));
    w.deferred = m.str;
    groups[{f[0], static_cast<uint32_t>(std::stoul(f[1]))}].push_back(std::move(w));
  }
  if (auto ok = bury_deferred(conn, unreadable, "unreadable deferred member"); !ok.ok()) {
    return std::move(ok).take_error();
  }
  int handled = static_cast<int>(unreadable.size());
  for (auto& [key, work] : groups) {
    auto reads = conn.pipeline(redis::batch(
        redis::cmd("GET", events::event_key(key.first)),
        redis::cmd("LINDEX", events::revisions_key(key.first), std::to_string(key.second - 1))));
    if (!reads.ok()) return std::move(reads).take_error();
    v1::EventState state;
    v1::Event planned;
    if ((*reads)[0].is_nil() || (*reads)[1].is_nil() || !state.ParseFromString((*reads)[0].str) ||
        !planned.ParseFromString((*reads)[1].str)) {
      std::vector<std::string> members;
      for (const Work& w : work) members.push_back(w.deferred);
      auto ok = bury_deferred(conn, members, "its event revision is not stored");
      if (!ok.ok()) return std::move(ok).take_error();
      continue;
    }
    // Never stale: a held message a newer revision overtook becomes the current state.
    const v1::Event& send = overtaken(planned, state.event()) ? state.event() : planned;
    if (auto ok = handle(conn, send, work, {}, now); !ok.ok()) return std::move(ok).take_error();
    handled += static_cast<int>(work.size());
  }
  return handled;
}

}  // namespace herald::fanout
