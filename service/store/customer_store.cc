#include "service/store/customer_store.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <charconv>
#include <random>
#include <unordered_set>

#include "service/store/codec.h"
#include "service/store/keys.h"
#include "service/store/scripts.h"
#include "service/store/touchpoints.h"

namespace herald::store {
namespace {

using google::protobuf::util::TimeUtil;
constexpr int kUpdateAttempts = 12;

// After a lost compare-and-set: a short random pause, growing with the attempt, so that
// writers of one customer stop colliding (a PUT must not fail because others write too).
awaitable<void> back_off(int attempt) {
  static thread_local std::minstd_rand rng{std::random_device{}()};
  const unsigned cap_us = std::min(200u << std::min(attempt, 7), 20000u);
  net::steady_timer pause(co_await net::this_coro::executor,
                          std::chrono::microseconds(rng() % cap_us));
  co_await pause.async_wait(use_awaitable);
}

int64_t created_ms_of(const v1::Customer& stored) {
  return TimeUtil::TimestampToMilliseconds(stored.created_at());
}

// base: the stored customer this write replaces (nullptr: believed new).
void append_upsert(std::vector<std::string>& args, const v1::Customer& c,
                   const core::Sealer& sealer, const CustomerStore::Loaded* base,
                   int64_t now_ms) {
  EncodedCustomer e = encode_customer(c, sealer, base ? created_ms_of(base->customer) : now_ms);
  args.push_back("U");
  args.push_back(c.id());
  args.push_back(customer_id_key(c.id()));
  args.push_back(std::move(e.record));
  args.push_back(std::move(e.index));
  args.push_back(std::move(e.geo));
  args.push_back(base ? base->record_sha1 : std::string());
  args.push_back(base ? index_list(base->customer) : std::string());
}

Result<char> outcome_of(const redis::Reply& r) {
  if (r.type != redis::Reply::Type::kString || r.str.size() != 1) {
    return make_error(ErrorCode::kInternal, "unexpected reply from the customer script");
  }
  return r.str[0];
}

Result<char> single_outcome(const redis::Reply& r) {
  if (r.elements.size() != 1) {
    return make_error(ErrorCode::kInternal, "unexpected reply from the customer script");
  }
  return outcome_of(r.elements[0]);
}

void stamp(v1::Customer& c, int64_t now_ms) {
  *c.mutable_updated_at() = TimeUtil::MillisecondsToTimestamp(now_ms);
}

}  // namespace

awaitable<Result<PutOutcome>> CustomerStore::put(v1::Customer customer, int64_t now_ms) {
  std::vector<v1::Customer> one;
  one.push_back(std::move(customer));
  auto batch = co_await put_batch(std::move(one), now_ms);
  if (!batch.ok()) co_return std::move(batch).take_error();
  co_return batch->front();
}

awaitable<Result<std::vector<PutOutcome>>> CustomerStore::put_batch(
    std::vector<v1::Customer> customers, int64_t now_ms) {
  std::vector<PutOutcome> outcomes(customers.size());
  size_t begin = 0;
  while (begin < customers.size()) {
    // The script wants each id once per call: a repeated id starts the next call.
    std::unordered_set<std::string_view> ids;
    size_t end = begin;
    while (end < customers.size() && ids.insert(customers[end].id()).second) ++end;
    // Every customer is first sent as new; one that exists comes back 'R' and is sent again
    // with the record it replaces, as is one changed meanwhile ('X').
    struct Pending {
      size_t at;
      std::optional<Loaded> base;
    };
    std::vector<Pending> pending;
    for (size_t k = begin; k < end; ++k) pending.push_back({k, std::nullopt});
    for (int attempt = 0; !pending.empty(); ++attempt) {
      if (attempt == kUpdateAttempts) {
        co_return make_error(ErrorCode::kConflict,
                             "customer " + customers[pending.front().at].id() +
                                 " is being changed concurrently; retry");
      }
      std::vector<std::string> args;
      args.reserve(pending.size() * 8);
      for (const Pending& p : pending) {
        stamp(customers[p.at], now_ms);
        append_upsert(args, customers[p.at], sealer_, p.base ? &*p.base : nullptr, now_ms);
      }
      auto reply = co_await customer_batch_script().run(pool_, std::move(args));
      if (!reply.ok()) co_return std::move(reply).take_error();
      if (reply->elements.size() != pending.size()) {
        co_return make_error(ErrorCode::kInternal, "customer script answered for the wrong count");
      }
      std::vector<Pending> again;
      std::vector<std::string> reread;
      bool lost = false;
      for (size_t k = 0; k < pending.size(); ++k) {
        auto o = outcome_of(reply->elements[k]);
        if (!o.ok()) co_return std::move(o).take_error();
        const Pending& p = pending[k];
        if (*o == 'C') {
          outcomes[p.at] = {true, now_ms};
          continue;
        }
        if (*o == 'U') {
          outcomes[p.at] = {false, created_ms_of(p.base->customer)};
          continue;
        }
        // 'R' or 'X': read it (again); 'N': erased since it was read, so store it as new.
        if (*o != 'N') reread.push_back(customers[p.at].id());
        lost = lost || *o == 'X';
        again.push_back({p.at, std::nullopt});
      }
      if (lost) co_await back_off(attempt);
      if (!reread.empty()) {
        auto loaded = co_await load_many(reread);
        if (!loaded.ok()) co_return std::move(loaded).take_error();
        size_t j = 0;
        for (Pending& p : again) {
          if (j < reread.size() && customers[p.at].id() == reread[j]) {
            p.base = std::move((*loaded)[j++]);  // nullopt when erased meanwhile
          }
        }
      }
      pending = std::move(again);
    }
    if (contacts_) {
      auto indexed = co_await contacts_->stored(
          pool_, std::span<const v1::Customer>(customers.data() + begin, end - begin));
      if (!indexed.ok()) co_return std::move(indexed).take_error();
    }
    begin = end;
  }
  co_return outcomes;
}

awaitable<Result<std::vector<std::optional<CustomerStore::Loaded>>>> CustomerStore::load_many(
    const std::vector<std::string>& ids) {
  std::vector<std::string> args;
  args.reserve(ids.size() * 2);
  for (const std::string& id : ids) {
    args.push_back(customer_id_key(id));
    args.push_back(id);
  }
  auto reply = co_await customer_get_script().run(pool_, std::move(args));
  if (!reply.ok()) co_return std::move(reply).take_error();
  if (reply->elements.size() != ids.size() * 2) {
    co_return make_error(ErrorCode::kInternal, "customer read script answered for the wrong count");
  }
  std::vector<std::optional<Loaded>> out;
  out.reserve(ids.size());
  for (size_t k = 0; k < ids.size(); ++k) {
    const redis::Reply& n = reply->elements[2 * k];
    const redis::Reply& record = reply->elements[2 * k + 1];
    if (n.is_nil()) {
      out.emplace_back();
      continue;
    }
    uint64_t num = 0;
    std::from_chars(n.str.data(), n.str.data() + n.str.size(), num);
    auto customer = decode_customer(ids[k], record.str, sealer_);
    if (!customer.ok()) co_return std::move(customer).take_error();
    out.push_back(Loaded{std::move(*customer), sha1_hex(record.str), num});
  }
  co_return out;
}

awaitable<Result<std::optional<CustomerStore::Loaded>>> CustomerStore::load(const std::string& id) {
  const std::vector<std::string> one{id};
  auto loaded = co_await load_many(one);
  if (!loaded.ok()) co_return std::move(loaded).take_error();
  co_return std::move(loaded->front());
}

awaitable<Result<std::optional<v1::Customer>>> CustomerStore::get(std::string id) {
  auto loaded = co_await load(id);
  if (!loaded.ok()) co_return std::move(loaded).take_error();
  if (!loaded->has_value()) co_return std::optional<v1::Customer>{};
  co_return std::optional<v1::Customer>{std::move((*loaded)->customer)};
}

awaitable<Result<bool>> CustomerStore::erase(std::string id) {
  for (int attempt = 0; attempt < kUpdateAttempts; ++attempt) {
    auto loaded = co_await load(id);
    if (!loaded.ok()) co_return std::move(loaded).take_error();
    if (!loaded->has_value()) co_return false;
    const Loaded& before = **loaded;
    auto reply = co_await customer_batch_script().run(
        pool_, redis::cmd("D", id, customer_id_key(id), before.record_sha1,
                          index_list(before.customer)));
    if (!reply.ok()) co_return std::move(reply).take_error();
    auto o = single_outcome(*reply);
    if (!o.ok()) co_return std::move(o).take_error();
    if (*o == 'N') co_return false;
    if (*o != 'D') {  // changed since it was read
      co_await back_off(attempt);
      continue;
    }
    if (contacts_) {
      if (auto s = co_await contacts_->erased(pool_, before.customer); !s.ok()) co_return s.error();
    }
    // The number is gone once the script has run; the touchpoints are found by it.
    if (before.num > 0) {
      auto forgotten = co_await erase_touchpoints(pool_, before.num);
      if (!forgotten.ok()) co_return std::move(forgotten).take_error();
    }
    co_return true;
  }
  co_return make_error(ErrorCode::kConflict,
                       "customer " + id + " is being changed concurrently; retry");
}

awaitable<Result<CustomerStore::Updated>> CustomerStore::update(
    std::string id, std::function<Status(v1::Customer&)> change, int64_t now_ms) {
  for (int attempt = 0; attempt < kUpdateAttempts; ++attempt) {
    auto loaded = co_await load(id);
    if (!loaded.ok()) co_return std::move(loaded).take_error();
    if (!loaded->has_value()) co_return make_error(ErrorCode::kNotFound, "no customer " + id);
    v1::Customer customer = (*loaded)->customer;
    auto changed = change(customer);
    if (!changed.ok()) co_return std::move(changed).take_error();
    stamp(customer, now_ms);
    std::vector<std::string> args;
    append_upsert(args, customer, sealer_, &**loaded, now_ms);
    auto reply = co_await customer_batch_script().run(pool_, std::move(args));
    if (!reply.ok()) co_return std::move(reply).take_error();
    auto o = single_outcome(*reply);
    if (!o.ok()) co_return std::move(o).take_error();
    if (*o == 'N') co_return make_error(ErrorCode::kNotFound, "no customer " + id);
    if (*o != 'U') {  // changed since it was read
      co_await back_off(attempt);
      continue;
    }
    const v1::Customer& before = (*loaded)->customer;
    if (contacts_ && (customer.phone() != before.phone() || customer.email() != before.email())) {
      auto indexed = co_await contacts_->stored(pool_, std::span<const v1::Customer>(&customer, 1));
      if (!indexed.ok()) co_return std::move(indexed).take_error();
    }
    co_return Updated{std::move(customer), (*loaded)->num};
  }
  co_return make_error(ErrorCode::kConflict,
                       "customer " + id + " is being changed concurrently; retry");
}

}  // namespace herald::store
