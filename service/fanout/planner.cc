#include "service/fanout/planner.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "herald/v1/store.pb.h"
#include "service/common/thread_name.h"
#include "service/common/thread_nice.h"
#include "service/dispatch/queue.h"
#include "service/events/event_store.h"
#include "service/events/intake.h"
#include "service/fanout/ledger.h"
#include "service/fanout/reminder.h"
#include "service/store/keys.h"

namespace herald::fanout {
namespace {

using Clock = std::chrono::system_clock;
constexpr std::string_view kIntake = events::kIntakeKey;
constexpr auto kDueEvery = std::chrono::milliseconds(100);  // due work and reminders, lane 0
constexpr size_t kRemindersPerRound = 20;

// KEYS: intake. ARGV: group, entry id, consumer. Resets the entry's idle time if the consumer
// still owns it (1), else changes nothing (0: taken over, acknowledged or deleted).
constexpr std::string_view kKeepAliveLua = R"lua(
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 1 and p[1][2] == ARGV[3] then
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
  return 1
end
return 0)lua";

std::string cursor_key(const std::string& event_id, uint32_t revision) {
  return fmt::format("plan:{{{}}}:{}", event_id, revision);
}
std::string seen_key(const std::string& event_id, uint32_t revision) {
  return fmt::format("seen:{{{}}}:{}", event_id, revision);
}
// A part's own cursor; the revision's cursor (cursor_key) says "done" once every part is.
std::string part_cursor_key(const std::string& event_id, uint32_t revision, uint32_t index) {
  return fmt::format("{}:s{}", cursor_key(event_id, revision), index);
}

constexpr uint32_t kMaxParts = 64;

// KEYS: intake, plan:{id}:<rev>:parts. ARGV: parts, event id, revision, urgent ('1'/'0'),
// block. Records the split ("<parts>:<block>") and adds the intake entries of parts 1.. only if
// no earlier run of this entry did; returns the split the revision has ("<parts>" alone if an
// earlier release split it: block 1).
constexpr std::string_view kSplitLua = R"lua(
if redis.call('SET', KEYS[2], ARGV[1] .. ':' .. ARGV[5], 'NX') then
  for s = 1, tonumber(ARGV[1]) - 1 do
    local entry = {'event', ARGV[2], 'revision', ARGV[3], 'shard', tostring(s), 'shards', ARGV[1],
                   'block', ARGV[5]}
    if ARGV[4] == '1' then entry[#entry + 1], entry[#entry + 2] = 'urgent', '1' end
    redis.call('XADD', KEYS[1], '*', unpack(entry))
  end
end
return redis.call('GET', KEYS[2])
)lua";

// The parts marker's value, "<parts>[:<block>]", as a part 0.
AudiencePart part_zero(std::string_view marker) {
  AudiencePart part;
  const char* end = marker.data() + marker.size();
  auto [at, ec] = std::from_chars(marker.data(), end, part.of);
  if (ec != std::errc{}) return {};
  if (at != end && *at == ':') std::from_chars(at + 1, end, part.block);
  if (part.of < 2 || part.of > kMaxParts || part.block == 0) return {};
  return part;
}

// KEYS: intake, the part's cursor, plan:..:finished, plan:{id}:<rev>, plan:..:parts, seen,
// seen:..:done, funnel. ARGV: group, entry id, part index, parts, count a skipped revision
// ('1'/'0'), cursor base, seen base. A part done; the last one also ends the revision. (`seen`
// and `<seen>:last:<s>` are only written by an earlier release's audience claims.)
constexpr std::string_view kPartDoneLua = R"lua(
redis.call('SET', KEYS[2], 'done')
redis.call('SADD', KEYS[3], ARGV[3])
if ARGV[5] == '1' then redis.call('HINCRBY', KEYS[8], 'revisions_skipped', 1) end
local parts = tonumber(ARGV[4])
if redis.call('SCARD', KEYS[3]) >= parts then
  redis.call('SET', KEYS[4], 'done')
  local gone = {KEYS[3], KEYS[5], KEYS[6], KEYS[7]}
  for s = 0, parts - 1 do
    gone[#gone + 1] = ARGV[6] .. ':s' .. s
    gone[#gone + 1] = ARGV[7] .. ':last:' .. s
  end
  redis.call('DEL', unpack(gone))
end
return redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
)lua";

// A polygon or circle spanning this many top GEO tiles (about 8 km by 8 km) is split whatever
// its estimate: counting its premises would cost round trips on an urgent event's path.
constexpr size_t kLargeGeoTiles = 16;

// The entries of an XREADGROUP or XAUTOCLAIM reply.
void collect(const redis::Reply& reply, bool autoclaim, std::vector<redis::Reply>& out) {
  if (autoclaim) {
    if (reply.elements.size() >= 2) {
      for (const auto& e : reply.elements[1].elements) out.push_back(e);
    }
    return;
  }
  for (const auto& stream : reply.elements) {
    if (stream.elements.size() < 2) continue;
    for (const auto& e : stream.elements[1].elements) out.push_back(e);
  }
}

// "id event=.. revision=..": what a dead letter says the entry was.
std::string describe(const redis::Reply& entry) {
  std::string text = entry.elements.empty() ? "" : entry.elements[0].str;
  if (entry.elements.size() < 2) return text;
  const auto& kv = entry.elements[1].elements;
  for (size_t i = 0; i + 1 < kv.size(); i += 2) {
    text += fmt::format(" {}={}", kv[i].str, kv[i + 1].str);
  }
  return text;
}

}  // namespace

Planner::Planner(redis::Endpoint endpoint, const core::Sealer& sealer,
                 const core::TokenSigner& signer, const templates::Catalog& catalog,
                 PlannerOptions options)
    : endpoint_(std::move(endpoint)),
      sealer_(sealer),
      signer_(signer),
      catalog_(catalog),
      options_(std::move(options)),
      gate_(options_.gate ? options_.gate : std::make_shared<PriorityGate>()) {}

Planner::~Planner() { stop(); }

void Planner::start() {
  bulk_nice_ = 0;
  if (options_.bulk_nice > 0) {
    if (ThreadNice::can_be_restored(options_.bulk_nice)) {
      spdlog::info("planner: bulk batches are planned at nice {}", options_.bulk_nice);
      bulk_nice_ = options_.bulk_nice;
    } else {
      spdlog::warn(
          "planner: bulk batches are planned at the process's nice value, not {}: a lane could "
          "not return for urgent work without CAP_SYS_NICE or RLIMIT_NICE 20 (systemd: "
          "LimitNICE=+0)",
          options_.bulk_nice);
    }
  }
  for (int i = 0; i < std::max(1, options_.lanes); ++i) threads_.emplace_back([this, i] {
      name_this_thread("plan-" + std::to_string(i));
      loop(i);
    });
}

void Planner::stop() {
  stopping_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Planner::loop(int index) {
  const std::string consumer = fmt::format("{}-{}", options_.consumer, index);
  auto last_due = std::chrono::steady_clock::time_point{};
  auto last_housekeeping = std::chrono::steady_clock::now();
  while (!stopping_) {
    auto conn = redis::Connection::connect(endpoint_, options_.redis_timeout);
    if (!conn.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    Lane lane;  // on the lane's thread: its nice steps start from the thread's value
    lane.consumer = consumer;
    while (!stopping_) {
      auto n = round(*conn, lane, Clock::now(), true);
      if (n.ok() && index == 0 && std::chrono::steady_clock::now() - last_due >= kDueEvery) {
        Yield yield = yield_budget(lane, false);
        pause(yield);
        last_due = std::chrono::steady_clock::now();
        const bool sweep = last_due - last_housekeeping >= options_.housekeeping_every;
        if (sweep) last_housekeeping = last_due;
        auto due = run_background(*conn, Clock::now(), sweep, yield);
        if (!due.ok()) n = std::move(due).take_error();
      }
      if (!n.ok()) {
        spdlog::warn("planner {}: {}", consumer, n.error().message);
        break;
      }
      // Every job waits for another lane's revision of its event: do not spin.
      if (*n == 0 && !lane.jobs.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    for (Job& job : lane.jobs) release(job);
  }
}

Result<int> Planner::run_once(redis::Connection& conn, Clock::time_point now) {
  // The lane starts as resumed (nothing of its own to take back), so the group is made here.
  (void)conn.command(redis::cmd("XGROUP", "CREATE", kIntake, kPlannerGroup, "0", "MKSTREAM"));
  Lane lane;
  lane.consumer = options_.consumer;
  lane.resumed = true;
  int handled = 0;
  while (true) {
    auto n = round(conn, lane, now, false);
    if (!n.ok()) {
      for (Job& job : lane.jobs) release(job);
      return n;
    }
    handled += *n;
    // A split revision adds the intake entries of its other parts: the next round takes them.
    if (lane.jobs.empty() && *n == 0) break;
  }
  Yield yield = yield_budget(lane, false);
  auto due = run_background(conn, now, false, yield);
  if (!due.ok()) return due;
  if (auto ok = conn.settle(); !ok.ok()) return std::move(ok).take_error();
  return handled + *due;
}

Status Planner::know_legacy_caps(redis::Connection& conn, Clock::time_point now) {
  if (caps_known_.load(std::memory_order_acquire)) return ok_status();
  std::lock_guard lock(caps_mu_);
  if (caps_known_.load(std::memory_order_relaxed)) return ok_status();
  auto until = legacy_caps_until(conn, now);
  if (!until.ok()) return std::move(until).take_error();
  if (!until->empty()) {
    spdlog::info("planner: daily-cap counts of earlier releases are read for days up to {}",
                 *until);
  }
  legacy_caps_until_ = std::move(*until);
  caps_known_.store(true, std::memory_order_release);
  return ok_status();
}

Result<int> Planner::run_background(redis::Connection& conn, Clock::time_point now,
                                    bool housekeeping, Yield& yield) {
  if (auto ok = know_legacy_caps(conn, now); !ok.ok()) return std::move(ok).take_error();
  int due = 0;
  for (int pass = 0; pass < kDuePassesPerRound; ++pass) {
    auto handled = run_due(conn, now, yield);
    if (!handled.ok()) return handled;
    due += *handled;
    if (static_cast<size_t>(*handled) < kDuePerPass) break;
  }
  auto raised = raise_due_reminders(conn, options_.reminder_lead, now, kRemindersPerRound);
  if (!raised.ok()) return std::move(raised).take_error();
  if (housekeeping) {
    auto trimmed = events::trim_intake(conn);
    if (!trimmed.ok()) return std::move(trimmed).take_error();
    auto gone = events::prune_consumers(conn, kIntake, kPlannerGroup, options_.consumer_idle);
    if (!gone.ok()) return std::move(gone).take_error();
    if (*trimmed > 0 || *gone > 0) {
      spdlog::info("planner: intake trimmed by {} entries, {} idle consumers deleted", *trimmed,
                   *gone);
    }
  }
  return due + *raised;
}

Result<int> Planner::take_entries(redis::Connection& conn, Lane& lane, bool block) {
  std::vector<redis::Reply> entries;
  if (!lane.resumed) {
    (void)conn.command(redis::cmd("XGROUP", "CREATE", kIntake, kPlannerGroup, "0", "MKSTREAM"));
    // After a reconnect, what this consumer had taken before comes back first.
    auto own = check_reply(conn.command(
        redis::cmd("XREADGROUP", "GROUP", kPlannerGroup, lane.consumer, "COUNT",
                   std::to_string(options_.max_jobs), "STREAMS", kIntake, "0")));
    if (!own.ok()) return std::move(own).take_error();
    collect(*own, false, entries);
    lane.resumed = true;
  }
  const size_t room = options_.max_jobs - std::min(options_.max_jobs, lane.jobs.size());
  const auto now = std::chrono::steady_clock::now();
  size_t first_new = SIZE_MAX;  // entries from here on were never delivered before
  if (room > entries.size() && now >= lane.next_claim) {
    // A dead planner's entries become claimable only after claim_idle, so looking for them
    // every quarter of it is enough, and spares an urgent entry's lane a round trip.
    const size_t want = room - entries.size();
    auto claimed = check_reply(conn.command(redis::cmd(
        "XAUTOCLAIM", kIntake, kPlannerGroup, lane.consumer,
        std::to_string(options_.claim_idle.count()), "0-0", "COUNT", std::to_string(want))));
    if (!claimed.ok()) return std::move(claimed).take_error();
    collect(*claimed, true, entries);
    // A cursor other than 0-0: the scan stopped early, so look again next round.
    const bool more = !claimed->elements.empty() && claimed->elements[0].str != "0-0";
    lane.next_claim = more ? now : now + options_.claim_idle / 4;
  }
  if (room > entries.size()) {
    const std::string count = std::to_string(room - entries.size());
    redis::Command read = redis::cmd("XREADGROUP", "GROUP", kPlannerGroup, lane.consumer, "COUNT",
                                     count);
    const bool blocking = block && entries.empty();
    if (blocking) {
      read.push_back("BLOCK");
      read.push_back(std::to_string(options_.block.count()));
    }
    read.push_back("STREAMS");
    read.push_back(std::string(kIntake));
    read.push_back(">");
    if (blocking) ++waiting_lanes_;
    auto fresh = check_reply(conn.command(read));
    if (blocking) --waiting_lanes_;
    if (!fresh.ok()) return std::move(fresh).take_error();
    first_new = entries.size();
    collect(*fresh, false, entries);
  }
  int taken = 0;
  for (size_t k = 0; k < entries.size(); ++k) {
    const redis::Reply& e = entries[k];
    if (e.elements.empty()) continue;
    Job job;
    job.entry = e.elements[0].str;
    job.fresh = k >= first_new;
    if (std::any_of(lane.jobs.begin(), lane.jobs.end(),
                    [&](const Job& j) { return j.entry == job.entry; })) {
      continue;
    }
    if (e.elements.size() >= 2) {
      const auto& kv = e.elements[1].elements;
      for (size_t i = 0; i + 1 < kv.size(); i += 2) {
        const std::string& v = kv[i + 1].str;
        if (kv[i].str == "event") job.event_id = v;
        if (kv[i].str == "revision") std::from_chars(v.data(), v.data() + v.size(), job.revision);
        if (kv[i].str == "urgent" && v == "1") mark_urgent(job, true);
        if (kv[i].str == "shard") std::from_chars(v.data(), v.data() + v.size(), job.part.index);
        if (kv[i].str == "shards") std::from_chars(v.data(), v.data() + v.size(), job.part.of);
        if (kv[i].str == "block") std::from_chars(v.data(), v.data() + v.size(), job.part.block);
        if (kv[i].str == "planned") job.carried = job.planned.ParseFromString(v);
      }
    }
    ++taken;
    const bool part_ok = job.part.of >= 1 && job.part.of <= kMaxParts &&
                         job.part.index < job.part.of && job.part.block >= 1;
    if (job.event_id.empty() || job.revision == 0 || !part_ok) {
      // A deleted entry (XAUTOCLAIM returns it without fields) or one nobody could plan.
      if (auto ok = settle(conn, lane, job, Step::kDead,
                           "intake entry " + describe(e) + " names no event revision or part");
          !ok.ok()) {
        return std::move(ok).take_error();
      }
      continue;
    }
    lane.jobs.push_back(std::move(job));
  }
  return taken;
}

Result<int> Planner::round(redis::Connection& conn, Lane& lane, Clock::time_point now,
                           bool may_block) {
  // A lane with work in hand leaves new entries to a lane that is waiting for one: that lane
  // starts a new event at once instead of after this lane's next batches.
  int progress = 0;
  step_back(lane, false);  // also after a round an error cut short
  if (auto ok = know_legacy_caps(conn, now); !ok.ok()) return std::move(ok).take_error();
  if (lane.jobs.empty() || !lane.resumed || waiting_lanes_.load() == 0) {
    const bool had_jobs = !lane.jobs.empty();
    auto taken = take_entries(conn, lane, may_block && lane.jobs.empty());
    if (!taken.ok()) return taken;
    progress = *taken;
    // Reading an entry (new, own or claimed) resets its idle time, so a lane that held nothing
    // before needs no keep-alive yet: a new event's first batch saves that round trip.
    if (!had_jobs) lane.kept_alive = std::chrono::steady_clock::now();
  }
  if (!lane.jobs.empty() &&
      std::chrono::steady_clock::now() - lane.kept_alive >= options_.claim_idle / 4) {
    if (auto ok = keep_alive(conn, lane); !ok.ok()) return std::move(ok).take_error();
    if (lane.jobs.empty()) return progress;
  }
  // EMERGENCY revisions first, then every other one in turn.
  std::vector<size_t> order;
  for (size_t i = 0; i < lane.jobs.size(); ++i) {
    if (lane.jobs[i].urgent) order.push_back(i);
  }
  for (size_t k = 0; k < lane.jobs.size(); ++k) {
    const size_t i = (lane.turn + k) % lane.jobs.size();
    if (!lane.jobs[i].urgent) order.push_back(i);
  }
  ++lane.turn;
  // A batch read ahead is used only by a lane planning nothing else: another revision's
  // batches in between could write what it read (a customer's count toward the daily cap).
  const bool alone = lane.jobs.size() == 1;
  if (!alone) {
    for (Job& job : lane.jobs) drop_ahead(conn, job);
  }
  std::vector<bool> finished(lane.jobs.size(), false);
  for (size_t i : order) {
    Job& job = lane.jobs[i];
    Yield yield = yield_budget(lane, job.urgent);
    pause(yield);
    step_back(lane, !job.urgent);
    std::string why;
    auto s = step(conn, job, why, now, yield, alone);
    if (!s.ok()) {
      if (conn.broken()) return std::move(s).take_error();
      release(job);
      job.reader.reset();
      job.ahead.reset();
      if (++job.failures < options_.max_failures) {
        spdlog::warn("planner: {} revision {}: {} (attempt {})", job.event_id, job.revision,
                     s.error().message, job.failures);
        continue;
      }
      why = fmt::format("planning failed {} times: {}", job.failures, s.error().message);
      s = Step::kDead;
    }
    if (*s == Step::kWaiting) continue;
    ++progress;
    if (*s == Step::kBatch) continue;
    if (auto ok = settle(conn, lane, job, *s, why); !ok.ok()) return std::move(ok).take_error();
    finished[i] = true;
  }
  step_back(lane, false);
  drop_jobs(lane, finished);
  return progress;
}

Result<Planner::Step> Planner::prepare(redis::Connection& conn, Job& job, std::string& why) {
  if (job.fresh && job.carried && job.part.of == 1 && job.planned.id() == job.event_id &&
      job.planned.revision() == job.revision && job.planned.kind() != v1::PLANNED_MAINTENANCE) {
    return prepare_carried(conn, job, why);
  }
  auto reads = conn.pipeline(redis::batch(
      redis::cmd("GET", events::event_key(job.event_id)),
      redis::cmd("LINDEX", events::revisions_key(job.event_id), std::to_string(job.revision - 1)),
      redis::cmd("GET", cursor_key(job.event_id, job.revision)),
      redis::cmd("GET", cursor_key(job.event_id, job.revision) + ":parts"),
      redis::cmd("GET", part_cursor_key(job.event_id, job.revision, job.part.index))));
  if (!reads.ok()) return std::move(reads).take_error();
  v1::EventState state;
  if ((*reads)[0].is_nil() || (*reads)[1].is_nil() ||
      !state.ParseFromString((*reads)[0].str) || !job.planned.ParseFromString((*reads)[1].str)) {
    why = fmt::format("event {} revision {} is not stored or cannot be read", job.event_id,
                      job.revision);
    return Step::kDead;
  }
  if ((*reads)[2].str == "done") {
    job.part = {};  // the whole revision is done: settled as such, whatever part this was
    return Step::kDone;
  }
  // Split only a revision whose whole planning has no cursor yet. A first batch cut short by a
  // crash may have committed some customers: their done bits keep the parts off them.
  if (job.part.of == 1 && (*reads)[2].is_nil()) {
    if (auto ok = split(conn, job, (*reads)[3]); !ok.ok()) return std::move(ok).take_error();
  }
  // A part's cursor; an entry that became part 0 just now has none yet.
  const std::string& cursor = job.part.of > 1 ? (*reads)[4].str : (*reads)[2].str;
  if (cursor == "done") return Step::kDone;
  if (job.part.of > 1) {
    spdlog::info("planner: {} revision {}: part {}/{} {}", job.event_id, job.revision,
                 job.part.index, job.part.of, cursor.empty() ? "starts" : "resumes");
  }
  mark_urgent(job, is_emergency(job.planned));
  if (auto remind = reminder_command(state.event(), options_.reminder_lead)) {
    auto r = check_reply(conn.command(*remind));
    if (!r.ok()) return std::move(r).take_error();
  }
  AudienceCursor start;
  if (auto c = AudienceCursor::decode(cursor)) start = *c;
  return start_reading(conn, job, state.event(), start, why);
}

Result<Planner::Step> Planner::prepare_carried(redis::Connection& conn, Job& job,
                                               std::string& why) {
  // Never delivered before, so nothing of it was planned: no cursor, no parts.
  if (auto ok = split(conn, job, redis::Reply{}); !ok.ok()) return std::move(ok).take_error();
  mark_urgent(job, is_emergency(job.planned));
  return start_reading(conn, job, job.planned, AudienceCursor{}, why);
}

Result<Planner::Step> Planner::start_reading(redis::Connection& conn, Job& job,
                                             const v1::Event& current, const AudienceCursor& start,
                                             std::string& why) {
  {
    std::lock_guard lock(flights_mu_);
    Flight& f = flights_[job.event_id];
    if (current.revision() > f.newest.revision()) f.newest = current;
  }
  if (overtaken_here(job)) {
    // The newer revision's own intake entry tells everyone the current state.
    why = "overtaken";
    return Step::kDone;
  }
  job.reader = std::make_unique<AudienceReader>(conn, job.planned.area(), start, job.part);
  return Step::kBatch;
}

Status Planner::split(redis::Connection& conn, Job& job, const redis::Reply& parts) {
  if (!parts.is_nil()) {  // an earlier run of this entry split the revision
    job.part = part_zero(parts.str);
  } else if (options_.shards > 1) {
    const v1::Area& area = job.planned.area();
    const size_t tiles = geo_tiles(area);
    const bool large = tiles >= kLargeGeoTiles;
    size_t estimate = static_cast<size_t>(area.premises_size());
    if (!large) {  // the index sets' sizes, one round trip
      redis::Batch sizes;
      for (uint32_t s = 0; s < store::kIndexSlices; ++s) {
        for (const auto& f : area.feeders()) {
          sizes.push_back(redis::cmd("SCARD", store::feeder_key(f, s)));
        }
        for (const auto& z : area.zips()) {
          sizes.push_back(redis::cmd("SCARD", store::zip_key(z, s)));
        }
      }
      for (const auto& t : area.transformers()) {
        sizes.push_back(redis::cmd("SCARD", store::transformer_key(t)));
      }
      if (!sizes.empty()) {
        auto got = conn.pipeline(sizes);
        if (!got.ok()) return std::move(got).take_error();
        for (const auto& r : *got) estimate += static_cast<size_t>(std::max(0LL, r.integer));
      }
      if (estimate < options_.shard_min) return ok_status();
    }
    const uint32_t want = std::min(options_.shards, kMaxParts);
    const std::string marker = cursor_key(job.event_id, job.revision) + ":parts";
    auto r = check_reply(conn.command(
        redis::cmd("EVAL", kSplitLua, "2", kIntake, marker, std::to_string(want), job.event_id,
                   std::to_string(job.revision), is_emergency(job.planned) ? "1" : "0",
                   std::to_string(store::kRecordsPerBucket))));
    if (!r.ok()) return std::move(r).take_error();
    job.part = part_zero(r->str);
    if (job.part.of > 1) {
      spdlog::info("planner: {} revision {} split into {} parts ({})", job.event_id, job.revision,
                   job.part.of,
                   large ? fmt::format("a GEO area of {} tiles", tiles)
                         : fmt::format("about {} customers", estimate));
    }
  }
  return ok_status();
}

Result<Planner::Step> Planner::step(redis::Connection& conn, Job& job, std::string& why,
                                    Clock::time_point now, Yield& yield, bool read_ahead) {
  if (!job.reader) {
    job.ahead.reset();
    auto s = prepare(conn, job, why);
    if (!s.ok() || *s != Step::kBatch) return s;
  }
  if (!hold(job)) {
    job.pass.reset();  // waits for another lane's revision of its event: holds nobody back
    return Step::kWaiting;
  }
  mark_urgent(job, job.urgent);  // takes back the pass given up while it waited
  if (overtaken_here(job)) {
    why = "overtaken";
    return Step::kDone;
  }
  const std::string done = seen_key(job.event_id, job.revision) + ":done";
  std::vector<Work> work;
  std::unique_ptr<BatchLoad> loaded;
  std::string end;  // the reader's cursor after this batch
  if (job.ahead) {
    work = std::move(job.ahead->work);
    loaded = std::move(job.ahead->load);
    end = std::move(job.ahead->end);
    job.ahead.reset();
  } else {
    auto batch = job.reader->next(options_.batch);
    if (!batch.ok()) return std::move(batch).take_error();
    work = to_work(std::move(*batch));
    end = job.reader->cursor().encode();
  }
  if (work.empty()) return Step::kDone;
  // The next batch, read while this one is written; not while an urgent revision waits for
  // its first batch, which goes out alone.
  std::unique_ptr<Ahead> next;
  if (read_ahead && options_.read_ahead && !job.pass.held()) {
    AudienceCursor from = job.reader->cursor();
    auto batch = job.reader->next(options_.batch);
    if (!batch.ok()) return std::move(batch).take_error();
    if (!batch->empty()) {
      next = std::make_unique<Ahead>();
      next->from = std::move(from);
      next->end = job.reader->cursor().encode();
      next->work = to_work(std::move(*batch));
      next->load =
          std::make_unique<BatchLoad>(job.planned, work_nums(next->work), done, legacy_caps_until_);
    }
  }
  redis::Batch tail;
  const std::string cursor = job.part.of > 1
                                 ? part_cursor_key(job.event_id, job.revision, job.part.index)
                                 : cursor_key(job.event_id, job.revision);
  tail.push_back(redis::cmd("SET", cursor, end));
  // With a batch read ahead, the lane goes on to it without waiting for this one's last
  // transaction: the connection's next use checks it (a failure there resets the job, or the
  // lane, and the batch is replayed from the saved cursor).
  if (auto ok = handle(conn, job.planned, work, done, std::move(tail), now, yield,
                       std::move(loaded), next.get(), next != nullptr);
      !ok.ok()) {
    return std::move(ok).take_error();
  }
  if (!job.first_batch_done && job.part.index == 0) observe_first_batch(job);
  job.first_batch_done = true;
  job.pass.reset();
  if (next) {
    job.ahead = std::move(next);
    if (job.ahead->failed) drop_ahead(conn, job);
  }
  return Step::kBatch;
}

std::vector<Planner::Work> Planner::to_work(std::vector<Recipient> batch) {
  std::vector<Work> work(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    work[i].num = batch[i].num;
    work[i].premises = std::move(batch[i].premises);
  }
  return work;
}

std::vector<uint64_t> Planner::work_nums(const std::vector<Work>& work) {
  std::vector<uint64_t> nums(work.size());
  for (size_t i = 0; i < work.size(); ++i) nums[i] = work[i].num;
  return nums;
}

void Planner::drop_ahead(redis::Connection& conn, Job& job) {
  if (!job.ahead) return;
  job.reader =
      std::make_unique<AudienceReader>(conn, job.planned.area(), job.ahead->from, job.part);
  job.ahead.reset();
}

Status Planner::settle(redis::Connection& conn, Lane& lane, Job& job, Step outcome,
                       const std::string& why) {
  (void)lane;
  if (outcome != Step::kDead && job.part.of > 1) return settle_part(conn, job, why);
  redis::Batch tx;
  tx.push_back(redis::cmd("MULTI"));
  if (outcome == Step::kDead) {
    spdlog::error("planner: intake entry {} to {}: {}", job.entry, events::kIntakeDeadKey, why);
    tx.push_back(events::dead_letter_command(
        "intake", fmt::format("{} event={} revision={}", job.entry, job.event_id, job.revision),
        why));
  } else {
    if (why == "overtaken") {
      tx.push_back(redis::cmd("HINCRBY", dispatch::funnel_key(job.event_id), "revisions_skipped",
                              "1"));
    }
    tx.push_back(redis::cmd("SET", cursor_key(job.event_id, job.revision), "done"));
    // The seen bitmap and its `:last` are left by an earlier release's claims, if at all.
    const std::string seen = seen_key(job.event_id, job.revision);
    tx.push_back(redis::cmd("DEL", seen, seen + ":last", seen + ":done"));
  }
  tx.push_back(redis::cmd("XACK", kIntake, kPlannerGroup, job.entry));
  tx.push_back(redis::cmd("EXEC"));
  auto done = conn.pipeline(tx);
  release(job);
  job.reader.reset();
  job.ahead.reset();
  if (!done.ok()) return std::move(done).take_error();
  if (done->back().is_error() || done->back().is_nil()) {
    return make_error(ErrorCode::kInternal, "could not settle intake entry " + job.entry);
  }
  return ok_status();
}

Status Planner::settle_part(redis::Connection& conn, Job& job, const std::string& why) {
  const std::string base = cursor_key(job.event_id, job.revision);
  const std::string seen = seen_key(job.event_id, job.revision);
  const bool skipped = why == "overtaken" && job.part.index == 0;  // once per revision
  auto done = check_reply(conn.command(redis::cmd(
      "EVAL", kPartDoneLua, "8", kIntake,
      part_cursor_key(job.event_id, job.revision, job.part.index), base + ":finished", base,
      base + ":parts", seen, seen + ":done", dispatch::funnel_key(job.event_id), kPlannerGroup,
      job.entry, std::to_string(job.part.index), std::to_string(job.part.of), skipped ? "1" : "0",
      base, seen)));
  release(job);
  job.reader.reset();
  if (!done.ok()) return std::move(done).take_error();
  return ok_status();
}

Status Planner::keep_alive(redis::Connection& conn, Lane& lane) {
  redis::Batch claims;
  for (const Job& job : lane.jobs) {
    claims.push_back(redis::cmd("EVAL", kKeepAliveLua, "1", kIntake, kPlannerGroup, job.entry,
                                lane.consumer));
  }
  auto got = conn.pipeline(claims);
  if (!got.ok()) return std::move(got).take_error();
  std::vector<bool> lost(lane.jobs.size(), false);
  for (size_t i = 0; i < lane.jobs.size(); ++i) {
    const redis::Reply& r = (*got)[i];
    if (r.is_error()) return make_error(ErrorCode::kInternal, "planner keep-alive: " + r.str);
    if (r.integer == 1) continue;
    spdlog::warn("planner {}: intake entry {} ({} revision {}) was taken over; leaving it",
                 lane.consumer, lane.jobs[i].entry, lane.jobs[i].event_id, lane.jobs[i].revision);
    release(lane.jobs[i]);
    lost[i] = true;
  }
  drop_jobs(lane, lost);
  lane.kept_alive = std::chrono::steady_clock::now();
  return ok_status();
}

void Planner::drop_jobs(Lane& lane, const std::vector<bool>& drop) {
  size_t keep = 0;
  for (size_t i = 0; i < lane.jobs.size(); ++i) {
    if (drop[i]) continue;
    if (keep != i) lane.jobs[keep] = std::move(lane.jobs[i]);
    ++keep;
  }
  lane.jobs.resize(keep);
}

bool Planner::hold(Job& job) {
  if (job.holding) return true;
  std::lock_guard lock(flights_mu_);
  Flight& f = flights_[job.event_id];
  // Another revision, or another entry of a revision that is not split, waits.
  if (!f.holders.empty() &&
      (f.holding != job.revision || (job.part.of == 1 && !f.holders.contains(job.entry)))) {
    return false;
  }
  f.holders.insert(job.entry);
  f.holding = job.revision;
  job.holding = true;
  return true;
}

void Planner::release(Job& job) {
  std::lock_guard lock(flights_mu_);
  auto it = flights_.find(job.event_id);
  if (it == flights_.end()) return;
  if (job.holding) it->second.holders.erase(job.entry);
  job.holding = false;
  if (it->second.holders.empty() && it->second.newest.revision() <= job.revision) {
    flights_.erase(it);
  }
}

void Planner::observe_first_batch(const Job& job) const {
  if (!options_.metrics) return;
  int64_t accepted_ms = 0;  // the entry id's time: "<ms>-<seq>"
  std::from_chars(job.entry.data(), job.entry.data() + job.entry.size(), accepted_ms);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  options_.metrics->observe("herald_planner_first_batch_seconds",
                            "From a revision's accept until its first batch of messages is queued.",
                            "priority", job.urgent ? "urgent" : "bulk",
                            static_cast<double>(std::max<int64_t>(0, now_ms - accepted_ms)) / 1000);
}

void Planner::step_back(Lane& lane, bool bulk) {
  if (const int err = lane.nice.step(bulk, bulk_nice_); err != 0) {
    spdlog::warn("planner {}: no {} nice value, no lane steps back from now on: {}", lane.consumer,
                 bulk ? "bulk" : "own", std::strerror(err));
  }
}

void Planner::mark_urgent(Job& job, bool urgent) {
  job.urgent = urgent;
  // The pass covers the wait for the first message only: the later batches of a large
  // EMERGENCY revision go first within their lane but hold neither the other lanes nor the
  // dispatchers, which send its messages.
  if (urgent && !job.first_batch_done && !job.pass.held()) job.pass = PriorityGate::Pass(*gate_);
  if (!urgent) job.pass.reset();
}

Planner::Yield Planner::yield_budget(const Lane& lane, bool urgent) const {
  if (urgent) return {};
  const int own = static_cast<int>(std::count_if(
      lane.jobs.begin(), lane.jobs.end(), [](const Job& j) { return j.pass.held(); }));
  return Yield{own, options_.yield_max};
}

void Planner::pause(Yield& yield) {
  if (yield.left.count() <= 0) return;
  // An EMERGENCY revision just accepted (a timed hold) is taken by a lane waiting for intake
  // entries; with none waiting, a busy lane must go on to take it after this batch.
  const auto waited = gate_->yield(yield.own, yield.left, waiting_lanes_.load() > 0);
  if (waited.count() == 0) return;
  yielded_.fetch_add(waited.count(), std::memory_order_relaxed);
  yield.left -= std::chrono::ceil<std::chrono::milliseconds>(waited);
}

bool Planner::overtaken_here(const Job& job) {
  std::lock_guard lock(flights_mu_);
  auto it = flights_.find(job.event_id);
  if (it == flights_.end()) return false;
  const v1::Event& newest = it->second.newest;
  return newest.revision() > job.revision && overtaken(job.planned, newest);
}

std::string hold_key(int64_t due_ms) { return fmt::format("{}{}", kHoldPrefix, due_ms); }

std::string hold_bits_key(int64_t due_ms, const v1::Event& event, v1::Channel channel) {
  return fmt::format("{}{}:{}:{}:{}", kHoldBitsPrefix, due_ms, event.revision(),
                     static_cast<int>(channel), event.id());
}

redis::Command unhold_command(const std::string& set, const std::string& member) {
  if (set.empty()) return redis::cmd("ZREM", kDeferredKey, member);
  if (set.starts_with(kHoldBitsPrefix))
    return redis::cmd("BITFIELD", set, "SET", "u1", member, "0");
  return redis::cmd("SREM", set, member);
}

Status Planner::bury_deferred(redis::Connection& conn,
                              const std::vector<std::pair<std::string, std::string>>& members,
                              const std::string& why) {
  if (members.empty()) return ok_status();
  redis::Batch tx;
  tx.push_back(redis::cmd("MULTI"));
  for (const auto& [set, m] : members) {
    spdlog::error("planner: deferred member to {}: {}", events::kIntakeDeadKey, why);
    tx.push_back(events::dead_letter_command("deferred", m, why));
    tx.push_back(unhold_command(set, m));
  }
  tx.push_back(redis::cmd("EXEC"));
  auto done = conn.pipeline(tx);
  if (!done.ok()) return std::move(done).take_error();
  return ok_status();
}

}  // namespace herald::fanout
