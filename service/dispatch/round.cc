#include "service/dispatch/round.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <map>
#include <optional>
#include <utility>

#include "herald/v1/touchpoint.pb.h"
#include "service/dispatch/content.h"
#include "service/dispatch/fallback.h"
#include "service/events/event_store.h"
#include "service/fanout/decide.h"
#include "service/store/touchpoints.h"

namespace herald::dispatch {
namespace {

using channels::SendResult;
using google::protobuf::util::TimeUtil;
using std::chrono::milliseconds;

// Never stale: a queued message whose event moved on (e.g. "ETR 6 pm" after "restored", or
// anything after a cancellation) is dropped unsent. One lookup per event and revision per round;
// a message whose event is not stored (or cannot be read) is sent.
class StaleCheck {
 public:
  explicit StaleCheck(redis::Connection& conn) : conn_(conn) {}

  bool stale(const v1::OutboundMessage& m) {
    const v1::Event* current = event(m.event_id(), 0);
    if (!current || current->revision() <= m.revision()) return false;
    const v1::Event* planned = event(m.event_id(), m.revision());
    return planned && fanout::overtaken(*planned, *current);
  }

 private:
  // revision 0: the current state.
  const v1::Event* event(const std::string& id, uint32_t revision) {
    auto key = std::make_pair(id, revision);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second ? &*it->second : nullptr;
    std::optional<v1::Event> found;
    auto r = revision == 0 ? conn_.command(redis::cmd("GET", events::event_key(id)))
                           : conn_.command(redis::cmd("LINDEX", events::revisions_key(id),
                                                      std::to_string(revision - 1)));
    if (r.ok() && r->type == redis::Reply::Type::kString) {
      if (revision == 0) {
        v1::EventState state;
        if (state.ParseFromString(r->str)) found = state.event();
      } else {
        v1::Event e;
        if (e.ParseFromString(r->str)) found = std::move(e);
      }
    }
    auto& slot = cache_[key] = std::move(found);
    return slot ? &*slot : nullptr;
  }

  redis::Connection& conn_;
  std::map<std::pair<std::string, uint32_t>, std::optional<v1::Event>> cache_;
};

// What one entry came to: its funnel outcome, its touchpoint and the writes that go with it.
struct Settled {
  explicit Settled(const Entry* e) : entry(e) {}
  const Entry* entry;
  std::string outcome;  // funnel and touchpoint status; empty: neither (a put-back)
  std::string reason;
  std::string detail;
  std::optional<Reschedule> later;
  redis::Batch extras;
  bool fall_back = false;
};

std::string join(std::initializer_list<std::string> parts) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += "; ";
    out += p;
  }
  return out;
}

std::string failure_name(SendResult::Failure f) {
  switch (f) {
    case SendResult::Failure::kOptedOut:
      return "opted_out";
    case SendResult::Failure::kInvalidContact:
      return "invalid_contact";
    default:
      return "rejected";
  }
}

std::string fallback_note(const v1::OutboundMessage& m) {
  if (m.fallback_from() == v1::CHANNEL_UNSPECIFIED) return {};
  return fmt::format("fallback from {}", channels::channel_key(m.fallback_from()));
}

Settled outcome_of(const Entry& e, const SendResult& r, RoundContext& ctx,
                   SysClock::time_point now) {
  const v1::OutboundMessage& m = e.message;
  const std::string attempt = fmt::format("attempt {} of {}", m.attempt() + 1,
                                          ctx.retry.max_attempts);
  const std::string provider = r.provider_id.empty() ? "" : "provider id " + r.provider_id;
  Settled s(&e);
  s.reason = r.error_code;
  switch (r.status) {
    case SendResult::Status::kSent:
      s.outcome = "sent";
      s.detail = join({provider, fallback_note(m), m.attempt() > 0 ? attempt : ""});
      return s;
    case SendResult::Status::kRetry: {
      NextAttempt next = next_attempt(m, ctx.retry, r.retry_after, now, ctx.rng);
      if (s.reason.empty()) s.reason = "retry";
      if (next.kind == NextAttempt::Kind::kRetry) {
        s.outcome = "retried";
        s.later = Reschedule{retry_key(m.channel(), m.priority()),
                             unix_ms(now + next.delay), next.message.SerializeAsString()};
        s.detail = join({attempt, fmt::format("again in {} ms", next.delay.count()), r.detail});
      } else if (next.kind == NextAttempt::Kind::kExpired) {
        s.outcome = "expired";
        s.detail = join({attempt, "the next attempt would be past the message's deadline",
                         r.detail});
      } else {
        s.outcome = "failed";
        s.reason = "attempts_exhausted";
        s.detail = join({attempt, "last error " + r.error_code, r.detail});
        s.fall_back = true;
      }
      break;
    }
    case SendResult::Status::kPermanent: {
      s.outcome = "failed";
      if (s.reason.empty()) s.reason = failure_name(r.failure);
      s.detail = join({provider, failure_name(r.failure), r.detail});
      const std::string num = std::to_string(m.customer_num());
      if (r.failure == SendResult::Failure::kOptedOut && m.channel() == v1::SMS) {
        s.extras.push_back(redis::cmd("SADD", "stop:sms", num));
      } else if (r.failure == SendResult::Failure::kInvalidContact) {
        s.extras.push_back(redis::cmd(
            "SADD", fmt::format("invalid:{}", channels::channel_key(m.channel())), num));
      }
      s.fall_back = true;
      break;
    }
  }
  // A call that was not placed gives its slot back at once.
  if (ctx.budget.calls_limited()) s.extras.push_back(ctx.budget.release_call(m.id()));
  return s;
}

Settled dropped(const Entry& e, std::string outcome, std::string reason, std::string detail) {
  Settled s(&e);
  s.outcome = std::move(outcome);
  s.reason = std::move(reason);
  s.detail = std::move(detail);
  return s;
}

SendResult unopenable(std::string code) {
  SendResult r;
  r.status = SendResult::Status::kPermanent;
  r.failure = SendResult::Failure::kRejected;
  r.error_code = std::move(code);
  r.detail = "content does not open with this key";
  return r;
}

// What settling `s` adds besides its ack (settle_command): extra commands and its touchpoint.
void append_settled(redis::Batch& tx, store::TouchpointBatch& tps, const Settled& s,
                    SysClock::time_point now) {
  const v1::OutboundMessage& m = s.entry->message;
  for (const auto& c : s.extras) tx.push_back(c);
  if (s.outcome.empty()) return;
  v1::Touchpoint tp;
  tp.set_customer_id(m.customer_id());
  tp.set_kind(v1::SEND);
  *tp.mutable_at() = TimeUtil::MillisecondsToTimestamp(unix_ms(now));
  tp.set_event_id(m.event_id());
  tp.set_revision(m.revision());
  tp.set_channel(m.channel());
  tp.set_status(s.outcome == "retried" ? "retry" : s.outcome);
  tp.set_reason(s.reason);
  tp.set_detail(s.detail);
  tps.add(tx, m.customer_num(), tp);
}

// Hands each permanently failed message's next channel to the planner (see fallback.h).
uint64_t add_fallbacks(RoundContext& ctx, std::vector<Settled>& settled, redis::Batch& tx,
                       SysClock::time_point now) {
  std::vector<const v1::OutboundMessage*> failed;
  std::vector<Settled*> owners;
  for (auto& s : settled) {
    if (!s.fall_back) continue;
    failed.push_back(&s.entry->message);
    owners.push_back(&s);
  }
  if (failed.empty()) return 0;
  auto next = choose_fallbacks(ctx.conn, ctx.sealer, failed);
  if (!next.ok()) {
    spdlog::warn("dispatch: no fallback for {} failed messages: {}", failed.size(),
                 next.error().message);
    return 0;
  }
  uint64_t n = 0;
  for (size_t i = 0; i < failed.size(); ++i) {
    if (!(*next)[i]) {
      owners[i]->detail = join({owners[i]->detail, "no fallback channel"});
      continue;
    }
    tx.push_back(redis::cmd("ZADD", "deferred", std::to_string(unix_ms(now)),
                            fallback_member(*failed[i], *(*next)[i])));
    owners[i]->detail =
        join({owners[i]->detail, fmt::format("fallback to {}", channels::channel_key(*(*next)[i]))});
    ++n;
  }
  return n;
}

std::string_view guard_field(const Entry& e) { return e.valid ? e.message.id() : e.id; }

// Each part's guard, if any: one HMGET per entry and, for one-message entries (the only kind an
// earlier release wrote, and so could have sent without settling), one MGET of the guards it
// wrote, a key per message. A fan-out's sixteen-message entries need no MGET.
Result<std::vector<redis::Reply>> read_guards(redis::Connection& conn,
                                              const std::vector<Entry>& entries) {
  redis::Batch reads;  // the HMGETs, then the MGET
  redis::Command mget{"MGET"};
  std::vector<std::pair<size_t, size_t>> at(entries.size());  // per part: its HMGET, its field
  std::vector<size_t> legacy_at(entries.size(), 0);           // its MGET argument; 0: none
  std::map<std::string, size_t> hmget;                        // guard key -> its command
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.parts == 1) {
      legacy_at[i] = mget.size();
      mget.push_back(legacy_guard_key(guard_field(e)));
    }
    auto [it, fresh] = hmget.try_emplace(guard_key(e), reads.size());
    if (fresh) reads.push_back(redis::cmd("HMGET", it->first));
    at[i] = {it->second, reads[it->second].size() - 2};
    reads[it->second].emplace_back(guard_field(e));
  }
  const size_t legacy = reads.size();
  if (mget.size() > 1) reads.push_back(std::move(mget));
  auto r = conn.pipeline(reads);
  if (!r.ok()) return std::move(r).take_error();
  for (size_t k = 0; k < r->size(); ++k) {
    if ((*r)[k].is_error() || (*r)[k].elements.size() != reads[k].size() - (k == legacy ? 1 : 2)) {
      return make_error(ErrorCode::kUnavailable, "guard read: " + (*r)[k].str);
    }
  }
  std::vector<redis::Reply> out(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const redis::Reply& guard = (*r)[at[i].first].elements[at[i].second];
    const bool old = guard.type != redis::Reply::Type::kString && legacy_at[i] > 0;
    out[i] = old ? (*r)[legacy].elements[legacy_at[i] - 1] : guard;
  }
  return out;
}

// The round's state between its steps.
class Round {
 public:
  Round(RoundContext& ctx, SysClock::time_point now) : ctx_(ctx), now_(now) {}

  // Settles what must not be sent (malformed, guarded, expired, stale, unopenable) and keeps
  // the rest for send().
  Status sort(const std::vector<Entry>& entries) {
    auto guards = read_guards(ctx_.conn, entries);
    if (!guards.ok()) return std::move(guards).take_error();
    StaleCheck check(ctx_.conn);
    for (size_t i = 0; i < entries.size(); ++i) {
      const Entry& e = entries[i];
      if (!e.valid) {
        // Settled by the round's settle script with the entry's other parts, never acked on
        // its own: that would leave them uncounted and their retries unscheduled.
        spdlog::warn("dispatch: a part of entry {} of {} is no message; dropped", e.id, e.stream);
        settled_.emplace_back(&e);
        ++tally_.malformed;
      } else if ((*guards)[i].type == redis::Reply::Type::kString) {
        settled_.push_back(dropped(e, "sent", "",
                                   join({"provider id " + (*guards)[i].str,
                                         "sent before a restart; not sent again"})));
        ++tally_.guarded;
      } else if (now_ > deadline(e.message, ctx_.retry)) {
        settled_.push_back(dropped(e, "expired", "deadline", "past its validity window"));
      } else if (check.stale(e.message)) {
        settled_.push_back(dropped(e, "stale", "stale", "a newer revision overtook it"));
      } else if (auto content = open_content(ctx_.sealer, e.message); !content.ok()) {
        settled_.push_back(outcome_of(e, unopenable(content.error().message), ctx_, now_));
      } else {
        to_send_.push_back(&e);
        contents_.push_back(std::move(*content));
      }
    }
    return ok_status();
  }

  // Messages past the `tokens` the rate budget granted (a round takes whole entries) go back,
  // due when the next token comes, with their attempt.
  void admit_tokens(size_t tokens, milliseconds wait) {
    for (size_t i = tokens; i < to_send_.size(); ++i) put_back(*to_send_[i], wait);
    if (to_send_.size() > tokens) {
      to_send_.resize(tokens);
      contents_.resize(tokens);
    }
  }

  // Calls the concurrency budget does not admit go back, due in a second, with their attempt.
  Status admit_calls() {
    if (!ctx_.budget.calls_limited() || to_send_.empty()) return ok_status();
    std::vector<std::string> ids;
    for (const Entry* e : to_send_) ids.push_back(e->message.id());
    auto admitted = ctx_.budget.take_calls(ctx_.conn, ids);
    if (!admitted.ok()) return std::move(admitted).take_error();
    const size_t keep = std::min(to_send_.size(), static_cast<size_t>(*admitted));
    for (size_t i = keep; i < to_send_.size(); ++i) put_back(*to_send_[i], std::chrono::seconds(1));
    to_send_.resize(keep);
    contents_.resize(keep);
    return ok_status();
  }

  // One send_batch per ctx.send_batch messages; a guard for every message the provider took.
  // A slice's guards are written before the next slice goes, so a crash can repeat one slice
  // at most, however many messages the round's entries held.
  Status send(size_t taken_tokens) {
    // Tokens were taken for every entry; those that will not reach the provider go back.
    (void)ctx_.budget.give_back(ctx_.conn, static_cast<int64_t>(taken_tokens - to_send_.size()));
    const size_t slice = ctx_.send_batch > 0 ? ctx_.send_batch : to_send_.size();
    for (size_t from = 0; from < to_send_.size(); from += slice) {
      if (!guards_.empty()) {
        auto written = ctx_.conn.pipeline(std::exchange(guards_, {}));
        if (!written.ok()) return std::move(written).take_error();
      }
      const size_t to = std::min(to_send_.size(), from + slice);
      std::map<std::string, redis::Command> sent;  // guard key -> its HSET
      std::vector<channels::Outgoing> batch;
      batch.reserve(to - from);
      for (size_t i = from; i < to; ++i) batch.push_back({&to_send_[i]->message, &contents_[i]});
      std::vector<SendResult> results = ctx_.channel.send_batch(batch);
      now_ = SysClock::now();
      for (size_t i = from; i < to; ++i) {
        SendResult r;
        if (i - from < results.size()) {
          r = std::move(results[i - from]);
        } else {
          r.status = SendResult::Status::kRetry;
          r.error_code = "no_result";
        }
        if (r.status == SendResult::Status::kSent) {
          const std::string key = guard_key(*to_send_[i]);
          auto write = sent.try_emplace(key, redis::Command{"HSET", key}).first;
          write->second.push_back(to_send_[i]->message.id());
          write->second.push_back(r.provider_id.empty() ? "-" : r.provider_id);
        }
        settled_.push_back(outcome_of(*to_send_[i], r, ctx_, now_));
      }
      for (auto& [key, write] : sent) {
        guards_.push_back(std::move(write));
        guards_.push_back(redis::cmd("EXPIRE", key, std::to_string(ctx_.retry.max_age.count())));
      }
    }
    return ok_status();
  }

  // Guards first, then one transaction: acks, retries, funnel, touchpoints, opt-outs, fallbacks.
  Result<Tally> settle() {
    tally_.fallbacks = add_fallbacks(ctx_, settled_, tx_, now_);
    redis::Batch all = std::move(guards_);
    const size_t multi_at = all.size();
    all.push_back(redis::cmd("MULTI"));
    for (auto& c : tx_) all.push_back(std::move(c));
    std::vector<Settlement> settlements;
    settlements.reserve(settled_.size());
    for (const auto& s : settled_) {
      settlements.push_back({s.entry, s.outcome, s.later ? &*s.later : nullptr});
    }
    if (!settlements.empty()) all.push_back(settle_command(settlements));
    store::TouchpointBatch tps;
    for (const auto& s : settled_) {
      append_settled(all, tps, s, now_);
      if (!s.outcome.empty()) ++tally_.outcomes[s.outcome];
    }
    tps.flush(all);
    all.push_back(redis::cmd("EXEC"));
    auto replies = ctx_.conn.pipeline(all);
    if (!replies.ok()) return std::move(replies).take_error();
    const redis::Reply& exec = replies->back();
    if (exec.is_error() || exec.is_nil() || (*replies)[multi_at].is_error()) {
      return make_error(ErrorCode::kUnavailable, "dispatch settle failed: " + exec.str);
    }
    for (const auto& r : exec.elements) {
      if (r.is_error()) spdlog::warn("dispatch: settle: {}", r.str);
    }
    return std::move(tally_);
  }

 private:
  void put_back(const Entry& e, milliseconds after) {
    const v1::OutboundMessage& m = e.message;
    Settled s(&e);
    s.later = Reschedule{retry_key(m.channel(), m.priority()),
                         unix_ms(now_ + std::max(after, milliseconds(1))), m.SerializeAsString()};
    settled_.push_back(std::move(s));
    ++tally_.put_back;
  }

  RoundContext& ctx_;
  SysClock::time_point now_;
  Tally tally_;
  redis::Batch guards_;
  redis::Batch tx_;
  std::vector<Settled> settled_;
  std::vector<const Entry*> to_send_;
  std::vector<v1::MessageContent> contents_;
};

}  // namespace

std::string guard_key(const Entry& entry) {
  return fmt::format("sge:{{{}:{}}}", entry.stream, entry.id);
}

std::string legacy_guard_key(std::string_view message_id) {
  return fmt::format("sg:{{{}}}", message_id);
}

Result<Tally> run_round(RoundContext& ctx, const std::vector<Entry>& entries,
                        SysClock::time_point now, const Grant& tokens) {
  if (entries.empty()) return Tally{};
  const size_t granted = static_cast<size_t>(std::max<int64_t>(0, tokens.granted));
  Round round(ctx, now);
  if (auto s = round.sort(entries); !s.ok()) return std::move(s).take_error();
  round.admit_tokens(granted, tokens.wait);
  if (auto s = round.admit_calls(); !s.ok()) return std::move(s).take_error();
  if (auto s = round.send(granted); !s.ok()) return std::move(s).take_error();
  return round.settle();
}

}  // namespace herald::dispatch
