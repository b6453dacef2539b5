#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "herald/v1/customer.pb.h"
#include "service/common/net.h"
#include "service/common/result.h"
#include "service/core/crypto.h"
#include "service/inbound/contact_index.h"
#include "service/redis/pool.h"

namespace herald::store {

struct PutOutcome {
  bool created = false;
  int64_t created_ms = 0;
};

// Customers and their indexes in Redis (layout in docs/architecture.md).
// Callers validate first; the store only encodes, seals and writes.
class CustomerStore {
 public:
  CustomerStore(redis::Pool& pool, const core::Sealer& sealer) : pool_(pool), sealer_(sealer) {}

  // Kept up to date after every write and erase from then on (the webhooks' phone lookup).
  void set_contact_index(const inbound::ContactIndex* index) { contacts_ = index; }

  awaitable<Result<PutOutcome>> put(v1::Customer customer, int64_t now_ms);
  // One outcome per customer, in order: prepare_batch, then put_prepared.
  awaitable<Result<std::vector<PutOutcome>>> put_batch(std::vector<v1::Customer> customers,
                                                       int64_t now_ms);

  // A batch made ready to store: the numbers of the customers believed new are taken and their
  // claims and writes are built, so that storing it is two round trips with nothing to compute
  // between them. An import prepares a batch while Redis stores the one before it. Nothing is
  // written to Redis but the number sequence, so a prepared batch may be dropped.
  class Prepared {
   public:
    Prepared() = default;
    Prepared(Prepared&&) noexcept = default;
    Prepared& operator=(Prepared&&) noexcept = default;
    size_t size() const { return customers_.size(); }

   private:
    friend class CustomerStore;
    std::vector<v1::Customer> customers_;  // those of the create moved into records_
    size_t end_ = 0;                       // customers_[0, end_) go through the create path
    uint64_t first_ = 0;                   // the number of customers_[0]
    int64_t now_ms_ = 0;
    bool built_ = false;                // writes_ built before the claims
    std::vector<std::string> records_;  // customers_[k]'s record, for k < end_, when built_
    redis::Batch claims_;               // HSETNX of each id in [0, end_)
    redis::Batch writes_;               // MULTI ... EXEC creating all of [0, end_)
  };
  // expect_new: build the writes now (else only once the claims have answered). A batch whose
  // customers exist is stored faster without (a re-import): it would decode them back.
  awaitable<Result<Prepared>> prepare_batch(std::vector<v1::Customer> customers, int64_t now_ms,
                                            bool expect_new = true);
  awaitable<Result<std::vector<PutOutcome>>> put_prepared(Prepared batch);
  awaitable<Result<std::optional<v1::Customer>>> get(std::string id);
  awaitable<Result<bool>> erase(std::string id);  // false: there was no such customer
  // Read, change, write back unless someone changed it meanwhile (then read again).
  // kNotFound when there is no such customer; errors from `change` are passed on.
  struct Updated {
    v1::Customer customer;  // as stored now
    uint64_t num = 0;       // the internal number
  };
  // `then`: writes that belong to the change (a journey touchpoint), made in the same script run
  // as the change and only if it is made.
  using Then = std::function<redis::Batch(const v1::Customer& changed, uint64_t num)>;
  awaitable<Result<Updated>> update(std::string id, std::function<Status(v1::Customer&)> change,
                                    int64_t now_ms, Then then = {});

  // A stored customer as read, with what a write that replaces it must name.
  struct Loaded {
    v1::Customer customer;    // created_at set from the record
    std::string record_sha1;  // of the record bytes read (empty when read only to answer)
    uint64_t num = 0;         // the internal number
  };

 private:
  // The end of the run of customers from `begin` in which no id repeats (the scripts want each
  // id once per call).
  static size_t segment_end(const std::vector<v1::Customer>& customers, size_t begin);
  // Takes numbers for customers[0, end) and builds their claims, and their writes if `build`.
  awaitable<Status> prepare_create(Prepared& batch, size_t end, bool build);
  // create_prepared for customers[begin, end) of the batch: the first run was prepared by
  // prepare_batch, a later one (after a repeated id) is prepared here.
  awaitable<Result<std::string>> create_run(Prepared& batch, size_t begin, size_t end);
  // Creates the prepared customers that do not exist yet (the claims, then the writes): one mark
  // each, 'C' created, 'R' exists. Every message not created is left in (or, when the writes
  // were built beforehand, decoded back into) batch.customers_.
  awaitable<Result<std::string>> create_prepared(Prepared& batch);
  // Builds the MULTI/EXEC that creates every customers[k] marked 'C' at number first + k, one
  // command per key, and moves their messages into their records (a copy of each record into
  // `records` when given).
  redis::Batch build_create(std::span<v1::Customer> customers, std::string_view marks,
                            uint64_t first, int64_t now_ms,
                            std::vector<std::string>* records) const;
  // for_write: with the record's SHA-1, which a write that replaces it must name.
  awaitable<Result<std::optional<Loaded>>> load(const std::string& id, bool for_write = true);
  // One script run; nullopt for an id that is not stored.
  awaitable<Result<std::vector<std::optional<Loaded>>>> load_many(
      const std::vector<std::string>& ids, bool for_write = true);

  redis::Pool& pool_;
  const core::Sealer& sealer_;
  const inbound::ContactIndex* contacts_ = nullptr;
};

}  // namespace herald::store
