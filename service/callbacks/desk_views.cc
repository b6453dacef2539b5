#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <optional>

#include "herald/v1/touchpoint.pb.h"
#include "service/callbacks/desk.h"
#include "service/callbacks/keys.h"
#include "service/store/touchpoints.h"

// g++ 12 pairs an inlined Asio coroutine frame's recycling operator new with the wrong delete
// here (a false -Wmismatched-new-delete); the code allocates nothing itself.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// The read side of the desk and the capacity write: the agents' list, capacity, the report.
namespace herald::callbacks {
namespace {

using google::protobuf::util::TimeUtil;

constexpr size_t kLastMessages = 3;
// A customer's last messages are looked for in its journey bucket's latest entries, a page at a
// time, until the list has its three or 2,000 entries (sixteen customers' worth) were read; then
// in a journey an earlier release wrote (older than anything in the bucket), its latest 50.
constexpr int kBucketPage = 200;
constexpr int kBucketPages = 10;
constexpr int kLegacyScan = 50;
constexpr int64_t kOnTimeMs = 5 * 60'000;
constexpr size_t kReportChunk = 1000;

// A message the customer was sent (or that was queued for them): what an agent wants to see.
bool is_message(const v1::Touchpoint& tp) {
  return tp.kind() == v1::SEND || (tp.kind() == v1::DECISION && tp.status() == "queued");
}

// A sent message's touchpoint, as the list shows it; nullopt for any other touchpoint.
std::optional<v1::CallbackMessage> message_of(const std::string& bytes) {
  v1::Touchpoint tp;
  if (!tp.ParseFromString(bytes) || !is_message(tp)) return std::nullopt;
  v1::CallbackMessage m;
  *m.mutable_at() = tp.at();
  m.set_channel(tp.channel());
  m.set_event_id(tp.event_id());
  m.set_status(tp.status());
  m.set_detail(tp.detail());
  return m;
}

}  // namespace

awaitable<Result<v1::CallbackCapacity>> Desk::capacity(int64_t from_s, int64_t to_s) {
  auto slots = co_await read_slots(from_s, to_s);
  if (!slots.ok()) co_return std::move(slots).take_error();
  v1::CallbackCapacity out;
  for (const Slot& s : *slots) {
    auto* slot = out.add_slots();
    *slot->mutable_start() = TimeUtil::SecondsToTimestamp(s.start_s);
    slot->set_minutes(s.minutes);
    slot->set_agents(s.agents);
    slot->set_booked(s.booked);
  }
  co_return out;
}

awaitable<Result<v1::CallbackCapacity>> Desk::put_capacity(v1::CallbackCapacity body) {
  auto slots = validate_capacity(body);
  if (!slots.ok()) co_return std::move(slots).take_error();
  const Range range = covered_range(*slots);
  std::vector<std::string> args;
  args.reserve(2 + slots->size() * 2);
  args.push_back(std::to_string(range.from_s));
  args.push_back(std::to_string(range.to_s));
  for (const Slot& s : *slots) {
    args.push_back(std::to_string(s.start_s));
    args.push_back(encode_capacity(s.minutes, s.agents));
  }
  auto cut = co_await capacity_script().run(pool_, std::move(args));
  if (!cut.ok()) co_return std::move(cut).take_error();
  v1::CallbackCapacity out;
  for (const auto& id : cut->elements) {
    auto booked = co_await rebook(id.str);
    if (!booked.ok()) co_return std::move(booked).take_error();
    if (*booked) {
      out.add_moved(id.str);
    } else {
      out.add_unplaced(id.str);
    }
  }
  // New capacity may serve callbacks that found none before.
  auto swept = co_await sweep(true);
  if (!swept.ok()) co_return std::move(swept).take_error();
  auto view = co_await capacity(range.from_s, range.to_s - 1);
  if (!view.ok()) co_return std::move(view).take_error();
  *out.mutable_slots() = std::move(*view->mutable_slots());
  co_return out;
}

awaitable<Result<v1::CallbackList>> Desk::list(ListQuery q) {
  // Built outside the co_await: g++ 12 mishandles temporaries of a conditional inside one.
  std::string to = "+inf";
  if (q.to_ms != INT64_MAX) to = std::to_string(q.to_ms);
  redis::Command range = redis::cmd("ZRANGEBYSCORE", status_key(q.status), std::to_string(q.from_ms),
                                    to, "LIMIT", std::to_string(q.offset),
                                    std::to_string(q.limit + 1));
  auto ids = co_await pool_.exec(redis::batch(std::move(range)));
  if (!ids.ok()) co_return std::move(ids).take_error();
  auto& found = ids->front().elements;
  v1::CallbackList out;
  if (found.size() > q.limit) {
    found.resize(q.limit);
    out.set_next_page_token(std::to_string(q.offset + q.limit));
  }
  if (found.empty()) co_return out;
  redis::Command hmget = redis::cmd("HMGET", kRecordsKey);
  for (const auto& id : found) hmget.push_back(id.str);
  auto records = co_await pool_.exec(redis::batch(std::move(hmget)));
  if (!records.ok()) co_return std::move(records).take_error();
  std::vector<v1::Callback> callbacks;
  for (const auto& r : records->front().elements) {
    v1::Callback c;
    if (r.type != redis::Reply::Type::kString || !c.ParseFromString(r.str)) continue;
    callbacks.push_back(std::move(c));
  }
  const size_t n = callbacks.size();
  std::vector<std::vector<v1::CallbackMessage>> last(n);
  std::vector<std::string> page_end(n, "+");  // where customer i's next bucket page ends
  std::vector<bool> more(n, true);
  // Customer i's messages in a range of its bucket (or legacy stream), until it has three.
  auto take = [&](size_t i, const redis::Reply& range, bool legacy) {
    for (const auto& bytes : store::touchpoints_in(range, callbacks[i].customer_num(), legacy)) {
      if (last[i].size() == kLastMessages) break;
      if (auto m = message_of(bytes)) last[i].push_back(std::move(*m));
    }
  };
  for (int page = 0; page < kBucketPages; ++page) {
    redis::Batch reads;
    std::vector<size_t> which;
    for (size_t i = 0; i < n; ++i) {
      if (!more[i]) continue;
      which.push_back(i);
      reads.push_back(redis::cmd("XREVRANGE", store::journey_key(callbacks[i].customer_num()),
                                 page_end[i], "-", "COUNT", std::to_string(kBucketPage)));
    }
    if (which.empty()) break;
    auto got = co_await pool_.exec(std::move(reads));
    if (!got.ok()) co_return std::move(got).take_error();
    for (size_t k = 0; k < which.size(); ++k) {
      const size_t i = which[k];
      const redis::Reply& r = (*got)[k];
      take(i, r, false);
      more[i] = last[i].size() < kLastMessages &&
                r.elements.size() == static_cast<size_t>(kBucketPage) &&
                !r.elements.back().elements.empty();
      if (more[i]) page_end[i] = "(" + r.elements.back().elements[0].str;
    }
  }
  redis::Batch legacy_reads;
  std::vector<size_t> short_of;
  for (size_t i = 0; i < n; ++i) {
    if (last[i].size() == kLastMessages) continue;
    short_of.push_back(i);
    legacy_reads.push_back(redis::cmd("XREVRANGE",
                                      store::legacy_journey_key(callbacks[i].customer_num()), "+",
                                      "-", "COUNT", std::to_string(kLegacyScan)));
  }
  if (!legacy_reads.empty()) {
    auto got = co_await pool_.exec(std::move(legacy_reads));
    if (!got.ok()) co_return std::move(got).take_error();
    for (size_t k = 0; k < short_of.size(); ++k) take(short_of[k], (*got)[k], true);
  }
  for (size_t i = 0; i < callbacks.size(); ++i) {
    auto* item = out.add_callbacks();
    auto customer = co_await customers_.get(callbacks[i].customer_id());
    if (!customer.ok()) co_return std::move(customer).take_error();
    if (customer->has_value()) {
      item->set_customer_name((*customer)->name());
      item->set_customer_phone((*customer)->phone());
    }
    for (auto& m : last[i]) *item->add_last_messages() = std::move(m);
    *item->mutable_callback() = public_view(std::move(callbacks[i]));
  }
  co_return out;
}

awaitable<Result<v1::CallbackSummary>> Desk::summary(int64_t since_ms, int64_t until_ms) {
  auto ids = co_await pool_.exec(redis::batch(redis::cmd(
      "ZRANGEBYSCORE", kCalledKey, std::to_string(since_ms), "(" + std::to_string(until_ms))));
  if (!ids.ok()) co_return std::move(ids).take_error();
  const auto& found = ids->front().elements;
  v1::CallbackSummary out;
  *out.mutable_since() = TimeUtil::MillisecondsToTimestamp(since_ms);
  *out.mutable_until() = TimeUtil::MillisecondsToTimestamp(until_ms);
  double wait_ms = 0;
  for (size_t begin = 0; begin < found.size(); begin += kReportChunk) {
    redis::Command hmget = redis::cmd("HMGET", kRecordsKey);
    for (size_t i = begin; i < std::min(found.size(), begin + kReportChunk); ++i) {
      hmget.push_back(found[i].str);
    }
    auto records = co_await pool_.exec(redis::batch(std::move(hmget)));
    if (!records.ok()) co_return std::move(records).take_error();
    for (const auto& r : records->front().elements) {
      v1::Callback c;
      if (r.type != redis::Reply::Type::kString || !c.ParseFromString(r.str)) continue;
      const int64_t called = TimeUtil::TimestampToMilliseconds(c.called_at());
      out.set_calls(out.calls() + 1);
      if (c.status() == v1::Callback::COMPLETED) out.set_completed(out.completed() + 1);
      if (c.status() == v1::Callback::NO_ANSWER) out.set_no_answer(out.no_answer() + 1);
      if (c.status() == v1::Callback::RESCHEDULED) out.set_rescheduled(out.rescheduled() + 1);
      const int64_t promised = TimeUtil::TimestampToMilliseconds(c.promised_at());
      if (std::llabs(called - promised) <= kOnTimeMs) out.set_on_time(out.on_time() + 1);
      wait_ms += static_cast<double>(called - TimeUtil::TimestampToMilliseconds(c.requested_at()));
    }
  }
  if (out.calls() > 0) {
    out.set_on_time_share(static_cast<double>(out.on_time()) / out.calls());
    out.set_average_wait_s(wait_ms / 1000.0 / out.calls());
  }
  co_return out;
}

redis::Command event_counts_command(std::string_view event_id) {
  return redis::cmd("HGETALL", event_counts_key(event_id));
}

v1::CallbackCounts parse_event_counts(const redis::Reply& hgetall) {
  v1::CallbackCounts c;
  const auto* descriptor = c.GetDescriptor();
  const auto* reflection = c.GetReflection();
  const auto& kv = hgetall.elements;
  for (size_t i = 0; i + 1 < kv.size(); i += 2) {
    const auto* field = descriptor->FindFieldByName(kv[i].str);
    if (field == nullptr) continue;
    reflection->SetUInt64(&c, field, std::strtoull(kv[i + 1].str.c_str(), nullptr, 10));
  }
  return c;
}

awaitable<Result<v1::CallbackCounts>> event_counts(redis::Pool& pool, std::string event_id) {
  auto r = co_await pool.exec(redis::batch(event_counts_command(event_id)));
  if (!r.ok()) co_return std::move(r).take_error();
  co_return parse_event_counts(r->front());
}

}  // namespace herald::callbacks
