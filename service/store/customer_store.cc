#include "service/store/customer_store.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <charconv>
#include <map>
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
  std::string old_index = base ? index_list(base->customer) : std::string();
  // A preferences change leaves premises and locations alone: no GEOADD for it.
  if (base && old_index == e.index && geo_list(base->customer) == e.geo) e.geo = "=";
  args.push_back("U");
  args.push_back(c.id());
  args.push_back(customer_id_key(c.id()));
  args.push_back(std::move(e.record));
  args.push_back(std::move(e.index));
  args.push_back(std::move(e.geo));
  args.push_back(base ? base->record_sha1 : std::string());
  args.push_back(std::move(old_index));
}

// A coordinate as Redis reads it from the text the scripts send to GEOADD.
double as_sent(double degrees) {
  const std::string text = geo_text(degrees);
  double value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
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
  auto prepared = co_await prepare_batch(std::move(customers), now_ms);
  if (!prepared.ok()) co_return std::move(prepared).take_error();
  co_return co_await put_prepared(std::move(*prepared));
}

size_t CustomerStore::segment_end(const std::vector<v1::Customer>& customers, size_t begin) {
  std::unordered_set<std::string_view> ids;
  size_t end = begin;
  while (end < customers.size() && ids.insert(customers[end].id()).second) ++end;
  return end;
}

awaitable<Result<CustomerStore::Prepared>> CustomerStore::prepare_batch(
    std::vector<v1::Customer> customers, int64_t now_ms, bool expect_new) {
  Prepared batch;
  batch.customers_ = std::move(customers);
  batch.now_ms_ = now_ms;
  // A single customer (a PUT) goes to the general script at once: it creates one as well.
  if (const size_t end = segment_end(batch.customers_, 0); end > 1) {
    if (auto ok = co_await prepare_create(batch, end, expect_new); !ok.ok()) co_return ok.error();
  }
  co_return batch;
}

awaitable<Status> CustomerStore::prepare_create(Prepared& batch, size_t end, bool build) {
  const auto count = static_cast<int64_t>(end);
  auto taken = co_await pool_.exec(
      redis::batch(redis::cmd("INCRBY", std::string(kCustomerSeqKey), std::to_string(count))));
  if (!taken.ok()) co_return std::move(taken).take_error();
  if (taken->front().type != redis::Reply::Type::kInteger) {
    co_return make_error(ErrorCode::kInternal,
                         "unexpected reply to INCRBY " + std::string(kCustomerSeqKey));
  }
  batch.end_ = end;
  batch.first_ = static_cast<uint64_t>(taken->front().integer - count + 1);
  batch.claims_.reserve(end);
  for (size_t k = 0; k < end; ++k) {
    const v1::Customer& c = batch.customers_[k];
    batch.claims_.push_back(
        redis::cmd("HSETNX", customer_id_key(c.id()), c.id(), std::to_string(batch.first_ + k)));
  }
  if (build) {
    batch.built_ = true;
    batch.writes_ =
        build_create(std::span<v1::Customer>(batch.customers_.data(), end), std::string(end, 'C'),
                     batch.first_, batch.now_ms_, &batch.records_);
  }
  co_return ok_status();
}

awaitable<Result<std::string>> CustomerStore::create_run(Prepared& batch, size_t begin,
                                                         size_t end) {
  if (begin == 0) co_return co_await create_prepared(batch);  // prepared by prepare_batch
  Prepared run;  // a later run (an id repeated in the batch): prepared now
  run.customers_.assign(std::make_move_iterator(batch.customers_.begin() + begin),
                        std::make_move_iterator(batch.customers_.begin() + end));
  run.now_ms_ = batch.now_ms_;
  if (auto ok = co_await prepare_create(run, end - begin, false); !ok.ok()) co_return ok.error();
  auto marks = co_await create_prepared(run);
  std::move(run.customers_.begin(), run.customers_.end(), batch.customers_.begin() + begin);
  co_return marks;
}

awaitable<Result<std::vector<PutOutcome>>> CustomerStore::put_prepared(Prepared batch) {
  std::vector<v1::Customer>& customers = batch.customers_;
  const int64_t now_ms = batch.now_ms_;
  std::vector<PutOutcome> outcomes(customers.size());
  size_t begin = 0;
  while (begin < customers.size()) {
    // The scripts want each id once per call: a repeated id starts the next call.
    // (The prepared run's customers are in their records already: its end is kept.)
    const size_t end = begin == 0 && batch.end_ > 0 ? batch.end_ : segment_end(customers, begin);
    // A run of several customers is first created (create_run): the ids it could claim
    // are stored; those that exist are read and sent with the record they replace through the
    // general script, as is any customer changed meanwhile ('X').
    struct Pending {
      size_t at;
      bool read = false;  // read it before the next attempt
      std::optional<Loaded> base;
    };
    std::vector<Pending> pending;
    if (end - begin > 1) {
      auto marks = co_await create_run(batch, begin, end);
      if (!marks.ok()) co_return std::move(marks).take_error();
      for (size_t k = begin; k < end; ++k) {
        const char mark = (*marks)[k - begin];
        if (mark == 'C') {
          outcomes[k] = {true, now_ms};
        } else {
          pending.push_back({k, mark == 'R', std::nullopt});
        }
      }
    } else {
      for (size_t k = begin; k < end; ++k) pending.push_back({k, false, std::nullopt});
    }
    std::vector<v1::Customer> general;  // for the contact index: those written below
    if (contacts_) {
      for (const Pending& p : pending) general.push_back(customers[p.at]);
    }
    for (int attempt = 0; !pending.empty(); ++attempt) {
      if (attempt == kUpdateAttempts) {
        co_return make_error(ErrorCode::kConflict,
                             "customer " + customers[pending.front().at].id() +
                                 " is being changed concurrently; retry");
      }
      std::vector<std::string> reread;
      for (const Pending& p : pending) {
        if (p.read) reread.push_back(customers[p.at].id());
      }
      if (!reread.empty()) {
        auto loaded = co_await load_many(reread);
        if (!loaded.ok()) co_return std::move(loaded).take_error();
        size_t j = 0;
        for (Pending& p : pending) {
          if (p.read) p.base = std::move((*loaded)[j++]);  // nullopt when erased meanwhile
        }
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
      bool lost = false;
      for (size_t k = 0; k < pending.size(); ++k) {
        auto o = outcome_of(reply->elements[k]);
        if (!o.ok()) co_return std::move(o).take_error();
        const Pending& p = pending[k];
        if (*o == 'C') {
          outcomes[p.at] = {true, now_ms};
        } else if (*o == 'U') {
          outcomes[p.at] = {false, created_ms_of(p.base->customer)};
        } else {
          // 'R' or 'X': read it (again); 'N': erased since it was read, so store it as new.
          again.push_back({p.at, *o != 'N', std::nullopt});
          lost = lost || *o == 'X';
        }
      }
      if (lost) co_await back_off(attempt);
      pending = std::move(again);
    }
    if (!general.empty()) {
      auto indexed = co_await contacts_->stored(pool_, general);
      if (!indexed.ok()) co_return std::move(indexed).take_error();
    }
    begin = end;
  }
  co_return outcomes;
}

awaitable<Result<std::string>> CustomerStore::create_prepared(Prepared& batch) {
  // Each id is claimed with HSETNX (a pipeline), then the claimed customers are written in one
  // MULTI/EXEC of plain commands grouped by key (no Lua). A crash between the claims and the
  // EXEC leaves ids mapped to numbers without a record: readers take those for absent, and the
  // batch script creates such a customer at its claimed number (docs/architecture.md).
  const size_t count = batch.end_;
  auto claimed = co_await pool_.exec(std::move(batch.claims_));
  if (!claimed.ok()) co_return std::move(claimed).take_error();
  std::string marks(count, 'R');
  for (size_t k = 0; k < count; ++k) {
    const redis::Reply& r = (*claimed)[k];
    if (r.type != redis::Reply::Type::kInteger) {
      co_return make_error(ErrorCode::kInternal, "unexpected reply to HSETNX: " + r.str);
    }
    if (r.integer == 1) marks[k] = 'C';
  }
  const std::span<v1::Customer> run(batch.customers_.data(), count);
  if (!batch.built_) {
    batch.writes_ = build_create(run, marks, batch.first_, batch.now_ms_, nullptr);
  } else if (marks.find('R') != std::string::npos) {
    // Some exist already (a re-import): every message comes back from its record, and the
    // writes are built again for the claimed ones only.
    for (size_t k = 0; k < count; ++k) {
      auto back = decode_record(batch.records_[k], sealer_);
      if (!back.ok()) co_return std::move(back).take_error();
      batch.customers_[k] = std::move(*back);
    }
    batch.writes_ = build_create(run, marks, batch.first_, batch.now_ms_, nullptr);
  }
  batch.records_.clear();
  if (batch.writes_.empty()) co_return marks;
  const size_t commands = batch.writes_.size();
  auto done = co_await pool_.exec(std::move(batch.writes_));
  if (!done.ok()) co_return std::move(done).take_error();
  const redis::Reply& exec = done->back();
  if (exec.is_error() || exec.is_nil() || exec.elements.size() != commands - 2) {
    co_return make_error(ErrorCode::kInternal, "customer create transaction failed: " + exec.str);
  }
  for (const redis::Reply& r : exec.elements) {
    if (r.is_error())
      co_return make_error(ErrorCode::kInternal, "customer create failed: " + r.str);
  }
  co_return marks;
}

redis::Batch CustomerStore::build_create(std::span<v1::Customer> customers, std::string_view marks,
                                         uint64_t first, int64_t now_ms,
                                         std::vector<std::string>* records) const {
  if (records) records->resize(customers.size());
  std::map<std::string, std::vector<std::string>> sets, buckets, geo, phones, premises;
  for (size_t k = 0; k < customers.size(); ++k) {
    if (marks[k] != 'C') continue;
    v1::Customer& c = customers[k];
    const uint64_t n = first + k;
    const std::string num = std::to_string(n);
    stamp(c, now_ms);
    for (int j = 0; j < c.premises_size(); ++j) {
      const v1::Premise& p = c.premises(j);
      auto& at = premises[premise_key(p.id())];
      at.push_back(premise_field(p.id(), num));
      at.emplace_back();
      if (!p.feeder().empty()) sets[feeder_key(p.feeder(), index_slice(n))].push_back(num);
      if (!p.transformer().empty()) sets[transformer_key(p.transformer())].push_back(num);
      if (!p.zip().empty()) sets[zip_key(p.zip(), index_slice(n))].push_back(num);
      if (p.has_location()) {
        const GeoCell at = geo_cell(p.location().lat(), p.location().lon());
        sets[geo_block_key(geo_block(at))].push_back(std::to_string(geo_block_member(at)));
        // A ZADD with the score GEOADD would compute from the text the scripts send.
        auto& cell = geo[geo_cell_key(at)];
        cell.push_back(
            std::to_string(geo_score(as_sent(p.location().lon()), as_sent(p.location().lat()))));
        cell.push_back(fmt::format("{}.{}", n, j));
      }
    }
    if (contacts_ && !c.phone().empty()) {
      inbound::ContactIndex::Slot slot = contacts_->phone_slot(c.phone());
      auto& fields = phones[std::move(slot.key)];
      fields.push_back(std::move(slot.field));
      fields.push_back(c.id());
    }
    auto& bucket = buckets[record_key(n)];
    bucket.push_back(record_field(n));
    bucket.push_back(encode_record(std::move(c), sealer_, now_ms));  // c is not read again
    if (records) (*records)[k] = bucket.back();
  }
  redis::Batch tx;
  if (buckets.empty()) return tx;
  tx.push_back(redis::cmd("MULTI"));
  auto group = [&tx](std::string_view verb, const std::string& key,
                     std::vector<std::string>& items) {
    redis::Command c;
    c.reserve(items.size() + 2);
    c.emplace_back(verb);
    c.push_back(key);
    for (auto& item : items) c.push_back(std::move(item));
    tx.push_back(std::move(c));
  };
  for (auto& [key, fields] : buckets) group("HSET", key, fields);
  for (auto& [key, members] : sets) group("SADD", key, members);
  for (auto& [key, items] : geo) group("ZADD", key, items);
  for (auto& [key, fields] : phones) group("HSET", key, fields);
  for (auto& [key, fields] : premises) group("HSET", key, fields);
  tx.push_back(redis::cmd("EXEC"));
  return tx;
}

awaitable<Result<std::vector<std::optional<CustomerStore::Loaded>>>> CustomerStore::load_many(
    const std::vector<std::string>& ids, bool for_write) {
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
    if (n.is_nil() || record.str.empty()) {  // no id, or one claimed by a create cut short
      out.emplace_back();
      continue;
    }
    uint64_t num = 0;
    std::from_chars(n.str.data(), n.str.data() + n.str.size(), num);
    auto customer = decode_customer(ids[k], record.str, sealer_);
    if (!customer.ok()) co_return std::move(customer).take_error();
    out.push_back(Loaded{std::move(*customer), for_write ? sha1_hex(record.str) : std::string(), num});
  }
  co_return out;
}

awaitable<Result<std::optional<CustomerStore::Loaded>>> CustomerStore::load(const std::string& id,
                                                                          bool for_write) {
  const std::vector<std::string> one{id};
  auto loaded = co_await load_many(one, for_write);
  if (!loaded.ok()) co_return std::move(loaded).take_error();
  co_return std::move(loaded->front());
}

awaitable<Result<std::optional<v1::Customer>>> CustomerStore::get(std::string id) {
  auto loaded = co_await load(id, false);
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
    std::string id, std::function<Status(v1::Customer&)> change, int64_t now_ms, Then then) {
  for (int attempt = 0; attempt < kUpdateAttempts; ++attempt) {
    auto loaded = co_await load(id);
    if (!loaded.ok()) co_return std::move(loaded).take_error();
    if (!loaded->has_value()) co_return make_error(ErrorCode::kNotFound, "no customer " + id);
    v1::Customer customer = (*loaded)->customer;
    auto changed = change(customer);
    if (!changed.ok()) co_return std::move(changed).take_error();
    stamp(customer, now_ms);
    const Loaded& base = **loaded;
    // Nothing the customer is indexed by changes (premises, locations): only the record is
    // replaced, by the smaller script.
    const bool swap = index_list(base.customer) == index_list(customer) &&
                      geo_list(base.customer) == geo_list(customer);
    std::vector<std::string> args;
    if (swap) {
      args = {record_key(base.num), record_field(base.num), base.record_sha1,
              encode_record(customer, sealer_, created_ms_of(base.customer))};
    } else {
      append_upsert(args, customer, sealer_, &base, now_ms);
    }
    if (then) {
      for (redis::Command& c : then(customer, base.num)) {
        args.push_back("T");
        args.push_back(std::to_string(c.size()));
        for (std::string& a : c) args.push_back(std::move(a));
      }
    }
    const Script& script = swap ? record_swap_script() : customer_batch_script();
    auto reply = co_await script.run(pool_, std::move(args));
    if (!reply.ok()) co_return std::move(reply).take_error();
    auto o = swap ? outcome_of(*reply) : single_outcome(*reply);
    if (!o.ok()) co_return std::move(o).take_error();
    if (*o == 'N') co_return make_error(ErrorCode::kNotFound, "no customer " + id);
    if (*o != 'U') {  // changed (or erased) since it was read
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
