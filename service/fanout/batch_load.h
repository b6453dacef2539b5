#pragma once

#include <google/protobuf/arena.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "herald/v1/customer.pb.h"
#include "herald/v1/event.pb.h"
#include "service/common/result.h"
#include "service/core/crypto.h"
#include "service/fanout/decide.h"
#include "service/redis/connection.h"

namespace herald::fanout {

// Where a batch's history marks are read: one HMGET per bucket among the customers, in the
// order the buckets first appear, then one HMGET of the legacy hash for all of them. Each
// customer's fields are kHistoryChannels', in a row.
struct HistoryLayout {
  explicit HistoryLayout(const std::vector<uint64_t>& nums);

  std::vector<uint64_t> buckets;                // a customer number of each bucket
  std::vector<size_t> fields;                   // fields each bucket's HMGET asks for
  std::vector<std::pair<uint32_t, size_t>> at;  // per customer: its bucket, its first field
};

// What the planner knows of a batch's customers before deciding: their records (decoded, on an
// arena freed with the batch), history marks, opt-out and invalid-contact marks, done bits and
// today's counts toward the daily cap. Loaded in two round trips, reads() and then, once
// take_reads() has decoded the records, cap_reads() (empty when no cap can apply), so a lane
// can load the next batch while it writes the current one (docs/architecture.md, "Reading
// ahead"): the caller sends each batch when it likes and hands back its replies in order.
class BatchLoad {
 public:
  // `done_key`, for audience batches: the bitmap of customers already committed (read, to skip
  // them). Empty for held and fallback messages. `legacy_caps_until`: legacy_caps_until()'s
  // answer, the last local day whose cap counts earlier releases' hashes may hold.
  BatchLoad(const v1::Event& event, std::vector<uint64_t> nums, std::string done_key,
            std::string legacy_caps_until);
  BatchLoad(const BatchLoad&) = delete;
  BatchLoad& operator=(const BatchLoad&) = delete;

  // Each customer's record, then one command per batch for the history marks (when the event
  // can have any for them), each opt-out or invalid-contact set and, with a done key, the done
  // bits. Customer i's record reply is at i.
  redis::Batch reads() const;
  // The replies to reads(), checked; decodes the records of the customers not committed.
  // `event` is the one the load was made for.
  Status take_reads(const v1::Event& event, std::vector<redis::Reply> replies,
                    const core::Sealer& sealer, Time now);
  // After take_reads(): one BITFIELD_RO of each local day's counters among the customers
  // whose cap can apply (none for an EMERGENCY revision) and, for a day up to
  // legacy_caps_until, one HMGET of each earlier release's hash holding them. Empty: nothing to
  // read, and the load is complete.
  redis::Batch cap_reads() const;
  Status take_caps(const std::vector<redis::Reply>& replies);
  // Loads synchronously: both round trips on `conn`.
  Status load(redis::Connection& conn, const v1::Event& event, const core::Sealer& sealer,
              Time now);

  // Customer i is left as it is: its chunk was committed (its done bit), or the batch written
  // before this one's reads were answered holds it (skip()).
  bool committed(size_t i) const { return skipped_[i] || (with_done_ && marked(kDoneSet, i)); }
  // Customers that the batch `nums` holds too are skipped: it was read before that batch wrote.
  void skip(const std::vector<uint64_t>& nums);
  // Set `set` of the order reads() asks (0, 1: STOP of every kind, of this kind; 2-4: invalid
  // contacts of kHistoryChannels' order; 5: done bits) holds customer i.
  bool marked(size_t set, size_t i) const {
    return replies_[sets_at_ + set].elements[i].integer == 1;
  }
  // Customer i's history mark for the channel in `slot` (kHistoryChannels' order), if read.
  History history_at(size_t i, size_t slot) const;
  // Null: erased, or committed (not decoded).
  v1::Customer* customer(size_t i) const { return customers_[i]; }
  const std::string& day(size_t i) const { return days_[i]; }
  int sent_today(size_t i) const { return sent_today_[i]; }
  size_t size() const { return nums_.size(); }
  const std::vector<uint64_t>& nums() const { return nums_; }
  const std::vector<std::string>& texts() const { return texts_; }  // nums() as text

  static constexpr size_t kDoneSet = 5;

 private:
  std::string event_id_;
  v1::EventKind kind_;
  bool read_history_;
  bool with_done_;
  std::string done_key_;
  std::vector<uint64_t> nums_;
  std::vector<std::string> texts_;  // nums_ as text
  std::optional<HistoryLayout> layout_;
  std::vector<redis::Reply> replies_;
  size_t legacy_at_ = 0;
  size_t sets_at_ = 0;
  std::vector<bool> skipped_;
  google::protobuf::Arena arena_;
  std::vector<v1::Customer*> customers_;
  std::vector<std::string> days_;
  std::string legacy_caps_until_;
  // The customers whose cap can apply, by their local day, and by the keys of earlier
  // releases' hashes that may hold counts of theirs.
  std::map<std::string, std::vector<size_t>> by_day_, by_legacy_;
  std::vector<int> sent_today_;
};

}  // namespace herald::fanout
