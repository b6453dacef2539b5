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
  // One script run for the whole batch; one outcome per customer, in order.
  awaitable<Result<std::vector<PutOutcome>>> put_batch(std::vector<v1::Customer> customers,
                                                       int64_t now_ms);
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
  // Creates the customers that do not exist yet (one INCRBY, a pipeline of claims, one
  // MULTI/EXEC): one mark each, 'C' created, 'R' exists. A created customer's message is moved
  // into its record: only the others are left as they were.
  awaitable<Result<std::string>> create_batch(std::span<v1::Customer> customers, int64_t now_ms);
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
