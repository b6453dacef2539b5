#include "service/callbacks/desk.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "herald/v1/event.pb.h"
#include "service/callbacks/keys.h"
#include "service/core/crypto.h"
#include "service/events/event_store.h"
#include "service/store/keys.h"

// g++ 12 pairs an inlined Asio coroutine frame's recycling operator new with the wrong delete
// here (a false -Wmismatched-new-delete); the code allocates nothing itself.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace herald::callbacks {
namespace {

using google::protobuf::util::TimeUtil;
using Status_ = v1::Callback::Status;

constexpr size_t kCandidatesPerRun = 16;
constexpr int kAttempts = 5;
constexpr size_t kIdBytes = 9;

std::string lower_name(Status_ s) {
  std::string n = v1::Callback::Status_Name(s);
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n;
}

int64_t ms_of(const google::protobuf::Timestamp& t) { return TimeUtil::TimestampToMilliseconds(t); }

// Where a callback sits in the status index: its promise, or its request while unbooked.
std::string score_of(const v1::Callback& c) {
  return std::to_string(c.has_promised_at() ? ms_of(c.promised_at()) : ms_of(c.requested_at()));
}

bool is_open(Status_ s) { return s == v1::Callback::REQUESTED || s == v1::Callback::BOOKED; }

}  // namespace

struct Desk::Plan {
  std::string op = "set";
  std::string id, customer, expect, old_status, new_status, score, event, counters, called;
  bool open = true;
  std::string what, now, old_slot, add_set, wait_leave, record;
  std::vector<std::string> triples;

  // The script's ARGV (keys.cc).
  std::vector<std::string> argv() const {
    std::vector<std::string> a;
    a.reserve(17 + triples.size());
    for (const std::string* s : {&op, &id, &customer, &expect, &old_status, &new_status, &score,
                                 &event, &counters, &called}) {
      a.push_back(*s);
    }
    a.push_back(open ? "1" : "0");
    for (const std::string* s : {&what, &now, &old_slot, &add_set, &wait_leave, &record}) {
      a.push_back(*s);
    }
    a.insert(a.end(), triples.begin(), triples.end());
    return a;
  }

  // Starts from what is stored: the compare-and-set value and the indexes to leave.
  void from(const std::string& bytes, const v1::Callback& c, int64_t now_ms) {
    id = c.id();
    customer = c.customer_id();
    expect = bytes;
    old_status = v1::Callback::Status_Name(c.status());
    event = c.event_id();
    now = std::to_string(now_ms);
    if (c.status() == v1::Callback::BOOKED) {
      old_slot = std::to_string(c.promised_at().seconds());
    }
    if (c.when_restored()) wait_leave = wait_key(c.event_id());
  }
};

v1::Callback public_view(v1::Callback callback) {
  callback.clear_customer_num();
  return callback;
}

awaitable<Result<std::optional<Desk::Party>>> Desk::party(std::string customer_id) {
  auto found = co_await customers_.get(customer_id);
  if (!found.ok()) co_return std::move(found).take_error();
  if (!found->has_value()) co_return std::optional<Party>{};
  auto cid = co_await pool_.exec(
      redis::batch(redis::cmd("HGET", store::customer_id_key(customer_id), customer_id)));
  if (!cid.ok()) co_return std::move(cid).take_error();
  const std::string& value = cid->front().str;  // the number n
  Party p;
  p.customer = std::move(**found);
  std::from_chars(value.data(), value.data() + value.size(), p.num);
  co_return std::optional<Party>{std::move(p)};
}

awaitable<Result<std::optional<Desk::Stored>>> Desk::load(std::string id) {
  auto r = co_await pool_.exec(redis::batch(redis::cmd("HGET", kRecordsKey, id)));
  if (!r.ok()) co_return std::move(r).take_error();
  const redis::Reply& reply = r->front();
  if (reply.type != redis::Reply::Type::kString) co_return std::optional<Stored>{};
  Stored s;
  if (!s.callback.ParseFromString(reply.str)) {
    co_return make_error(ErrorCode::kInternal, "callback " + id + " is not readable");
  }
  s.bytes = reply.str;
  co_return std::optional<Stored>{std::move(s)};
}

awaitable<Result<std::vector<Slot>>> Desk::read_slots(int64_t from_s, int64_t to_s) {
  auto starts = co_await pool_.exec(redis::batch(
      redis::cmd("ZRANGEBYSCORE", kSlotsKey, std::to_string(from_s), std::to_string(to_s))));
  if (!starts.ok()) co_return std::move(starts).take_error();
  const auto& ids = starts->front().elements;
  std::vector<Slot> slots;
  if (ids.empty()) co_return slots;
  redis::Batch reads;
  reads.reserve(ids.size() * 2);
  for (const auto& s : ids) {
    reads.push_back(redis::cmd("HGET", kCapKey, s.str));
    int64_t start = 0;
    std::from_chars(s.str.data(), s.str.data() + s.str.size(), start);
    reads.push_back(redis::cmd("ZCARD", slot_key(start)));
  }
  auto got = co_await pool_.exec(std::move(reads));
  if (!got.ok()) co_return std::move(got).take_error();
  for (size_t i = 0; i < ids.size(); ++i) {
    Slot slot;
    std::from_chars(ids[i].str.data(), ids[i].str.data() + ids[i].str.size(), slot.start_s);
    if (!decode_capacity((*got)[2 * i].str, slot.minutes, slot.agents)) continue;
    slot.booked = static_cast<uint32_t>((*got)[2 * i + 1].integer);
    slots.push_back(slot);
  }
  co_return slots;
}

awaitable<Result<Desk::Booking>> Desk::run(const Plan& plan) {
  auto reply = co_await callback_script().run(pool_, plan.argv());
  if (!reply.ok()) co_return std::move(reply).take_error();
  const auto& e = reply->elements;
  if (e.empty() || e[0].str.empty()) {
    co_return make_error(ErrorCode::kInternal, "unexpected reply from the callback script");
  }
  Booking b;
  b.outcome = e[0].str == "OK" ? 'B' : e[0].str[0];
  if (e.size() > 1) b.detail = e[1].str;
  co_return b;
}

awaitable<Result<Desk::Booking>> Desk::book(Plan plan, v1::Callback base, CustomerHours hours,
                                            int64_t not_before_s) {
  const int64_t now = now_ms_();
  const int64_t horizon_s = now / 1000 + int64_t{options_.horizon_days} * 86'400;
  std::set<int64_t> tried;
  plan.op = "book";
  // A run finds every candidate full only when others booked them since the read: read again.
  for (;;) {
    auto slots = co_await read_slots(not_before_s, horizon_s);
    if (!slots.ok()) co_return std::move(slots).take_error();
    std::erase_if(*slots, [&tried](const Slot& s) { return tried.contains(s.start_s); });
    auto picks = pick_slots(*slots, hours, not_before_s, kCandidatesPerRun);
    if (picks.empty()) co_return Booking{};
    plan.triples.clear();
    for (const Slot& s : picks) {
      v1::Callback c = base;
      c.set_status(v1::Callback::BOOKED);
      *c.mutable_promised_at() = TimeUtil::SecondsToTimestamp(s.start_s);
      c.set_slot_minutes(s.minutes);
      *c.mutable_booked_at() = TimeUtil::MillisecondsToTimestamp(now);
      c.clear_note();
      plan.triples.push_back(std::to_string(s.start_s));
      plan.triples.push_back(std::to_string(s.start_s * 1000));
      plan.triples.push_back(c.SerializeAsString());
      tried.insert(s.start_s);
    }
    auto b = co_await run(plan);
    if (!b.ok() || b->outcome != 'F') co_return b;
  }
}

awaitable<Result<Requested>> Desk::existing(std::string id) {
  auto s = co_await load(id);
  if (!s.ok()) co_return std::move(s).take_error();
  if (!s->has_value()) co_return make_error(ErrorCode::kConflict, "callback changed; retry");
  co_return Requested{std::move((*s)->callback), true};
}

awaitable<Result<Requested>> Desk::request(v1::CallbackRequest request, std::string source,
                                           bool park_when_full) {
  co_return co_await create(std::move(request), std::move(source), 0, "", park_when_full);
}

awaitable<Result<Requested>> Desk::create(v1::CallbackRequest request, std::string source,
                                          int64_t not_before_s, std::string rescheduled_from,
                                          bool park_when_full) {
  auto p = co_await party(request.customer_id());
  if (!p.ok()) co_return std::move(p).take_error();
  if (!p->has_value()) {
    co_return make_error(ErrorCode::kNotFound, "no customer " + request.customer_id(),
                         "customerId");
  }
  bool waiting = false;
  if (!request.event_id().empty()) {
    auto ev = co_await pool_.exec(
        redis::batch(redis::cmd("GET", events::event_key(request.event_id()))));
    if (!ev.ok()) co_return std::move(ev).take_error();
    v1::EventState state;
    if (ev->front().type != redis::Reply::Type::kString || !state.ParseFromString(ev->front().str)) {
      co_return make_error(ErrorCode::kNotFound, "no event " + request.event_id(), "eventId");
    }
    waiting = request.when_restored() && state.active();
  }
  const int64_t now = now_ms_();
  v1::Callback cb;
  cb.set_id("cb-" + core::random_token(kIdBytes));
  cb.set_customer_id(request.customer_id());
  cb.set_reason(request.reason());
  cb.set_event_id(request.event_id());
  cb.set_when_restored(request.when_restored());
  cb.set_source(source);
  cb.set_rescheduled_from(rescheduled_from);
  cb.set_customer_num((*p)->num);
  *cb.mutable_requested_at() = TimeUtil::MillisecondsToTimestamp(now);

  Plan plan;
  plan.id = cb.id();
  plan.customer = cb.customer_id();
  plan.event = cb.event_id();
  plan.now = std::to_string(now);
  if (!waiting) {
    plan.counters = "requested,booked";
    plan.what = "booked";
    auto b = co_await book(plan, cb, hours_of((*p)->customer), std::max(now / 1000, not_before_s));
    if (!b.ok()) co_return std::move(b).take_error();
    if (b->outcome == 'E') co_return co_await existing(b->detail);
    if (b->outcome == 'B') {
      auto s = co_await load(cb.id());
      if (!s.ok()) co_return std::move(s).take_error();
      if (s->has_value()) co_return Requested{std::move((*s)->callback), false};
    }
    if (!park_when_full) {
      co_return make_error(ErrorCode::kConflict,
                           fmt::format("no callback slot is free in the next {} days inside the "
                                       "customer's hours",
                                       options_.horizon_days));
    }
  }
  cb.set_status(v1::Callback::REQUESTED);
  cb.set_note(waiting ? "waiting for the outage to be restored"
                      : "no free slot yet; booked when capacity appears");
  plan.op = "park";
  plan.new_status = v1::Callback::Status_Name(v1::Callback::REQUESTED);
  plan.score = std::to_string(now);
  plan.counters = "requested";
  // Parked for capacity: the customer hears it is taken and that the time will follow.
  plan.what = waiting ? "requested" : "waiting";
  plan.add_set = waiting ? wait_key(cb.event_id()) : std::string(kLaterKey);
  plan.record = cb.SerializeAsString();
  auto b = co_await run(plan);
  if (!b.ok()) co_return std::move(b).take_error();
  if (b->outcome == 'E') co_return co_await existing(b->detail);
  if (waiting) {
    // A restoration accepted while this was stored may have found no one waiting yet.
    auto changed = co_await event_changed(cb.event_id());
    if (!changed.ok()) co_return std::move(changed).take_error();
  }
  auto s = co_await load(cb.id());
  if (!s.ok()) co_return std::move(s).take_error();
  if (!s->has_value()) co_return Requested{std::move(cb), false};
  co_return Requested{std::move((*s)->callback), false};
}

awaitable<Result<std::optional<v1::Callback>>> Desk::get(std::string id) {
  auto s = co_await load(id);
  if (!s.ok()) co_return std::move(s).take_error();
  if (!s->has_value()) co_return std::optional<v1::Callback>{};
  co_return std::optional<v1::Callback>{std::move((*s)->callback)};
}

awaitable<Result<v1::Callback>> Desk::cancel(std::string id) {
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto s = co_await load(id);
    if (!s.ok()) co_return std::move(s).take_error();
    if (!s->has_value()) co_return make_error(ErrorCode::kNotFound, "no callback " + id);
    v1::Callback c = (*s)->callback;
    if (!is_open(c.status())) {
      co_return make_error(ErrorCode::kConflict,
                           fmt::format("callback {} is {}; only REQUESTED or BOOKED callbacks can "
                                       "be canceled",
                                       id, v1::Callback::Status_Name(c.status())));
    }
    Plan plan;
    plan.from((*s)->bytes, c, now_ms_());
    c.set_status(v1::Callback::CANCELED);
    plan.new_status = v1::Callback::Status_Name(c.status());
    plan.score = score_of(c);
    plan.open = false;
    plan.counters = "canceled";
    plan.what = "canceled";
    plan.record = c.SerializeAsString();
    auto b = co_await run(plan);
    if (!b.ok()) co_return std::move(b).take_error();
    if (b->outcome == 'B') co_return c;
  }
  co_return make_error(ErrorCode::kConflict, "callback " + id + " is changing; retry");
}

awaitable<Result<v1::CallbackOutcomeResult>> Desk::record_outcome(std::string id,
                                                                  v1::CallbackOutcome outcome) {
  const Status_ result = outcome.result();
  if (result != v1::Callback::COMPLETED && result != v1::Callback::NO_ANSWER &&
      result != v1::Callback::RESCHEDULED) {
    co_return invalid("result", "result must be COMPLETED, NO_ANSWER or RESCHEDULED");
  }
  const int64_t now = now_ms_();
  const int64_t at = outcome.has_at() ? ms_of(outcome.at()) : now;
  if (at > now + 5 * 60'000) co_return invalid("at", "at must not be in the future");
  if (outcome.note().size() > 500) co_return invalid("note", "note is at most 500 characters");
  v1::CallbackOutcomeResult out;
  for (int attempt = 0; attempt < kAttempts && !out.has_callback(); ++attempt) {
    auto s = co_await load(id);
    if (!s.ok()) co_return std::move(s).take_error();
    if (!s->has_value()) co_return make_error(ErrorCode::kNotFound, "no callback " + id);
    v1::Callback c = (*s)->callback;
    if (c.status() != v1::Callback::BOOKED) {
      co_return make_error(ErrorCode::kConflict,
                           fmt::format("callback {} is {}; outcomes are recorded for BOOKED "
                                       "callbacks",
                                       id, v1::Callback::Status_Name(c.status())));
    }
    Plan plan;
    plan.from((*s)->bytes, c, now);
    plan.old_slot.clear();  // the call used its place: the slot keeps counting it
    c.set_status(result);
    *c.mutable_called_at() = TimeUtil::MillisecondsToTimestamp(at);
    if (!outcome.note().empty()) c.set_note(outcome.note());
    plan.new_status = v1::Callback::Status_Name(result);
    plan.score = score_of(c);
    plan.called = std::to_string(at);
    plan.open = false;
    plan.counters = lower_name(result);
    plan.what = plan.counters;
    plan.record = c.SerializeAsString();
    auto b = co_await run(plan);
    if (!b.ok()) co_return std::move(b).take_error();
    if (b->outcome == 'B') *out.mutable_callback() = std::move(c);
  }
  if (!out.has_callback()) co_return make_error(ErrorCode::kConflict, "callback is changing");
  if (result != v1::Callback::RESCHEDULED) co_return out;

  v1::Callback& old = *out.mutable_callback();
  v1::CallbackRequest again;
  again.set_customer_id(old.customer_id());
  again.set_reason(old.reason());
  again.set_event_id(old.event_id());
  const int64_t not_before = outcome.has_not_before() ? outcome.not_before().seconds() : 0;
  auto next = co_await create(std::move(again), "reschedule", not_before, old.id(), true);
  if (!next.ok()) co_return std::move(next).take_error();
  *out.mutable_rescheduled() = next->callback;
  Plan link;
  link.from(old.SerializeAsString(), old, now);
  link.old_slot.clear();
  link.wait_leave.clear();
  old.set_rescheduled_to(next->callback.id());
  link.new_status = link.old_status;
  link.score = score_of(old);
  link.open = false;
  link.record = old.SerializeAsString();
  auto linked = co_await run(link);
  if (!linked.ok()) co_return std::move(linked).take_error();
  co_return out;
}

awaitable<Result<bool>> Desk::rebook(std::string id) {
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto s = co_await load(id);
    if (!s.ok()) co_return std::move(s).take_error();
    auto member = co_await pool_.exec(redis::batch(redis::cmd("SISMEMBER", kMovedKey, id),
                                                   redis::cmd("SISMEMBER", kLaterKey, id)));
    if (!member.ok()) co_return std::move(member).take_error();
    const bool moved = (*member)[0].integer == 1;
    const bool later = (*member)[1].integer == 1;
    if (!s->has_value()) {
      (void)co_await pool_.exec(redis::batch(redis::cmd("SREM", kMovedKey, id),
                                             redis::cmd("SREM", kLaterKey, id)));
      co_return false;
    }
    v1::Callback c = (*s)->callback;
    if (c.status() == v1::Callback::BOOKED && !moved) co_return true;
    if (!is_open(c.status())) co_return false;
    auto p = co_await party(c.customer_id());
    if (!p.ok()) co_return std::move(p).take_error();
    const int64_t now = now_ms_();
    Plan plan;
    plan.from((*s)->bytes, c, now);
    if (!p->has_value()) {  // erased meanwhile: nobody to call
      c.set_status(v1::Callback::CANCELED);
      c.set_note("customer erased");
      plan.new_status = v1::Callback::Status_Name(c.status());
      plan.score = score_of(c);
      plan.open = false;
      plan.record = c.SerializeAsString();
      auto b = co_await run(plan);
      if (!b.ok()) co_return std::move(b).take_error();
      if (b->outcome == 'B') co_return false;
      continue;
    }
    int64_t not_before = now / 1000;
    if (moved) {
      not_before = std::max(not_before, c.promised_at().seconds());
      c.set_moves(c.moves() + 1);
      plan.counters = "moved";
      plan.what = "moved";
    } else {
      plan.counters = "booked";
      plan.what = "booked";
    }
    auto b = co_await book(plan, c, hours_of((*p)->customer), not_before);
    if (!b.ok()) co_return std::move(b).take_error();
    if (b->outcome == 'B') co_return true;
    if (b->outcome == 'X') continue;
    if (later && c.status() == v1::Callback::REQUESTED) co_return false;  // still waiting
    // No slot: wait for capacity, unbooked.
    c.set_status(v1::Callback::REQUESTED);
    c.clear_promised_at();
    c.clear_slot_minutes();
    c.set_note("no free slot yet; booked when capacity appears");
    plan.op = "park";
    plan.new_status = v1::Callback::Status_Name(c.status());
    plan.score = score_of(c);
    plan.counters.clear();
    plan.what = moved ? "unplaced" : "waiting";  // the customer is told either way
    plan.add_set = std::string(kLaterKey);
    plan.record = c.SerializeAsString();
    auto parked = co_await run(plan);
    if (!parked.ok()) co_return std::move(parked).take_error();
    if (parked->outcome == 'B') co_return false;
  }
  co_return make_error(ErrorCode::kConflict, "callback " + id + " is changing; retry");
}

awaitable<Result<int>> Desk::event_changed(std::string event_id) {
  auto r = co_await pool_.exec(redis::batch(redis::cmd("SMEMBERS", wait_key(event_id)),
                                            redis::cmd("GET", events::event_key(event_id))));
  if (!r.ok()) co_return std::move(r).take_error();
  const auto& ids = (*r)[0].elements;
  if (ids.empty()) co_return 0;
  v1::EventState state;
  if (state.ParseFromString((*r)[1].str) && state.active()) co_return 0;
  int booked = 0;
  for (const auto& id : ids) {
    auto b = co_await rebook(id.str);
    if (!b.ok()) co_return std::move(b).take_error();
    booked += *b ? 1 : 0;
  }
  co_return booked;
}

awaitable<Result<int>> Desk::sweep(bool later) {
  auto batch = redis::batch(redis::cmd("SMEMBERS", kMovedKey));
  if (later) batch.push_back(redis::cmd("SMEMBERS", kLaterKey));
  auto r = co_await pool_.exec(std::move(batch));
  if (!r.ok()) co_return std::move(r).take_error();
  int booked = 0;
  for (const auto& set : *r) {
    for (const auto& id : set.elements) {
      auto b = co_await rebook(id.str);
      if (!b.ok()) co_return std::move(b).take_error();
      booked += *b ? 1 : 0;
    }
  }
  co_return booked;
}

}  // namespace herald::callbacks
