#include "service/callbacks/worker.h"

#include <spdlog/spdlog.h>

#include <charconv>

#include "herald/v1/store.pb.h"
#include "service/callbacks/keys.h"
#include "service/callbacks/tell.h"
#include "service/events/event_store.h"
#include "service/store/codec.h"
#include "service/store/keys.h"

// g++ 12 pairs an inlined Asio coroutine frame's recycling operator new with the wrong delete
// here (a false -Wmismatched-new-delete); the code allocates nothing itself.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace herald::callbacks {
namespace {

constexpr int kTakeCount = 50;

void append_entries(const redis::Reply& list, std::vector<std::pair<std::string, redis::Reply>>& out) {
  for (const auto& e : list.elements) {
    if (e.elements.size() < 2) continue;
    out.emplace_back(e.elements[0].str, e.elements[1]);
  }
}

}  // namespace

Worker::Worker(Desk& desk, redis::Pool& pool, const core::Sealer& sealer,
               const templates::Catalog& catalog, WorkerOptions options)
    : desk_(desk), pool_(pool), sealer_(sealer), catalog_(catalog), options_(std::move(options)) {}

void Worker::start(net::io_context& io) {
  strand_ = std::make_unique<net::strand<net::io_context::executor_type>>(io.get_executor());
  timer_ = std::make_unique<net::steady_timer>(*strand_);
  net::co_spawn(*strand_, loop(), net::detached);
}

void Worker::stop() {
  stopping_ = true;
  if (strand_) net::post(*strand_, [this] { timer_->cancel(); });
}

awaitable<void> Worker::loop() {
  while (!stopping_) {
    auto handled = co_await round();
    if (!handled.ok()) spdlog::warn("callbacks: {}", handled.error().message);
    if (stopping_) break;
    if (!handled.ok() || *handled == 0) {
      timer_->expires_after(options_.idle);
      try {
        co_await timer_->async_wait(use_awaitable);
      } catch (const boost::system::system_error&) {
        // cancelled by stop()
      }
    }
  }
}

awaitable<Result<std::vector<Worker::StreamEntry>>> Worker::take(std::string stream) {
  auto r = co_await pool_.exec(redis::batch(
      redis::cmd("XAUTOCLAIM", stream, kGroup, options_.consumer,
                 std::to_string(options_.claim_idle.count()), "0-0", "COUNT",
                 std::to_string(kTakeCount)),
      redis::cmd("XREADGROUP", "GROUP", kGroup, options_.consumer, "COUNT",
                 std::to_string(kTakeCount), "STREAMS", stream, ">")));
  if (!r.ok()) co_return std::move(r).take_error();
  for (const auto& reply : *r) {
    if (reply.is_error()) {
      groups_ready_ = false;  // e.g. NOGROUP after a Redis restart without AOF
      co_return make_error(ErrorCode::kUnavailable, stream + ": " + reply.str);
    }
  }
  std::vector<std::pair<std::string, redis::Reply>> raw;
  if ((*r)[0].elements.size() >= 2) append_entries((*r)[0].elements[1], raw);
  for (const auto& s : (*r)[1].elements) {
    if (s.elements.size() >= 2) append_entries(s.elements[1], raw);
  }
  std::vector<StreamEntry> out;
  for (auto& [id, kv] : raw) {
    StreamEntry e;
    e.id = id;
    for (size_t i = 0; i + 1 < kv.elements.size(); i += 2) {
      e.fields[kv.elements[i].str] = kv.elements[i + 1].str;
    }
    out.push_back(std::move(e));
  }
  co_return out;
}

awaitable<Status> Worker::ack(std::string stream, std::string id, bool remove) {
  auto b = redis::batch(redis::cmd("XACK", stream, kGroup, id));
  if (remove) b.push_back(redis::cmd("XDEL", stream, id));
  auto r = co_await pool_.exec(std::move(b));
  if (!r.ok()) co_return std::move(r).take_error();
  co_return ok_status();
}

awaitable<Status> Worker::tell(StreamEntry entry) {
  v1::Callback cb;
  if (!cb.ParseFromString(entry.fields["r"])) {
    spdlog::warn("callbacks: outbox entry {} holds no callback; dropped", entry.id);
    co_return co_await ack(std::string(kOutboxKey), entry.id, true);
  }
  const uint64_t num = cb.customer_num();
  auto rec = co_await pool_.exec(
      redis::batch(redis::cmd("HGET", store::record_key(num), store::record_field(num))));
  if (!rec.ok()) co_return std::move(rec).take_error();
  auto customer = store::decode_customer(cb.customer_id(), rec->front().str, sealer_);
  redis::Batch tx = redis::batch(redis::cmd("MULTI"));
  if (customer.ok() && customer->id() == cb.customer_id()) {
    append_told(tx, cb, entry.fields["what"], *customer, catalog_, sealer_,
                std::chrono::system_clock::now());
  }
  tx.push_back(redis::cmd("XACK", kOutboxKey, kGroup, entry.id));
  tx.push_back(redis::cmd("XDEL", kOutboxKey, entry.id));
  tx.push_back(redis::cmd("EXEC"));
  auto r = co_await pool_.exec(std::move(tx));
  if (!r.ok()) co_return std::move(r).take_error();
  if (r->back().is_nil() || r->back().is_error()) {
    co_return make_error(ErrorCode::kUnavailable, "outbox transaction failed: " + r->back().str);
  }
  co_return ok_status();
}

awaitable<Status> Worker::call_request(StreamEntry entry) {
  uint64_t num = 0;
  const std::string& n = entry.fields["n"];
  auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), num);
  if (n.empty() || ec != std::errc() || end != n.data() + n.size()) {
    spdlog::warn("callbacks: cbq entry {} names no customer; dropped", entry.id);
    co_return co_await ack(std::string(kRequestQueueKey), entry.id, true);
  }
  auto rec = co_await pool_.exec(
      redis::batch(redis::cmd("HGET", store::record_key(num), store::record_field(num))));
  if (!rec.ok()) co_return std::move(rec).take_error();
  v1::CustomerRecord record;
  if (rec->front().type != redis::Reply::Type::kString ||
      !record.ParseFromString(rec->front().str)) {
    spdlog::info("callbacks: CALL reply {} from an erased customer; dropped", entry.id);
    co_return co_await ack(std::string(kRequestQueueKey), entry.id, true);
  }
  if (entry.fields["op"] == "cancel") {
    co_return co_await cancel_request(record.customer().id(), entry.id);
  }
  v1::CallbackRequest req;
  req.set_customer_id(record.customer().id());
  req.set_reason(entry.fields["reason"].empty() ? "CALL reply" : entry.fields["reason"]);
  req.set_event_id(entry.fields["event"]);
  auto booked = co_await desk_.request(req, "sms", true);
  if (!booked.ok() && booked.error().code == ErrorCode::kNotFound && !req.event_id().empty()) {
    req.clear_event_id();  // an event since deleted: the call is still wanted
    booked = co_await desk_.request(req, "sms", true);
  }
  if (!booked.ok()) {
    if (booked.error().code == ErrorCode::kUnavailable) co_return std::move(booked).take_error();
    spdlog::warn("callbacks: CALL reply {} not booked: {}", entry.id, booked.error().message);
  }
  co_return co_await ack(std::string(kRequestQueueKey), entry.id, true);
}

// CANCEL CALL: the customer's open callback, if any, is canceled (which tells them).
awaitable<Status> Worker::cancel_request(std::string customer_id, std::string entry_id) {
  auto open = co_await pool_.exec(redis::batch(redis::cmd("HGET", kOpenKey, customer_id)));
  if (!open.ok()) co_return std::move(open).take_error();
  if (open->front().type == redis::Reply::Type::kString) {
    auto canceled = co_await desk_.cancel(open->front().str);
    if (!canceled.ok()) {
      if (canceled.error().code == ErrorCode::kUnavailable) {
        co_return std::move(canceled).take_error();
      }
      spdlog::info("callbacks: CANCEL CALL {} changed nothing: {}", entry_id,
                   canceled.error().message);
    }
  } else {
    spdlog::info("callbacks: CANCEL CALL {} from a customer without an open callback", entry_id);
  }
  co_return co_await ack(std::string(kRequestQueueKey), entry_id, true);
}

awaitable<Result<int>> Worker::round() {
  if (!groups_ready_) {
    // Errors (BUSYGROUP: the group exists) are expected; only the connection matters here.
    auto r = co_await pool_.exec(
        redis::batch(redis::cmd("XGROUP", "CREATE", kOutboxKey, kGroup, "0", "MKSTREAM"),
                     redis::cmd("XGROUP", "CREATE", events::kIntakeKey, kGroup, "0", "MKSTREAM"),
                     redis::cmd("XGROUP", "CREATE", kRequestQueueKey, kGroup, "0", "MKSTREAM")));
    if (!r.ok()) co_return std::move(r).take_error();
    groups_ready_ = true;
  }
  int handled = 0;
  auto outbox = co_await take(std::string(kOutboxKey));
  if (!outbox.ok()) co_return std::move(outbox).take_error();
  for (auto& e : *outbox) {
    if (auto s = co_await tell(std::move(e)); !s.ok()) co_return std::move(s).take_error();
    ++handled;
  }
  auto intake = co_await take(std::string(events::kIntakeKey));
  if (!intake.ok()) co_return std::move(intake).take_error();
  for (auto& e : *intake) {
    auto booked = co_await desk_.event_changed(e.fields["event"]);
    if (!booked.ok()) co_return std::move(booked).take_error();
    if (auto s = co_await ack(std::string(events::kIntakeKey), e.id, false); !s.ok()) {
      co_return std::move(s).take_error();
    }
    handled += 1 + *booked;
  }
  auto calls = co_await take(std::string(kRequestQueueKey));
  if (!calls.ok()) co_return std::move(calls).take_error();
  for (auto& e : *calls) {
    if (auto s = co_await call_request(std::move(e)); !s.ok()) co_return std::move(s).take_error();
    ++handled;
  }
  auto swept = co_await desk_.sweep(++rounds_ % options_.later_every == 0);
  if (!swept.ok()) co_return std::move(swept).take_error();
  co_return handled + *swept;
}

}  // namespace herald::callbacks
