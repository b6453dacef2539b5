#include "service/store/customer_store.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <charconv>
#include <unordered_set>

#include "service/store/codec.h"
#include "service/store/keys.h"
#include "service/store/scripts.h"

namespace herald::store {
namespace {

using google::protobuf::util::TimeUtil;
constexpr int kUpdateAttempts = 5;

void append_upsert(std::vector<std::string>& args, const v1::Customer& c,
                   const core::Sealer& sealer, std::string expect) {
  EncodedCustomer e = encode_customer(c, sealer);
  args.push_back("U");
  args.push_back(c.id());
  args.push_back(customer_id_key(c.id()));
  args.push_back(std::move(e.record));
  args.push_back(std::move(e.index));
  args.push_back(std::move(e.geo));
  args.push_back(std::move(expect));
}

Result<PutOutcome> outcome_of(const redis::Reply& r) {
  if (r.type != redis::Reply::Type::kString || r.str.empty()) {
    return make_error(ErrorCode::kInternal, "unexpected reply from the customer script");
  }
  PutOutcome out;
  const char kind = r.str[0];
  if (kind == 'X') return make_error(ErrorCode::kConflict, "customer changed meanwhile");
  if (kind == 'N') return make_error(ErrorCode::kNotFound, "no such customer");
  out.created = kind == 'C';
  std::from_chars(r.str.data() + 1, r.str.data() + r.str.size(), out.created_ms);
  return out;
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
  std::vector<PutOutcome> outcomes;
  outcomes.reserve(customers.size());
  size_t begin = 0;
  while (begin < customers.size()) {
    // The script wants each id once per call: a repeated id starts the next call.
    std::unordered_set<std::string_view> ids;
    size_t end = begin;
    while (end < customers.size() && ids.insert(customers[end].id()).second) ++end;
    std::vector<std::string> args;
    args.reserve(1 + (end - begin) * 7);
    args.push_back(std::to_string(now_ms));
    for (size_t k = begin; k < end; ++k) {
      stamp(customers[k], now_ms);
      append_upsert(args, customers[k], sealer_, "");
    }
    auto reply = co_await customer_batch_script().run(pool_, std::move(args));
    if (!reply.ok()) co_return std::move(reply).take_error();
    if (reply->elements.size() != end - begin) {
      co_return make_error(ErrorCode::kInternal, "customer script answered for the wrong count");
    }
    for (const auto& r : reply->elements) {
      auto o = outcome_of(r);
      if (!o.ok()) co_return std::move(o).take_error();
      outcomes.push_back(*o);
    }
    begin = end;
  }
  co_return outcomes;
}

awaitable<Result<std::optional<CustomerStore::Loaded>>> CustomerStore::load(const std::string& id) {
  auto args = redis::cmd(customer_id_key(id), id);
  auto reply = co_await customer_get_script().run(pool_, std::move(args));
  if (!reply.ok()) co_return std::move(reply).take_error();
  if (reply->is_nil() || reply->elements.size() != 2) co_return std::optional<Loaded>{};
  const std::string& cid = reply->elements[0].str;
  const std::string& record = reply->elements[1].str;
  // cid value: n|created_ms|index-list
  const auto bar1 = cid.find('|');
  const auto bar2 = cid.find('|', bar1 + 1);
  int64_t created_ms = 0;
  if (bar1 != std::string::npos && bar2 != std::string::npos) {
    std::from_chars(cid.data() + bar1 + 1, cid.data() + bar2, created_ms);
  }
  auto customer = decode_customer(id, record, created_ms, sealer_);
  if (!customer.ok()) co_return std::move(customer).take_error();
  co_return Loaded{std::move(*customer), sha1_hex(record)};
}

awaitable<Result<std::optional<v1::Customer>>> CustomerStore::get(std::string id) {
  auto loaded = co_await load(id);
  if (!loaded.ok()) co_return std::move(loaded).take_error();
  if (!loaded->has_value()) co_return std::optional<v1::Customer>{};
  co_return std::optional<v1::Customer>{std::move((*loaded)->customer)};
}

awaitable<Result<bool>> CustomerStore::erase(std::string id) {
  auto reply =
      co_await customer_batch_script().run(pool_, redis::cmd("0", "D", id, customer_id_key(id)));
  if (!reply.ok()) co_return std::move(reply).take_error();
  if (reply->elements.size() != 1) {
    co_return make_error(ErrorCode::kInternal, "unexpected reply from the customer script");
  }
  co_return reply->elements[0].str == "D";
}

awaitable<Result<v1::Customer>> CustomerStore::update(std::string id,
                                                      std::function<Status(v1::Customer&)> change,
                                                      int64_t now_ms) {
  for (int attempt = 0; attempt < kUpdateAttempts; ++attempt) {
    auto loaded = co_await load(id);
    if (!loaded.ok()) co_return std::move(loaded).take_error();
    if (!loaded->has_value()) co_return make_error(ErrorCode::kNotFound, "no customer " + id);
    v1::Customer customer = std::move((*loaded)->customer);
    auto changed = change(customer);
    if (!changed.ok()) co_return std::move(changed).take_error();
    stamp(customer, now_ms);
    std::vector<std::string> args;
    args.push_back(std::to_string(now_ms));
    append_upsert(args, customer, sealer_, (*loaded)->record_sha1);
    auto reply = co_await customer_batch_script().run(pool_, std::move(args));
    if (!reply.ok()) co_return std::move(reply).take_error();
    if (reply->elements.size() != 1) {
      co_return make_error(ErrorCode::kInternal, "unexpected reply from the customer script");
    }
    auto outcome = outcome_of(reply->elements[0]);
    if (outcome.ok()) co_return customer;
    if (outcome.error().code != ErrorCode::kConflict) co_return std::move(outcome).take_error();
  }
  co_return make_error(ErrorCode::kConflict,
                       "customer " + id + " is being changed concurrently; retry");
}

}  // namespace herald::store
