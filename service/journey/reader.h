#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "herald/v1/touchpoint.pb.h"
#include "service/common/net.h"
#include "service/common/result.h"
#include "service/journey/filter.h"
#include "service/journey/stream_id.h"
#include "service/redis/pool.h"

namespace herald::journey {

struct Entry {
  StreamId id;
  std::string stream;  // the event id for search copies, empty in a journey
  uint64_t num = 0;    // the customer number (search copies only)
  v1::Touchpoint tp;
};

struct Page {
  std::vector<Entry> entries;
  std::string next_cursor;  // empty when nothing is left
};

// Entries read per request at most: a sparse filter gives a short page with a cursor.
inline constexpr size_t kMaxScanned = 5000;

// One page of a stream (te:{e}) in id order, after `cursor` (a stream id).
awaitable<Result<Page>> read_stream(redis::Pool& pool, std::string key, Filter filter,
                                    PageRequest page);

// One page of customer `num`'s journey: its entries of its bucket (tjb:{n/16}) and, merged by
// id, of a journey stream an earlier release wrote (tj:{n}).
awaitable<Result<Page>> read_journey(redis::Pool& pool, uint64_t num, Filter filter,
                                     PageRequest page);

// Search: one event's copies, or (no event in the filter) the events touched since `since`
// merged by (id, event); cursor "<id>~<event>".
awaitable<Result<Page>> search(redis::Pool& pool, Filter filter, PageRequest page);

// Customer ids for the entries' numbers, from the records; "anon-<hex>" for erased ones.
awaitable<Status> resolve_customers(redis::Pool& pool, std::vector<Entry>& entries);

inline constexpr size_t kMaxMergedEvents = 200;

}  // namespace herald::journey
