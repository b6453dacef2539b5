#include <fmt/format.h>
#include <spdlog/spdlog.h>

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
  }
  auto got = conn.pipeline(reads);
  if (!got.ok()) return std::move(got).take_error();
  constexpr size_t kPer = 6;

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
    const v1::Customer& c = *customers[i];
    CustomerState s;
    const auto& cap = (*caps)[cap_i++];
    if (cap.type == redis::Reply::Type::kString) s.sent_today = std::stoi(cap.str);
    s.sms_stopped = (*got)[i * kPer + 4].integer == 1;
    if ((*got)[i * kPer + 5].integer == 1) s.sms_stopped_kinds.insert(event.kind());
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
        tx.push_back(dispatch::enqueue_command(*msg));
        tx.push_back(redis::cmd("HSET", hist, fmt::format("{}:{}", w.num, static_cast<int>(ch)),
                                encode_history_text(history_of(event))));
        add_touchpoint(tx, w.num, c, event, ch, "queued", d,
                       msg->etr_shown().empty() ? "" : "ETR " + msg->etr_shown(), now);
        ++funnel[name + ":queued"];
        queued_any = true;
      } else if (d.action == Action::kHold) {
        tx.push_back(redis::cmd(
            "ZADD", kDeferredKey, std::to_string(ms_of(d.due)),
            fmt::format("{}|{}|{}|{}", event.id(), event.revision(), static_cast<int>(ch), w.num)));
        add_touchpoint(tx, w.num, c, event, ch, "held", d, "", now);
        ++funnel[name + ":held"];
      } else {
        add_touchpoint(tx, w.num, c, event, ch, "suppressed", d, "", now);
        ++funnel[fmt::format("{}:suppressed:{}", name, reason_name(d.reason))];
      }
    }
    if (queued_any && counts_toward_cap(event)) {
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
  for (const auto& m : due->elements) {
    std::vector<std::string> f;
    size_t start = 0;
    for (size_t bar; (bar = m.str.find('|', start)) != std::string::npos; start = bar + 1) {
      f.push_back(m.str.substr(start, bar - start));
    }
    f.push_back(m.str.substr(start));
    if (f.size() != 4) continue;
    Work w;
    w.num = std::stoull(f[3]);
    w.only = static_cast<v1::Channel>(std::stoi(f[2]));
    w.deferred = m.str;
    groups[{f[0], static_cast<uint32_t>(std::stoul(f[1]))}].push_back(std::move(w));
  }
  int handled = 0;
  for (auto& [key, work] : groups) {
    auto reads = conn.pipeline(redis::batch(
        redis::cmd("GET", events::event_key(key.first)),
        redis::cmd("LINDEX", events::revisions_key(key.first), std::to_string(key.second - 1))));
    if (!reads.ok()) return std::move(reads).take_error();
    v1::EventState state;
    v1::Event planned;
    if (!state.ParseFromString((*reads)[0].str) || !planned.ParseFromString((*reads)[1].str)) {
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
