#include "service/journey/complaints.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <charconv>
#include <map>

#include "herald/v1/store.pb.h"
#include "service/journey/report.h"
#include "service/store/keys.h"

namespace herald::journey {
namespace {

using google::protobuf::util::TimeUtil;

struct InboxEntry {
  std::string id;
  uint64_t num = 0;
  int64_t at_ms = 0;
  std::string sealed;
};

InboxEntry parse_entry(const redis::Reply& item) {
  InboxEntry e;
  e.id = item.elements[0].str;
  const auto& kv = item.elements[1].elements;
  for (size_t i = 0; i + 1 < kv.size(); i += 2) {
    const std::string& v = kv[i + 1].str;
    if (kv[i].str == "n") std::from_chars(v.data(), v.data() + v.size(), e.num);
    if (kv[i].str == "at") std::from_chars(v.data(), v.data() + v.size(), e.at_ms);
    if (kv[i].str == "text") e.sealed = v;
  }
  return e;
}

void append_items(const redis::Reply& list, std::vector<InboxEntry>& out) {
  for (const auto& item : list.elements) {
    if (item.elements.size() >= 2) out.push_back(parse_entry(item));
  }
}

Status check(const Result<std::vector<redis::Reply>>& r) {
  if (!r.ok()) return r.error();
  for (const auto& x : *r) {
    if (x.is_error()) return make_error(ErrorCode::kUnavailable, "redis: " + x.str);
  }
  return ok_status();
}

// The inbound side seals with the customer number as associated data; older entries had none.
std::optional<std::string> open_text(const core::Sealer& sealer, const InboxEntry& e) {
  if (auto t = sealer.open(e.sealed, std::to_string(e.num)); t.ok()) return std::move(*t);
  if (auto t = sealer.open(e.sealed); t.ok()) return std::move(*t);
  return std::nullopt;
}

// The record, the open and all-time indexes, the touchpoint and the ack, in one transaction;
// the id comes from the inbox entry, so a replay after a crash finds it filed.
Status file_complaint(redis::Connection& conn, const core::Sealer& sealer, const InboxEntry& e,
                      const std::string& text, const std::string& keyword) {
  const std::string id = "CMP-" + e.id;
  auto reads = conn.pipeline(
      redis::batch(redis::cmd("HEXISTS", kComplaintsKey, id),
                   redis::cmd("HGET", store::last_event_key(e.num), std::to_string(e.num))));
  if (auto ok = check(reads); !ok.ok()) return ok;
  redis::Batch tx;
  tx.push_back(redis::cmd("MULTI"));
  if ((*reads)[0].integer == 0) {
    v1::Complaint c;
    c.set_id(id);
    c.set_customer_number(e.num);
    *c.mutable_at() = TimeUtil::MillisecondsToTimestamp(e.at_ms);
    c.set_sealed_text(sealer.seal(text, id));
    c.set_keyword(keyword);
    c.set_event_id((*reads)[1].str);
    c.set_status("open");
    tx.push_back(redis::cmd("HSET", kComplaintsKey, id, c.SerializeAsString()));
    tx.push_back(redis::cmd("ZADD", kComplaintsOpenKey, std::to_string(e.at_ms), id));
    tx.push_back(redis::cmd("ZADD", kComplaintsAllKey, std::to_string(e.at_ms), id));
    v1::Touchpoint tp;
    tp.set_kind(v1::COMPLAINT);
    *tp.mutable_at() = c.at();
    tp.set_event_id(c.event_id());
    tp.set_channel(v1::SMS);
    tp.set_status("open");
    tp.set_reason("keyword");  // the word itself is a piece of what the customer wrote
    tp.set_detail(id);
    store::append_touchpoint(tx, e.num, tp);
  }
  tx.push_back(redis::cmd("XACK", kInboxKey, kComplaintsGroup, e.id));
  tx.push_back(redis::cmd("EXEC"));
  return check(conn.pipeline(tx));
}

double quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::max(1.0, std::ceil(q * static_cast<double>(v.size()))));
  return v[rank - 1];
}

}  // namespace

Result<IntakeCounts> take_inbox(redis::Connection& conn, const core::Sealer& sealer,
                                const KeywordMatcher& matcher, const std::string& consumer,
                                std::chrono::milliseconds block) {
  (void)conn.command(redis::cmd("XGROUP", "CREATE", kInboxKey, kComplaintsGroup, "0", "MKSTREAM"));
  std::vector<InboxEntry> entries;
  auto claimed = conn.command(redis::cmd("XAUTOCLAIM", kInboxKey, kComplaintsGroup, consumer,
                                         "60000", "0-0", "COUNT", "100"));
  if (!claimed.ok()) return std::move(claimed).take_error();
  if (claimed->elements.size() >= 2) append_items(claimed->elements[1], entries);
  if (entries.empty()) {
    auto fresh = conn.command(redis::cmd("XREADGROUP", "GROUP", kComplaintsGroup, consumer,
                                         "COUNT", "100", "BLOCK", std::to_string(block.count()),
                                         "STREAMS", kInboxKey, ">"));
    if (!fresh.ok()) return std::move(fresh).take_error();
    if (fresh->is_error()) return make_error(ErrorCode::kUnavailable, "redis: " + fresh->str);
    for (const auto& stream : fresh->elements) {
      if (stream.elements.size() >= 2) append_items(stream.elements[1], entries);
    }
  }
  IntakeCounts counts;
  for (const auto& e : entries) {
    ++counts.read;
    auto text = open_text(sealer, e);
    std::optional<std::string> keyword;
    if (text) keyword = matcher.match(*text);
    if (!text) ++counts.unreadable;
    if (keyword) {
      if (auto ok = file_complaint(conn, sealer, e, *text, *keyword); !ok.ok()) {
        return std::move(ok).take_error();  // left pending: claimed again later
      }
      ++counts.flagged;
      continue;
    }
    (void)conn.command(redis::cmd("XACK", kInboxKey, kComplaintsGroup, e.id));
  }
  return counts;
}

awaitable<Result<v1::ComplaintList>> list_complaints(redis::Pool& pool, const core::Sealer& sealer,
                                                     bool open, bool with_text,
                                                     size_t limit) {
  const std::string_view index = open ? kComplaintsOpenKey : kComplaintsResolvedKey;
  auto ids = co_await pool.exec(
      redis::batch(redis::cmd("ZRANGE", index, "0", std::to_string(limit - 1))));
  if (!ids.ok()) co_return std::move(ids).take_error();
  v1::ComplaintList out;
  if (ids->front().elements.empty()) co_return out;
  redis::Command get = redis::cmd("HMGET", kComplaintsKey);
  for (const auto& id : ids->front().elements) get.push_back(id.str);
  auto got = co_await pool.exec(redis::batch(std::move(get)));
  if (!got.ok()) co_return std::move(got).take_error();
  std::vector<uint64_t> nums;
  for (const auto& r : got->front().elements) {
    v1::Complaint c;
    if (r.type != redis::Reply::Type::kString || !c.ParseFromString(r.str)) continue;
    if (with_text && !c.sealed_text().empty()) {
      if (auto t = sealer.open(c.sealed_text(), c.id()); t.ok()) c.set_text(*t);
    }
    c.clear_sealed_text();
    if (!with_text) c.clear_keyword();  // the matched word is a piece of what was written
    nums.push_back(c.customer_number());
    *out.add_complaints() = std::move(c);
  }
  redis::Batch records;
  for (uint64_t n : nums) {
    records.push_back(redis::cmd("HGET", store::record_key(n), store::record_field(n)));
  }
  auto recs = co_await pool.exec(std::move(records));
  if (!recs.ok()) co_return std::move(recs).take_error();
  for (int i = 0; i < out.complaints_size(); ++i) {
    v1::CustomerRecord record;
    auto* c = out.mutable_complaints(i);
    const auto& r = (*recs)[static_cast<size_t>(i)];
    const bool known = r.type == redis::Reply::Type::kString && record.ParseFromString(r.str);
    c->set_customer_id(known ? record.customer().id()
                             : fmt::format("anon-{:x}", c->customer_number()));
    c->clear_customer_number();
  }
  co_return out;
}

awaitable<Result<v1::Complaint>> resolve_complaint(redis::Pool& pool, std::string id,
                                                   std::string note, int64_t now_ms) {
  auto got = co_await pool.exec(redis::batch(redis::cmd("HGET", kComplaintsKey, id)));
  if (!got.ok()) co_return std::move(got).take_error();
  v1::Complaint c;
  if (got->front().type != redis::Reply::Type::kString || !c.ParseFromString(got->front().str)) {
    co_return make_error(ErrorCode::kNotFound, "no complaint " + id);
  }
  // Removing it from the open index decides which of two concurrent resolutions wins.
  auto claimed = co_await pool.exec(redis::batch(redis::cmd("ZREM", kComplaintsOpenKey, id)));
  if (!claimed.ok()) co_return std::move(claimed).take_error();
  if (claimed->front().integer == 0) {
    co_return make_error(ErrorCode::kConflict, "complaint " + id + " is resolved already");
  }
  c.set_status("resolved");
  c.set_note(std::move(note));
  *c.mutable_resolved_at() = TimeUtil::MillisecondsToTimestamp(now_ms);
  c.set_resolution_s(static_cast<double>(now_ms - TimeUtil::TimestampToMilliseconds(c.at())) /
                     1000.0);
  v1::Touchpoint tp;
  tp.set_kind(v1::COMPLAINT);
  *tp.mutable_at() = c.resolved_at();
  tp.set_event_id(c.event_id());
  tp.set_status("resolved");
  tp.set_reason("keyword");
  tp.set_detail(id);
  redis::Batch tx = redis::batch(redis::cmd("MULTI"),
                                 redis::cmd("HSET", kComplaintsKey, id, c.SerializeAsString()),
                                 redis::cmd("ZADD", kComplaintsResolvedKey,
                                            std::to_string(now_ms), id));
  store::append_touchpoint(tx, c.customer_number(), tp);
  tx.push_back(redis::cmd("EXEC"));
  auto done = co_await pool.exec(std::move(tx));
  if (!done.ok()) co_return std::move(done).take_error();
  c.clear_sealed_text();
  c.clear_customer_number();
  co_return c;
}

awaitable<Result<v1::ComplaintReport>> complaint_summary(redis::Pool& pool,
                                                         const redis::Reply& resolved_ids) {
  v1::ComplaintReport out;
  if (resolved_ids.elements.empty()) co_return out;
  redis::Command get = redis::cmd("HMGET", kComplaintsKey);
  for (const auto& id : resolved_ids.elements) get.push_back(id.str);
  auto got = co_await pool.exec(redis::batch(std::move(get)));
  if (!got.ok()) co_return std::move(got).take_error();
  std::vector<double> secs;
  double sum = 0;
  for (const auto& r : got->front().elements) {
    v1::Complaint c;
    if (r.type != redis::Reply::Type::kString || !c.ParseFromString(r.str)) continue;
    secs.push_back(c.resolution_s());
    sum += c.resolution_s();
  }
  out.set_resolved(static_cast<int64_t>(secs.size()));
  if (!secs.empty()) out.set_resolution_mean_s(sum / static_cast<double>(secs.size()));
  out.set_resolution_p50_s(quantile(secs, 0.5));
  out.set_resolution_p90_s(quantile(secs, 0.9));
  co_return out;
}

}  // namespace herald::journey
