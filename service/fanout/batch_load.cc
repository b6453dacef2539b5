#include "service/fanout/batch_load.h"

#include <fmt/format.h>

#include <charconv>
#include <unordered_map>
#include <unordered_set>

#include "channels/channel.h"
#include "service/fanout/ledger.h"
#include "service/store/keys.h"

namespace herald::fanout {
namespace {

constexpr std::string_view kStopAll = "stop:sms";
// The channels a customer has history marks and invalid-contact marks for, in slot order.
constexpr auto& kAll = kHistoryChannels;
// reads()' commands after the records: the history HMGETs (when read_history_) and five
// SMISMEMBER (two STOP sets, three invalid-contact sets); the done bits' BITFIELD follows when
// there is a done key.
constexpr size_t kSetReads = 5;

std::string stop_key(v1::EventKind kind) {
  return fmt::format("stop:sms:{}", v1::EventKind_Name(kind));
}

google::protobuf::ArenaOptions arena_options() {
  // Decoding a record is a few dozen allocations: on the arena each is a pointer bump, and the
  // batch's customers are freed at once.
  google::protobuf::ArenaOptions o;
  o.start_block_size = 64 << 10;
  o.max_block_size = 256 << 10;
  return o;
}

}  // namespace

HistoryLayout::HistoryLayout(const std::vector<uint64_t>& nums) {
  std::unordered_map<uint64_t, uint32_t> index;
  at.reserve(nums.size());
  for (uint64_t num : nums) {
    auto [it, fresh] = index.try_emplace(num / kHistoryBucket, buckets.size());
    if (fresh) {
      buckets.push_back(num);
      fields.push_back(0);
    }
    at.emplace_back(it->second, fields[it->second]);
    fields[it->second] += std::size(kAll);
  }
}

// Whether the reads include the customers' history marks for the event. An audience batch of
// an event's first revision has none to find: marks are written only by this event's planning,
// each in the transaction that sets its customer's done bit, and a customer whose bit is set
// is skipped. A batch holds a customer once, a part's batches follow one another on one
// connection (each reads the done bits its predecessors' transactions set, or skips the
// customers of the one batch still being written when it was read), and parts share no
// customer. Held and fallback messages (no done key) and later revisions read them.
BatchLoad::BatchLoad(const v1::Event& event, std::vector<uint64_t> nums, std::string done_key,
                     std::string legacy_caps_until)
    : event_id_(event.id()),
      kind_(event.kind()),
      read_history_(done_key.empty() || event.revision() > 1),
      with_done_(!done_key.empty()),
      done_key_(std::move(done_key)),
      nums_(std::move(nums)),
      skipped_(nums_.size(), false),
      arena_(arena_options()),
      customers_(nums_.size(), nullptr),
      days_(nums_.size()),
      legacy_caps_until_(std::move(legacy_caps_until)),
      sent_today_(nums_.size(), 0) {
  texts_.reserve(nums_.size());
  for (uint64_t num : nums_) texts_.push_back(std::to_string(num));
  if (read_history_) layout_.emplace(nums_);
  const size_t n = nums_.size();
  legacy_at_ = n + (layout_ ? layout_->buckets.size() : 0);
  sets_at_ = legacy_at_ + (layout_ ? 1 : 0);  // the first SMISMEMBER's reply
}

redis::Batch BatchLoad::reads() const {
  auto members_of = [&](std::string verb, std::string key) {
    redis::Command c{std::move(verb), std::move(key)};
    c.insert(c.end(), texts_.begin(), texts_.end());
    return c;
  };
  redis::Batch reads;
  reads.reserve(nums_.size() + kSetReads + 2 + (layout_ ? layout_->buckets.size() : 0));
  for (uint64_t num : nums_) {
    reads.push_back(redis::cmd("HGET", store::record_key(num), store::record_field(num)));
  }
  if (layout_) {
    const size_t first = reads.size();
    for (uint64_t num : layout_->buckets) {
      reads.push_back(redis::cmd("HMGET", history_key(event_id_, num)));
    }
    redis::Command legacy{"HMGET", legacy_history_key(event_id_)};
    for (size_t k = 0; k < nums_.size(); ++k) {
      add_history_fields(reads[first + layout_->at[k].first], nums_[k]);
      add_history_fields(legacy, nums_[k]);
    }
    reads.push_back(std::move(legacy));
  }
  reads.push_back(members_of("SMISMEMBER", std::string(kStopAll)));
  reads.push_back(members_of("SMISMEMBER", stop_key(kind_)));
  for (v1::Channel ch : kAll) {  // marked by bounces and refused sends (invalid_contact)
    reads.push_back(members_of("SMISMEMBER", fmt::format("invalid:{}", channels::channel_key(ch))));
  }
  if (with_done_) {
    redis::Command bits{"BITFIELD", done_key_};
    for (const auto& t : texts_) {
      bits.emplace_back("GET");
      bits.emplace_back("u1");
      bits.push_back(t);
    }
    reads.push_back(std::move(bits));
  }
  return reads;
}

Status BatchLoad::take_reads(const v1::Event& event, std::vector<redis::Reply> replies,
                             const core::Sealer& sealer, Time now) {
  const size_t n = nums_.size();
  const size_t expected = sets_at_ + kSetReads + (with_done_ ? 1 : 0);
  if (replies.size() != expected) {
    return make_error(ErrorCode::kInternal, "planner read failed: odd reply count");
  }
  for (size_t k = n; k < replies.size(); ++k) {
    const redis::Reply& r = replies[k];
    const size_t want = k >= sets_at_     ? n
                        : k == legacy_at_ ? std::size(kAll) * n
                                          : layout_->fields[k - n];
    if (r.is_error() || r.elements.size() != want) {
      return make_error(ErrorCode::kInternal, "planner read failed: " + r.str);
    }
  }
  replies_ = std::move(replies);
  for (size_t i = 0; i < n; ++i) {
    if (committed(i)) continue;
    customers_[i] = customer_from(replies_[i], sealer, arena_);
    if (!customers_[i]) continue;
    days_[i] = local_day(*customers_[i], now);
    if (!cap_may_apply(*customers_[i], event)) continue;
    by_day_[days_[i]].push_back(i);
    if (days_[i] <= legacy_caps_until_) {  // ISO days compare as text; "" is before any
      by_legacy_[bucket_cap_key(days_[i], nums_[i])].push_back(i);
      by_legacy_[legacy_cap_key(days_[i])].push_back(i);
    }
  }
  return ok_status();
}

redis::Batch BatchLoad::cap_reads() const {
  redis::Batch reads;
  for (const auto& [day, which] : by_day_) {
    redis::Command c{"BITFIELD_RO", cap_key(day)};
    c.reserve(2 + 3 * which.size());
    for (size_t i : which) {
      c.emplace_back("GET");
      c.emplace_back(kCapType);
      c.push_back(cap_offset(texts_[i]));
    }
    reads.push_back(std::move(c));
  }
  for (const auto& [key, which] : by_legacy_) {
    redis::Command c{"HMGET", key};
    for (size_t i : which) c.push_back(texts_[i]);
    reads.push_back(std::move(c));
  }
  return reads;
}

Status BatchLoad::take_caps(const std::vector<redis::Reply>& replies) {
  size_t d = 0;
  for (const auto* keys : {&by_day_, &by_legacy_}) {
    for (const auto& [key, which] : *keys) {
      if (d >= replies.size() || replies[d].elements.size() != which.size()) {
        return make_error(ErrorCode::kInternal,
                          "planner cap read failed: " + (d < replies.size() ? replies[d].str : ""));
      }
      const redis::Reply& r = replies[d++];
      for (size_t k = 0; k < which.size(); ++k) {
        const redis::Reply& v = r.elements[k];
        long long count = 0;
        if (v.type == redis::Reply::Type::kInteger) {  // BITFIELD_RO: the byte, 0 if unset
          count = v.integer;
        } else if (v.type == redis::Reply::Type::kString) {  // HMGET: the field, if set
          std::from_chars(v.str.data(), v.str.data() + v.str.size(), count);
        }
        sent_today_[which[k]] += static_cast<int>(count);
      }
    }
  }
  return ok_status();
}

Status BatchLoad::load(redis::Connection& conn, const v1::Event& event, const core::Sealer& sealer,
                       Time now) {
  auto got = conn.pipeline(reads());
  if (!got.ok()) return std::move(got).take_error();
  if (auto ok = take_reads(event, std::move(*got), sealer, now); !ok.ok()) return ok;
  const redis::Batch caps = cap_reads();
  if (caps.empty()) return ok_status();
  auto counts = conn.pipeline(caps);
  if (!counts.ok()) return std::move(counts).take_error();
  return take_caps(*counts);
}

void BatchLoad::skip(const std::vector<uint64_t>& nums) {
  const std::unordered_set<uint64_t> written(nums.begin(), nums.end());
  for (size_t i = 0; i < nums_.size(); ++i) {
    if (written.contains(nums_[i])) skipped_[i] = true;
  }
}

History BatchLoad::history_at(size_t i, size_t slot) const {
  if (!layout_) return History{};
  const auto [bucket, first] = layout_->at[i];
  return later_mark(history_in(replies_[nums_.size() + bucket], first + slot),
                    history_in(replies_[legacy_at_], std::size(kAll) * i + slot));
}

}  // namespace herald::fanout
