#include "service/journey/reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <tuple>

#include "herald/v1/store.pb.h"
#include "service/store/keys.h"
#include "service/store/touchpoints.h"

namespace herald::journey {
namespace {

Error bad_cursor() { return invalid("cursor", "'cursor' is not one this server gave out"); }

// XRANGE bounds from the filter's times and the cursor. The cursor's own entry is read again
// (it may hold touchpoints after the cursor's); collect() skips what the cursor covers.
std::pair<std::string, std::string> bounds(const Filter& f, const std::optional<StreamId>& after) {
  std::string start = f.since_ms > 0 ? std::to_string(f.since_ms) : "-";
  if (after && StreamId{static_cast<uint64_t>(std::max<int64_t>(f.since_ms, 0)), 0} <= *after) {
    start = after->entry();
  }
  std::string end = f.until_ms > 0 ? std::to_string(f.until_ms) : "+";
  return {start, end};
}

// Where a read stands: touchpoints at or before `after` (or only before it, when `inclusive`)
// were handed out already.
struct Position {
  std::optional<StreamId> after;
  bool inclusive = false;
  bool passed(const StreamId& id) const {
    return !after || (inclusive ? id >= *after : id > *after);
  }
};

// Appends the matching touchpoints of an XRANGE reply (an entry holds one or more: "t" fields,
// each after its "n" in the search copies) until `limit`; returns the last touchpoint looked at.
// With `only`, an entry whose `n` names another customer is passed over (a journey bucket);
// its touchpoints still count towards the ids of the entry.
std::optional<StreamId> collect(const redis::Reply& reply, const Filter& f,
                                const std::string& stream, const Position& from,
                                std::vector<Entry>& out, size_t limit,
                                std::optional<uint64_t> only) {
  std::optional<StreamId> last;
  for (const auto& item : reply.elements) {
    if (item.elements.size() < 2) continue;
    auto id = StreamId::parse(item.elements[0].str);
    if (!id) continue;
    last = id;
    uint64_t num = 0;
    const auto& kv = item.elements[1].elements;
    for (size_t i = 0; i + 1 < kv.size(); i += 2) {
      const std::string& v = kv[i + 1].str;
      if (kv[i].str == "n") {
        num = 0;
        std::from_chars(v.data(), v.data() + v.size(), num);
        continue;
      }
      if (kv[i].str != "t") continue;
      last = id;
      ++id->sub;
      if (only && num != *only) continue;
      if (!from.passed(*last)) continue;
      Entry e;
      e.id = *last;
      e.stream = stream;
      e.num = num;
      if (!e.tp.ParseFromString(v) || !f.matches(e.tp)) continue;
      e.tp.set_id(e.id.str());
      out.push_back(std::move(e));
      if (out.size() == limit) return last;
    }
  }
  return last;
}

struct StreamRead {
  std::vector<Entry> entries;
  std::optional<StreamId> stopped_at;  // set when the stream may hold more after this id
};

awaitable<Result<StreamRead>> read_one(redis::Pool& pool, std::string key, std::string stream,
                                       Filter filter, size_t limit, Position from,
                                       std::optional<uint64_t> only = std::nullopt) {
  StreamRead out;
  auto [start, end] = bounds(filter, from.after);
  const size_t chunk = std::clamp<size_t>(limit * 2, 64, 1000);
  size_t scanned = 0;
  for (;;) {
    auto r = co_await pool.exec(
        redis::batch(redis::cmd("XRANGE", key, start, end, "COUNT", std::to_string(chunk))));
    if (!r.ok()) co_return std::move(r).take_error();
    const redis::Reply& reply = r->front();
    if (reply.is_error()) co_return make_error(ErrorCode::kInternal, "redis: " + reply.str);
    auto last = collect(reply, filter, stream, from, out.entries, limit, only);
    scanned += reply.elements.size();
    if (out.entries.size() == limit) {
      out.stopped_at = out.entries.back().id;
      break;
    }
    if (reply.elements.size() < chunk || !last) break;
    if (scanned >= kMaxScanned) {
      out.stopped_at = last;
      break;
    }
    start = "(" + last->entry();
  }
  co_return out;
}

// Several streams' reads merged into one page in (id, stream) order: at most `limit`
// touchpoints and none past `horizon`, the earliest point where a read stopped with more left
// (that stream may hold touchpoints before those another read found after it). `last` is where
// the next page starts, set when anything is left.
using MergeKey = std::tuple<StreamId, std::string>;
struct Merged {
  std::vector<Entry> entries;
  std::optional<MergeKey> last;
};

void stop_at(std::optional<MergeKey>& horizon, const std::optional<StreamId>& stopped,
             const std::string& stream) {
  if (!stopped) return;
  MergeKey k{*stopped, stream};
  if (!horizon || k < *horizon) horizon = std::move(k);
}

Merged merge_reads(std::vector<Entry> all, const std::optional<MergeKey>& horizon, size_t limit) {
  auto key_of = [](const Entry& e) { return MergeKey{e.id, e.stream}; };
  std::sort(all.begin(), all.end(),
            [&](const Entry& a, const Entry& b) { return key_of(a) < key_of(b); });
  if (horizon) {
    all.erase(
        std::find_if(all.begin(), all.end(), [&](const Entry& e) { return key_of(e) > *horizon; }),
        all.end());
  }
  Merged out;
  const bool more = all.size() > limit || horizon.has_value();
  if (all.size() > limit) all.resize(limit);
  if (more) out.last = all.empty() ? *horizon : key_of(all.back());
  out.entries = std::move(all);
  return out;
}

}  // namespace

awaitable<Result<Page>> read_stream(redis::Pool& pool, std::string key, Filter filter,
                                    PageRequest page) {
  std::optional<StreamId> after;
  if (!page.cursor.empty()) {
    after = StreamId::parse(page.cursor);
    if (!after) co_return bad_cursor();
  }
  auto read = co_await read_one(pool, key, "", filter, page.limit, Position{after, false});
  if (!read.ok()) co_return std::move(read).take_error();
  Page out;
  out.entries = std::move(read->entries);
  if (read->stopped_at) out.next_cursor = read->stopped_at->str();
  co_return out;
}

awaitable<Result<Page>> read_journey(redis::Pool& pool, uint64_t num, Filter filter,
                                     PageRequest page) {
  std::optional<StreamId> after;
  if (!page.cursor.empty()) {
    after = StreamId::parse(page.cursor);
    if (!after) co_return bad_cursor();
  }
  auto own = co_await read_one(pool, store::journey_key(num), "", filter, page.limit,
                               Position{after, false}, num);
  if (!own.ok()) co_return std::move(own).take_error();
  // A journey begun by an earlier release goes on in its own stream until retention or erasure
  // removes it; it holds older touchpoints than the bucket, but the two are merged by id all
  // the same, up to the first id either read stopped at.
  auto old = co_await read_one(pool, store::legacy_journey_key(num), "", std::move(filter),
                               page.limit, Position{after, false});
  if (!old.ok()) co_return std::move(old).take_error();
  std::vector<Entry> all = std::move(old->entries);
  for (auto& e : own->entries) all.push_back(std::move(e));
  std::optional<MergeKey> horizon;
  stop_at(horizon, own->stopped_at, "");
  stop_at(horizon, old->stopped_at, "");
  Merged merged = merge_reads(std::move(all), horizon, page.limit);
  Page out;
  if (merged.last) out.next_cursor = std::get<0>(*merged.last).str();
  out.entries = std::move(merged.entries);
  co_return out;
}

awaitable<Result<Page>> search(redis::Pool& pool, Filter filter, PageRequest page) {
  if (!filter.event.empty()) {
    co_return co_await read_stream(pool, store::event_touchpoints_key(filter.event), filter,
                                   std::move(page));
  }
  std::optional<StreamId> after;
  std::string after_event;
  if (!page.cursor.empty()) {
    const auto tilde = page.cursor.find('~');
    if (tilde == std::string::npos) co_return bad_cursor();
    after = StreamId::parse(std::string_view(page.cursor).substr(0, tilde));
    after_event = page.cursor.substr(tilde + 1);
    if (!after) co_return bad_cursor();
  }
  auto touched = co_await pool.exec(redis::batch(
      redis::cmd("ZRANGE", store::kTouchedEventsKey, "+inf", std::to_string(filter.since_ms),
                 "BYSCORE", "REV", "LIMIT", "0", std::to_string(kMaxMergedEvents))));
  if (!touched.ok()) co_return std::move(touched).take_error();
  std::vector<Entry> all;
  std::optional<MergeKey> horizon;
  for (const auto& ev : touched->front().elements) {
    const bool inclusive = after && ev.str > after_event;
    auto read = co_await read_one(pool, store::event_touchpoints_key(ev.str), ev.str, filter,
                                  page.limit, Position{after, inclusive});
    if (!read.ok()) co_return std::move(read).take_error();
    for (auto& e : read->entries) all.push_back(std::move(e));
    stop_at(horizon, read->stopped_at, ev.str);
  }
  Merged merged = merge_reads(std::move(all), horizon, page.limit);
  Page out;
  if (merged.last) {
    out.next_cursor = std::get<0>(*merged.last).str() + "~" + std::get<1>(*merged.last);
  }
  out.entries = std::move(merged.entries);
  co_return out;
}

awaitable<Status> resolve_customers(redis::Pool& pool, std::vector<Entry>& entries) {
  std::map<uint64_t, std::string> ids;
  for (const auto& e : entries) ids.emplace(e.num, "");
  redis::Batch reads;
  for (const auto& [n, _] : ids) {
    reads.push_back(redis::cmd("HGET", store::record_key(n), store::record_field(n)));
  }
  if (reads.empty()) co_return ok_status();
  auto r = co_await pool.exec(std::move(reads));
  if (!r.ok()) co_return std::move(r).take_error();
  size_t i = 0;
  for (auto& [n, id] : ids) {
    v1::CustomerRecord record;
    const auto& reply = (*r)[i++];
    if (reply.type == redis::Reply::Type::kString && record.ParseFromString(reply.str) &&
        !record.customer().id().empty()) {
      id = record.customer().id();
    } else {
      id = fmt::format("anon-{:x}", n);
    }
  }
  for (auto& e : entries) e.tp.set_customer_id(ids[e.num]);
  co_return ok_status();
}

}  // namespace herald::journey
