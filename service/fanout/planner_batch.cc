#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <unordered_map>
#include <utility>

#include "channels/channel.h"
#include "service/dispatch/queue.h"
#include "service/events/event_store.h"
#include "service/fanout/ledger.h"
#include "service/fanout/planner.h"
#include "service/store/keys.h"
#include "service/store/touchpoints.h"

namespace herald::fanout {
namespace {

using Clock = std::chrono::system_clock;
// The channels a customer has history marks and invalid-contact marks for, in slot order.
constexpr auto& kAll = kHistoryChannels;

// KEYS: deferred, a hold bitmap or set. ARGV: its name. Drops its member of `deferred` once it
// holds nothing (a set is gone with its last member; a bitmap with no bit set is deleted); a
// planner holding a message until the same moment meanwhile writes both in one transaction,
// so none is left without its member.
constexpr std::string_view kDropEmptyHoldLua = R"lua(
local t = redis.call('TYPE', KEYS[2])['ok']
if t == 'none' or (t == 'string' and redis.call('BITPOS', KEYS[2], 1) < 0) then
  redis.call('DEL', KEYS[2])
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0)lua";

// KEYS: a hold bitmap. ARGV: the byte to start at, 1 to wrap round (the start is then taken
// modulo the length, and the bytes before it follow the end), the bytes to read. Returns the
// offset of the first byte at or after the start holding a set bit and the bytes from there;
// -1 when there is none.
constexpr std::string_view kHeldBitsLua = R"lua(
local len = redis.call('STRLEN', KEYS[1])
local from = tonumber(ARGV[1])
local wrap = ARGV[2] == '1'
if len == 0 or (not wrap and from >= len) then return {-1, ''} end
if wrap then from = from % len end
local p = redis.call('BITPOS', KEYS[1], 1, from)
if p < 0 and wrap and from > 0 then p = redis.call('BITPOS', KEYS[1], 1, 0) end
if p < 0 then return {-1, ''} end
local byte = math.floor(p / 8)
return {byte, redis.call('GETRANGE', KEYS[1], byte, byte + tonumber(ARGV[3]) - 1)}
)lua";
constexpr size_t kHeldBytesPerRead = 512;  // 4,096 customer numbers

// The event, revision and channel of a hold bitmap's key (hold_bits_key).
struct HeldBits {
  std::string event;
  uint32_t revision = 0;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
};
std::optional<HeldBits> parse_hold_bits_key(std::string_view key) {
  key.remove_prefix(kHoldBitsPrefix.size());
  std::array<std::string_view, 3> f;  // due, revision, channel
  for (auto& field : f) {
    const size_t colon = key.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    field = key.substr(0, colon);
    key.remove_prefix(colon + 1);
  }
  HeldBits out;
  int channel = 0;
  const auto number = [](std::string_view text, auto& value) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc() && end == text.data() + text.size();
  };
  if (key.empty() || !number(f[1], out.revision) || out.revision == 0 || !number(f[2], channel) ||
      !v1::Channel_IsValid(channel)) {
    return std::nullopt;
  }
  out.event = std::string(key);
  out.channel = static_cast<v1::Channel>(channel);
  return out;
}

// A chunk's EXEC reply: the transaction ran and none of its commands failed.
Status check_exec(const redis::Reply& exec) {
  if (exec.is_error() || exec.is_nil()) {
    return make_error(ErrorCode::kInternal, "planner transaction failed: " + exec.str);
  }
  for (const auto& r : exec.elements) {
    if (r.is_error()) return make_error(ErrorCode::kInternal, "planner write failed: " + r.str);
  }
  return ok_status();
}

// BITFIELD setting the bits `offsets` of `key` to `value`.
redis::Command bits_command(std::string key, const std::vector<std::string>& offsets,
                            std::string_view value) {
  redis::Command c{"BITFIELD", std::move(key)};
  c.reserve(2 + 4 * offsets.size());
  for (const auto& n : offsets) {
    c.emplace_back("SET");
    c.emplace_back("u1");
    c.push_back(n);
    c.emplace_back(value);
  }
  return c;
}

int64_t ms_of(Time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// A fallback channel counts as chosen for the kind: the customer chose it for some kind.
void choose_for_kind(v1::Customer& c, v1::EventKind kind, v1::Channel ch) {
  auto* choice = c.mutable_preferences()->mutable_channels();
  auto* list = kind == v1::OUTAGE                ? choice->mutable_outage()
               : kind == v1::PLANNED_MAINTENANCE ? choice->mutable_planned_maintenance()
                                                 : choice->mutable_boil_water_advisory();
  list->Add(ch);
}

std::string queued_note(const v1::OutboundMessage& m) {
  std::string note = m.etr_shown().empty() ? "" : "ETR " + m.etr_shown();
  if (m.fallback_from() == v1::CHANNEL_UNSPECIFIED) return note;
  return (note.empty() ? "" : note + "; ") +
         fmt::format("fallback from {}", channels::channel_key(m.fallback_from()));
}

// Fields from `from` on are short digit strings, so the std::sto* below cannot throw.
bool all_digits(const std::vector<std::string>& f, size_t from) {
  return std::all_of(f.begin() + static_cast<long>(from), f.end(), [](const std::string& x) {
    return !x.empty() && x.size() < 19 &&
           std::all_of(x.begin(), x.end(), [](char c) { return c >= '0' && c <= '9'; });
  });
}

}  // namespace

Status Planner::handle(redis::Connection& conn, const v1::Event& event, std::vector<Work>& work,
                       const std::string& done_key, redis::Batch tail, Clock::time_point now,
                       Yield& yield, std::unique_ptr<BatchLoad> loaded, Ahead* next,
                       bool defer_last) {
  const size_t n = work.size();
  if (!loaded) {
    loaded = std::make_unique<BatchLoad>(event, work_nums(work), done_key, legacy_caps_until_);
    if (auto ok = loaded->load(conn, event, sealer_, now); !ok.ok()) return ok;
  }
  const BatchLoad& in = *loaded;
  const std::vector<std::string>& nums = in.texts();  // customer i's number as text
  // The done bits of the customers `which`, set to 1.
  auto set_bits = [&](const std::vector<size_t>& which) {
    std::vector<std::string> offsets;
    offsets.reserve(which.size());
    for (size_t i : which) offsets.push_back(nums[i]);
    return bits_command(done_key, offsets, "1");
  };
  pause(yield);

  // What the connection owes, oldest first: a chunk's transaction, or the next batch's reads or
  // cap reads, sent between this batch's transactions so Redis runs them while this lane
  // composes (docs/architecture.md, "Reading ahead").
  enum class Owed { kChunk, kReads, kCaps };
  std::deque<std::pair<Owed, size_t>> owed;
  // The previous batch's last transaction, left unread (defer_last): received with this
  // batch's first. Without a batch read ahead, load() above has read it already.
  if (const size_t left = conn.take_deferred(); left > 0) owed.emplace_back(Owed::kChunk, left);
  // The next batch's replies, received and not yet taken.
  std::optional<std::pair<Owed, std::vector<redis::Reply>>> stash;
  auto send = [&](const redis::Batch& batch, Owed what) -> Status {
    auto sent = conn.send(batch);
    if (!sent.ok()) return std::move(sent).take_error();
    owed.emplace_back(what, *sent);
    return ok_status();
  };
  // Receives what is owed: the first failed transaction is the error; the next batch's replies
  // go to `stash`. `leave_last`: the last chunk sent, and what was sent after it, stay owed
  // (two chunks in flight), unless something failed: then everything is read, so the
  // connection is in step for whatever uses it next.
  auto receive_owed = [&](bool leave_last = false) -> Status {
    size_t groups = owed.size();
    if (leave_last) {
      while (groups > 0 && owed[groups - 1].first != Owed::kChunk) --groups;
      if (groups > 0) --groups;
    }
    size_t total = 0;
    for (size_t g = 0; g < groups; ++g) total += owed[g].second;
    if (total == 0) {
      owed.erase(owed.begin(), owed.begin() + static_cast<long>(groups));
      return ok_status();
    }
    auto got = conn.receive(total);
    if (!got.ok()) return std::move(got).take_error();
    Status status = ok_status();
    auto at = got->begin();
    for (size_t g = 0; g < groups; ++g) {
      const auto& [what, count] = owed[g];
      const auto end = at + static_cast<long>(count);
      if (what == Owed::kChunk) {
        if (status.ok()) status = check_exec(*(end - 1));
      } else {
        stash.emplace(what, std::vector<redis::Reply>(std::make_move_iterator(at),
                                                      std::make_move_iterator(end)));
      }
      at = end;
    }
    owed.erase(owed.begin(), owed.begin() + static_cast<long>(groups));
    if (!status.ok() && !owed.empty()) {
      size_t rest = 0;
      for (const auto& [what, count] : owed) rest += count;
      owed.clear();
      stash.reset();
      if (auto more = conn.receive(rest); !more.ok()) return std::move(more).take_error();
    }
    return status;
  };
  // Takes what `stash` holds for the next batch, and sends its cap reads once its records are
  // decoded. A failure of the next batch's own is its alone: it is marked failed and dropped.
  auto advance_next = [&]() -> Status {
    if (!stash) return ok_status();
    auto [what, replies] = std::move(*stash);
    stash.reset();
    if (next->failed) return ok_status();
    if (what == Owed::kCaps) {
      next->failed = !next->load->take_caps(replies).ok();
      return ok_status();
    }
    // Read before this batch's transactions: its customers that this batch holds are skipped
    // there, as their done bits were not yet set.
    next->load->skip(in.nums());
    if (!next->load->take_reads(event, std::move(replies), sealer_, now).ok()) {
      next->failed = true;
      return ok_status();
    }
    const redis::Batch caps = next->load->cap_reads();
    return caps.empty() ? ok_status() : send(caps, Owed::kCaps);
  };
  if (next && !next->failed) {
    if (auto ok = send(next->load->reads(), Owed::kReads); !ok.ok()) return ok;
  }

  // What one chunk writes; sent as one MULTI/EXEC.
  struct Chunk {
    redis::Batch tx{redis::cmd("MULTI")};
    std::map<std::string, long long> funnel;
    std::map<uint64_t, redis::Command> hist_writes;  // bucket -> its HSET
    std::map<std::string, redis::Command> caps;      // local day -> its counters' BITFIELD
    std::map<int64_t, std::vector<std::string>> holds;  // due ms -> held fallback members
    // (due ms, channel) -> customer numbers held, bits of one bitmap
    std::map<std::pair<int64_t, v1::Channel>, std::vector<std::string>> held_bits;
    dispatch::EntryBatch queued;  // the chunk's messages, a few to an entry of each stream
    store::TouchpointBatch tps;
    std::vector<size_t> members;
  };
  const size_t per_chunk = std::max<size_t>(options_.chunk, 1);
  // The history mark every message queued here leaves: what this revision told.
  const std::string sent_mark = encode_history_text(history_of(event));
  std::optional<Chunk> chunk;
  // Two chunks at a time are in flight: Redis runs them while the next one is composed, and
  // still has the second when the first's replies are read.
  auto commit = [&](bool last) -> Status {
    Chunk& k = *chunk;
    redis::Batch& tx = k.tx;
    k.queued.flush(tx);
    for (auto& [bucket, write] : k.hist_writes) tx.push_back(std::move(write));
    for (auto& [day, count] : k.caps) {
      redis::Command expire{"EXPIRE", count[1], std::string(kCapTtlSeconds)};
      tx.push_back(std::move(count));
      tx.push_back(std::move(expire));
    }
    // Each bitmap's and set's member of `deferred`, in one ZADD: re-adding one at the same
    // score changes nothing.
    redis::Command deferred{"ZADD", std::string(kDeferredKey)};
    for (const auto& [at, held] : k.held_bits) {
      std::string key = hold_bits_key(at.first, event, at.second);
      tx.push_back(bits_command(key, held, "1"));
      deferred.push_back(std::to_string(at.first));
      deferred.push_back(std::move(key));
    }
    for (auto& [due, members] : k.holds) {
      std::string set = hold_key(due);
      redis::Command add{"SADD", set};
      for (auto& m : members) add.push_back(std::move(m));
      tx.push_back(std::move(add));
      deferred.push_back(std::to_string(due));
      deferred.push_back(std::move(set));
    }
    if (deferred.size() > 2) tx.push_back(std::move(deferred));
    k.tps.flush(tx);
    for (const auto& [field, count] : k.funnel) {
      tx.push_back(
          redis::cmd("HINCRBY", dispatch::funnel_key(event.id()), field, std::to_string(count)));
    }
    if (!done_key.empty() && !k.members.empty()) tx.push_back(set_bits(k.members));
    if (last) {
      for (auto& t : tail) tx.push_back(std::move(t));
    }
    if (tx.size() == 1) return ok_status();  // nothing to write
    tx.push_back(redis::cmd("EXEC"));
    if (auto ok = receive_owed(true); !ok.ok()) return ok;
    pause(yield);
    if (auto ok = send(tx, Owed::kChunk); !ok.ok()) return ok;
    return advance_next();
  };

  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && i % 50 == 0) pause(yield);
    if (!chunk) chunk.emplace();
    Chunk& k = *chunk;
    redis::Batch& tx = k.tx;
    auto& funnel = k.funnel;
    const Work& w = work[i];
    if (in.committed(i)) continue;
    k.members.push_back(i);
    if (!w.deferred.empty()) tx.push_back(unhold_command(w.deferred_set, w.deferred));
    v1::Customer* const customer = in.customer(i);
    if (!customer) {
      ++funnel["erased"];
    } else {
      const bool fallback = w.fallback_from != v1::CHANNEL_UNSPECIFIED;
      if (fallback) choose_for_kind(*customer, event.kind(), w.only);
      const v1::Customer& c = *customer;
      CustomerState s;
      if (!fallback) s.sent_today = in.sent_today(i);
      s.sms_stopped = in.marked(0, i);
      if (in.marked(1, i)) s.sms_stopped_kinds.insert(event.kind());
      for (size_t ch = 0; ch < std::size(kAll); ++ch) {
        if (in.marked(2 + ch, i)) s.invalid_channels.insert(kAll[ch]);
      }
      if (w.deferred.empty()) ++funnel["audience"];

      const auto premises = w.premises.empty() ? premises_in_area(c, event.area()) : w.premises;
      std::vector<v1::Channel> channels = channels_for(c, event.kind());
      if (w.only != v1::CHANNEL_UNSPECIFIED) channels = {w.only};
      if (channels.empty()) ++funnel["not_opted_in"];
      std::optional<templates::Vars> vars;
      bool queued_any = false;
      for (v1::Channel ch : channels) {
        const size_t slot = ch == v1::SMS ? 0 : ch == v1::EMAIL ? 1 : 2;
        const History history = in.history_at(i, slot);
        Decision d = decide(c, event, ch, history, s, now, options_.settings);
        const std::string name(channels::channel_key(ch));
        if (d.action == Action::kQueue) {
          if (!vars) vars = message_vars(c, event, premises, signer_, options_.compose, now);
          auto msg = compose(c, w.num, event, ch, d.priority, *vars, catalog_, sealer_, now);
          if (!msg.ok()) {
            ++funnel[name + ":failed"];
            continue;
          }
          msg->set_fallback_from(w.fallback_from);
          k.queued.add(*msg);
          auto write = k.hist_writes.find(w.num / kHistoryBucket);
          if (write == k.hist_writes.end()) {
            write = k.hist_writes
                        .emplace(w.num / kHistoryBucket,
                                 redis::Command{"HSET", history_key(event.id(), w.num)})
                        .first;
          }
          write->second.push_back(history_field(w.num, ch));
          write->second.push_back(sent_mark);
          add_touchpoint(tx, k.tps, w.num, c, event, ch, "queued", d, queued_note(*msg), now);
          ++funnel[name + ":queued"];
          queued_any = true;
        } else if (d.action == Action::kHold) {
          if (fallback) {
            k.holds[ms_of(d.due)].push_back(fmt::format("{}|{}|{}|{}|{}", event.id(),
                                                        event.revision(), static_cast<int>(ch),
                                                        w.num, static_cast<int>(w.fallback_from)));
          } else {
            k.held_bits[{ms_of(d.due), ch}].push_back(nums[i]);
          }
          add_touchpoint(tx, k.tps, w.num, c, event, ch, "held", d, "", now);
          ++funnel[name + ":held"];
        } else {
          add_touchpoint(tx, k.tps, w.num, c, event, ch, "suppressed", d, "", now);
          ++funnel[fmt::format("{}:suppressed:{}", name, reason_name(d.reason))];
        }
      }
      if (queued_any && counts_toward_cap(event) && !fallback) {
        auto count = k.caps.find(in.day(i));
        if (count == k.caps.end()) {
          // Saturating: a counter stays at 255 rather than wrapping to 0.
          count =
              k.caps
                  .emplace(in.day(i), redis::cmd("BITFIELD", cap_key(in.day(i)), "OVERFLOW", "SAT"))
                  .first;
        }
        count->second.emplace_back("INCRBY");
        count->second.emplace_back(kCapType);
        count->second.push_back(cap_offset(nums[i]));
        count->second.emplace_back("1");
      }
    }
    if (k.members.size() >= per_chunk && i + 1 < n) {
      if (auto ok = commit(false); !ok.ok()) return ok;
      chunk.reset();
    }
  }
  if (!chunk) chunk.emplace();
  if (auto ok = commit(true); !ok.ok()) return ok;
  // Whatever the next batch still owes (its cap reads are sent once its reads are taken), and
  // the last transaction, unless it is left for the connection's next use.
  auto next_owes = [&] {
    return stash || std::any_of(owed.begin(), owed.end(),
                                [](const auto& o) { return o.first != Owed::kChunk; });
  };
  while (next_owes()) {
    if (auto ok = receive_owed(); !ok.ok()) return ok;
    if (auto ok = advance_next(); !ok.ok()) return ok;
  }
  if (defer_last) {
    if (auto ok = receive_owed(true); !ok.ok()) return ok;
  }
  if (defer_last && owed.size() == 1) {
    conn.defer(owed.front().second,
               [](std::vector<redis::Reply> replies) { return check_exec(replies.back()); });
    return ok_status();
  }
  return receive_owed();
}

Result<int> Planner::run_due(redis::Connection& conn, Clock::time_point now, Yield& yield) {
  auto due =
      conn.command(redis::cmd("ZRANGEBYSCORE", kDeferredKey, "-inf", std::to_string(ms_of(now)),
                              "LIMIT", "0", std::to_string(kDuePerPass)));
  if (!due.ok()) return std::move(due).take_error();
  // Members "<event>|<revision>|<channel>|<customer number>", grouped by event revision.
  std::map<std::pair<std::string, uint32_t>, std::vector<Work>> groups;
  // (set, member) pairs that would block the LIMIT window forever.
  std::vector<std::pair<std::string, std::string>> unreadable;
  size_t taken = 0;
  auto take = [&](const std::string& set, const std::string& m) {
    ++taken;
    std::vector<std::string> f;
    size_t start = 0;
    for (size_t bar; (bar = m.find('|', start)) != std::string::npos; start = bar + 1) {
      f.push_back(m.substr(start, bar - start));
    }
    f.push_back(m.substr(start));
    // A fifth field: a dispatcher's fallback.
    if ((f.size() != 4 && f.size() != 5) || !all_digits(f, 1) || f[1] == "0") {
      unreadable.emplace_back(set, m);
      return;
    }
    Work w;
    w.num = std::stoull(f[3]);
    w.only = static_cast<v1::Channel>(std::stoi(f[2]));
    if (f.size() == 5) w.fallback_from = static_cast<v1::Channel>(std::stoi(f[4]));
    w.deferred = m;
    w.deferred_set = set;
    groups[{f[0], static_cast<uint32_t>(std::stoul(f[1]))}].push_back(std::move(w));
  };
  // Drops a hold bitmap or set from `deferred` if it holds nothing.
  auto drop_if_empty = [&](const std::string& key) -> Status {
    auto gone = conn.command(redis::cmd("EVAL", kDropEmptyHoldLua, "2", kDeferredKey, key, key));
    if (!gone.ok()) return std::move(gone).take_error();
    return ok_status();
  };
  // A hold bitmap: its set bits from a random byte on (several processes seldom draw the same).
  auto take_bits = [&](const std::string& key) -> Status {
    const auto held = parse_hold_bits_key(key);
    if (!held) {
      unreadable.emplace_back("", key);
      return ok_status();
    }
    thread_local std::minstd_rand rng{std::random_device{}()};
    // Read as a ring: from the first byte found (`origin`) to the end, then from the start up
    // to `origin`.
    uint64_t start = rng();
    long long origin = -1;
    bool wrapped = false;
    while (taken < kDuePerPass) {
      auto got =
          conn.command(redis::cmd("EVAL", kHeldBitsLua, "1", key, std::to_string(start),
                                  origin < 0 ? "1" : "0", std::to_string(kHeldBytesPerRead)));
      if (!got.ok()) return std::move(got).take_error();
      if (got->is_error() || got->elements.size() != 2) {
        return make_error(ErrorCode::kInternal, "hold bitmap read: " + got->str);
      }
      const long long at = got->elements[0].integer;
      const std::string& bytes = got->elements[1].str;
      if (origin < 0) {
        if (at < 0) return drop_if_empty(key);
        origin = at;
      }
      const bool end = at < 0 || bytes.size() < kHeldBytesPerRead;
      if (wrapped && (at < 0 || at >= origin)) break;  // round to where it began
      const size_t usable = wrapped ? std::min<size_t>(bytes.size(), origin - at) : bytes.size();
      for (size_t b = 0; b < usable && taken < kDuePerPass; ++b) {
        const auto byte = static_cast<unsigned char>(bytes[b]);
        for (int bit = 0; bit < 8 && byte != 0 && taken < kDuePerPass; ++bit) {
          if (!(byte & (0x80 >> bit))) continue;
          ++taken;
          Work w;
          w.num = (static_cast<uint64_t>(at) + b) * 8 + static_cast<uint64_t>(bit);
          w.only = held->channel;
          w.deferred = std::to_string(w.num);
          w.deferred_set = key;
          groups[{held->event, held->revision}].push_back(std::move(w));
        }
      }
      if (end) {
        if (wrapped || origin == 0) break;
        wrapped = true;
        start = 0;
        continue;
      }
      start = static_cast<uint64_t>(at) + bytes.size();
    }
    return ok_status();
  };
  for (const auto& m : due->elements) {
    if (taken >= kDuePerPass) break;
    if (m.str.starts_with(kHoldBitsPrefix)) {
      if (auto ok = take_bits(m.str); !ok.ok()) return std::move(ok).take_error();
      continue;
    }
    if (!m.str.starts_with(kHoldPrefix)) {
      take("", m.str);
      continue;
    }
    // A hold set: some of its members (each is removed by the chunk that plans it), or, once
    // it is empty (Redis deleted it), its own member of `deferred` goes.
    auto some = conn.command(redis::cmd("SRANDMEMBER", m.str, std::to_string(kDuePerPass - taken)));
    if (!some.ok()) return std::move(some).take_error();
    if (some->is_error()) return make_error(ErrorCode::kInternal, "hold set read: " + some->str);
    if (some->elements.empty()) {
      if (auto ok = drop_if_empty(m.str); !ok.ok()) return std::move(ok).take_error();
      continue;
    }
    for (const auto& member : some->elements) take(m.str, member.str);
  }
  if (auto ok = bury_deferred(conn, unreadable, "unreadable deferred member"); !ok.ok()) {
    return std::move(ok).take_error();
  }
  int handled = static_cast<int>(unreadable.size());
  for (auto& [key, work] : groups) {
    auto reads = conn.pipeline(redis::batch(
        redis::cmd("GET", events::event_key(key.first)),
        redis::cmd("LINDEX", events::revisions_key(key.first), std::to_string(key.second - 1))));
    if (!reads.ok()) return std::move(reads).take_error();
    v1::EventState state;
    v1::Event planned;
    if ((*reads)[0].is_nil() || (*reads)[1].is_nil() || !state.ParseFromString((*reads)[0].str) ||
        !planned.ParseFromString((*reads)[1].str)) {
      std::vector<std::pair<std::string, std::string>> members;
      for (const Work& w : work) members.emplace_back(w.deferred_set, w.deferred);
      auto ok = bury_deferred(conn, members, "its event revision is not stored");
      if (!ok.ok()) return std::move(ok).take_error();
      continue;
    }
    // Never stale: a held message a newer revision overtook becomes the current state.
    const v1::Event& send = overtaken(planned, state.event()) ? state.event() : planned;
    if (auto ok = handle(conn, send, work, "", {}, now, yield); !ok.ok()) {
      return std::move(ok).take_error();
    }
    handled += static_cast<int>(work.size());
  }
  return handled;
}

}  // namespace herald::fanout
