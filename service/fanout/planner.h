#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "herald/v1/event.pb.h"
#include "service/common/metrics.h"
#include "service/common/priority_gate.h"
#include "service/common/thread_nice.h"
#include "service/core/crypto.h"
#include "service/fanout/audience.h"
#include "service/fanout/batch_load.h"
#include "service/fanout/compose.h"
#include "service/fanout/decide.h"
#include "service/redis/connection.h"
#include "templates/catalog.h"

namespace herald::fanout {

struct PlannerOptions {
  std::string consumer = "heraldd";  // unique per process; lane i joins "planners" as "<it>-<i>"
  size_t batch = 400;
  // Recipients per MULTI/EXEC within a batch: Redis runs a transaction whole, so a smaller one
  // keeps an urgent event's commands from waiting long behind a bulk batch's writes.
  size_t chunk = 100;
  int lanes = 3;         // planner threads; each interleaves the revisions it took
  // A lane with one revision in hand reads its next batch while it writes the current one
  // (docs/architecture.md, "Reading ahead").
  bool read_ahead = true;
  // A revision whose audience is estimated at shard_min or more is split into this many parts,
  // planned side by side by any lanes (docs/architecture.md, "Split revisions"); 1: never.
  uint32_t shards = 2;
  size_t shard_min = 2000;
  size_t max_jobs = 16;  // revisions one lane interleaves
  std::chrono::milliseconds block{500};         // wait for intake entries; bounds stop()
  std::chrono::milliseconds claim_idle{30000};  // a dead planner's entries are taken after this
  std::chrono::milliseconds redis_timeout{5000};
  std::chrono::minutes reminder_lead{1440};  // maintenance REMINDER this long before the window
  int max_failures = 5;  // a revision whose planning fails this often goes to intake:dead
  std::chrono::milliseconds housekeeping_every{60000};  // intake trim, consumer pruning
  std::chrono::milliseconds consumer_idle{3600000};  // idle consumers, nothing pending: deleted
  // Longest a bulk batch waits, all its pauses together, while an EMERGENCY revision's first
  // batch is planned (PriorityGate).
  std::chrono::milliseconds yield_max{50};
  // The nice value a lane's thread takes while it plans a bulk batch (0: none, up to 19). The
  // kernel then gives the cores to urgent planning, Redis and the API first; a lane is back at
  // the nice value it started with (the process's, normally 0) for urgent work and anything
  // else. Returning needs CAP_SYS_NICE or an RLIMIT_NICE of 20 - that value; start() checks
  // and, without either, plans bulk batches at the process's nice value.
  int bulk_nice = 0;
  // herald_planner_first_batch_seconds{priority="urgent"|"bulk"}: for each revision, from its
  // accept (its intake entry's time, on Redis's clock) until its first batch is committed in
  // this process. Null: not observed.
  Metrics* metrics = nullptr;
  // Shared with the dispatchers, whose rounds yield too; the planner makes its own when null.
  std::shared_ptr<PriorityGate> gate;
  Settings settings;
  ComposeOptions compose;
};

// Lanes: each of options.lanes threads reads intake entries as its own consumer and keeps up to
// max_jobs revisions in progress, planning one batch of each per round (EMERGENCY ones first,
// then round robin) and reading new entries between rounds, so a new event never waits behind
// a running fan-out. Within the process one revision of an event is planned at a time (its
// parts, when it is split, side by side), and a revision overtaken by a newer one stops early.
// A large revision is split into options.shards parts, each an intake entry of its own that
// any lane of any process may take. Lane 0 also re-plans what is due, raises maintenance
// reminders and keeps the intake stream trimmed.
//
// Turns accepted event revisions (the intake stream) into decisions and queued messages, and
// re-plans held messages when they fall due. Runs on its own thread with its own blocking
// connection. Per chunk of an audience batch, one MULTI/EXEC writes the queued messages, the
// decision touchpoints, each customer's history for the event, the daily-cap counters, the
// held entries, the funnel counters and the customers' bits in `<seen>:done`; the batch's
// last chunk also moves the audience cursor. A crash replays the batch from its start, and
// the done bits skip the customers whose chunk was committed, so nothing is decided twice.
class Planner {
 public:
  Planner(redis::Endpoint endpoint, const core::Sealer& sealer, const core::TokenSigner& signer,
          const templates::Catalog& catalog, PlannerOptions options);
  ~Planner();
  void start();
  void stop();

  // One round without a thread (tests, tools): plans what intake holds and what is due.
  // Returns the number of intake entries and held messages handled.
  Result<int> run_once(redis::Connection& conn, std::chrono::system_clock::time_point now);

  // Total time bulk batches waited for urgent ones (/metrics).
  std::chrono::steady_clock::duration yielded() const {
    return std::chrono::steady_clock::duration(yielded_.load());
  }

 private:
  struct Work {
    uint64_t num = 0;
    std::vector<int> premises;
    std::string deferred;      // the held entry this work re-plans, if any (a bitmap's: n)
    std::string deferred_set;  // the bitmap or set holding it; empty: `deferred` holds it
    v1::Channel only = v1::CHANNEL_UNSPECIFIED;
    // Set: `only` is a fallback after this channel failed (a dispatcher's deferred member with a
    // fifth field): planned as if chosen for the kind, outside the daily cap.
    v1::Channel fallback_from = v1::CHANNEL_UNSPECIFIED;
  };
  // An audience batch as work, and a work list's customer numbers.
  static std::vector<Work> to_work(std::vector<Recipient> batch);
  static std::vector<uint64_t> work_nums(const std::vector<Work>& work);
  // A job's next batch, read while the batch before it was written.
  struct Ahead {
    std::vector<Work> work;
    std::unique_ptr<BatchLoad> load;  // never null; complete once the batch before it is written
    AudienceCursor from;              // the reader's cursor before it: where a drop rewinds to
    std::string end;                  // the reader's cursor after it, saved with its last chunk
    bool failed = false;              // its reads failed: dropped
  };
  // One intake entry being planned: its audience reader resumes from the saved cursor.
  struct Job {
    std::string entry;  // intake stream id
    std::string event_id;
    uint32_t revision = 0;
    AudiencePart part;  // of a split revision; of = 1: the whole revision
    v1::Event planned;
    bool fresh = false;    // read as new (">"): never delivered to any planner before
    bool carried = false;  // `planned` came with the entry (urgent ones carry their revision)
    bool urgent = false;
    PriorityGate::Pass pass;  // urgent: held until its first batch is committed
    bool first_batch_done = false;
    int failures = 0;
    bool holding = false;                    // this revision holds its event in flights_
    std::unique_ptr<AudienceReader> reader;  // null until prepared (again, after a failure)
    std::unique_ptr<Ahead> ahead;            // the next batch, read ahead
  };
  struct Lane {
    std::string consumer;
    std::vector<Job> jobs;
    size_t turn = 0;
    bool resumed = false;  // this consumer's own pending entries were taken back
    std::chrono::steady_clock::time_point kept_alive{};  // last keep_alive
    std::chrono::steady_clock::time_point next_claim{};  // next look for a dead planner's entries
    NiceSteps nice;  // made on the lane's thread: its base is the value the thread started with
  };
  // Per event planned in this process: the newest revision seen and the one being planned.
  struct Flight {
    // The intake entries being planned (none: empty): one job per entry, even if two lanes
    // took the entry, and several only for the parts of one split revision (`holding`).
    std::set<std::string> holders;
    uint32_t holding = 0;
    v1::Event newest;
  };
  enum class Step { kWaiting, kBatch, kDone, kDead };
  // A batch's pauses for urgent work: the passes its lane holds itself, and what is left of
  // yield_max (zero for urgent work, which never pauses).
  struct Yield {
    int own = 0;
    std::chrono::milliseconds left{0};
  };

  Result<int> round(redis::Connection& conn, Lane& lane, std::chrono::system_clock::time_point now,
                    bool may_block);
  Result<int> take_entries(redis::Connection& conn, Lane& lane, bool block);
  // `read_ahead`: the job may read its next batch while it writes this one.
  Result<Step> step(redis::Connection& conn, Job& job, std::string& why,
                    std::chrono::system_clock::time_point now, Yield& yield, bool read_ahead);
  // Forgets the batch the job read ahead; its reader goes back to where that batch starts.
  void drop_ahead(redis::Connection& conn, Job& job);
  Result<Step> prepare(redis::Connection& conn, Job& job, std::string& why);
  // prepare() without its reads, for a fresh entry that carries its revision: nothing of it can
  // have been planned yet, so the audience starts at the beginning.
  Result<Step> prepare_carried(redis::Connection& conn, Job& job, std::string& why);
  // The end of both: `current` (the newest revision known) recorded for the event, then the
  // job's audience reader from `start`, unless a newer revision overtook it (kDone).
  Result<Step> start_reading(redis::Connection& conn, Job& job, const v1::Event& current,
                             const AudienceCursor& start, std::string& why);
  // Splits a fresh revision whose audience is large into options_.shards parts (the job
  // becomes part 0), or takes the split an earlier run of this entry recorded.
  Status split(redis::Connection& conn, Job& job, const redis::Reply& parts);
  Status settle(redis::Connection& conn, Lane& lane, Job& job, Step outcome,
                const std::string& why);
  // A part of a split revision done; the last part also ends the revision.
  Status settle_part(redis::Connection& conn, Job& job, const std::string& why);
  Result<int> run_background(redis::Connection& conn, std::chrono::system_clock::time_point now,
                             bool housekeeping, Yield& yield);
  // Each pair: the hold set holding the member (empty: the `deferred` sorted set), member.
  Status bury_deferred(redis::Connection& conn,
                       const std::vector<std::pair<std::string, std::string>>& members,
                       const std::string& why);
  // Resets the idle time of the lane's intake entries, so no planner takes over an entry
  // that is still being planned, and drops the jobs whose entry another consumer took.
  Status keep_alive(redis::Connection& conn, Lane& lane);
  static void drop_jobs(Lane& lane, const std::vector<bool>& drop);  // keeps the others' order
  bool hold(Job& job);
  void release(Job& job);
  bool overtaken_here(const Job& job);
  void mark_urgent(Job& job, bool urgent);
  void observe_first_batch(const Job& job) const;
  // The lane's thread at bulk_nice_ for a bulk batch (if above its base), else at its base.
  void step_back(Lane& lane, bool bulk);
  // A bulk batch's budget of pauses (`urgent`: none).
  Yield yield_budget(const Lane& lane, bool urgent) const;
  // Waits while urgent revisions other than the lane's own are planned, from yield.left.
  void pause(Yield& yield);
  // Decides and writes `work` in chunks. `done_key`, for audience batches: the bitmap of
  // customers already committed, read to skip them and written with each chunk. `tail` goes
  // with the last chunk. `loaded`: what was read for `work` ahead (null: read here). `next`:
  // a batch to read meanwhile, between this one's transactions; complete when this returns,
  // or marked failed. `defer_last`: the last transaction's replies are left to the
  // connection's next use (redis::Connection::defer), which checks them.
  Status handle(redis::Connection& conn, const v1::Event& event, std::vector<Work>& work,
                const std::string& done_key, redis::Batch tail,
                std::chrono::system_clock::time_point now, Yield& yield,
                std::unique_ptr<BatchLoad> loaded = nullptr, Ahead* next = nullptr,
                bool defer_last = false);
  // Learns legacy_caps_until once (ledger.h) for every lane; the batches' cap reads need it.
  Status know_legacy_caps(redis::Connection& conn, std::chrono::system_clock::time_point now);
  // One pass over what has fallen due: at most kDuePerPass held messages.
  Result<int> run_due(redis::Connection& conn, std::chrono::system_clock::time_point now,
                      Yield& yield);
  static constexpr size_t kDuePerPass = 200;
  // Passes per due round while each finds a full kDuePerPass: a night's holds of a large
  // outage end together, and one pass a round released them at under 2,000 a second.
  static constexpr int kDuePassesPerRound = 10;
  void loop(int lane);

  redis::Endpoint endpoint_;
  const core::Sealer& sealer_;
  const core::TokenSigner& signer_;
  const templates::Catalog& catalog_;
  PlannerOptions options_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> waiting_lanes_{0};  // lanes blocked in XREADGROUP for a new entry
  std::atomic<int> bulk_nice_{0};  // options_.bulk_nice once start() found a lane can return
  std::shared_ptr<PriorityGate> gate_;
  std::atomic<std::chrono::steady_clock::duration::rep> yielded_{0};
  std::vector<std::thread> threads_;
  std::mutex caps_mu_;
  std::atomic<bool> caps_known_{false};
  std::string legacy_caps_until_;  // written once under caps_mu_ before caps_known_ is set
  std::mutex flights_mu_;
  std::map<std::string, Flight> flights_;
};

inline constexpr std::string_view kPlannerGroup = "planners";
inline constexpr std::string_view kDeferredKey = "deferred";
// Messages of one event revision and channel held until the same moment share a bitmap,
// `holdb:<due ms>:<revision>:<channel number>:<event id>`, bit n for customer n, which
// `deferred` holds as one member at that score (docs/architecture.md, "Held messages").
inline constexpr std::string_view kHoldBitsPrefix = "holdb:";
std::string hold_bits_key(int64_t due_ms, const v1::Event& event, v1::Channel channel);
// A fallback held until a moment is a member `<event>|<revision>|<channel>|<n>|<from>` of the
// set `hold:<due ms>`, as earlier releases held every message.
inline constexpr std::string_view kHoldPrefix = "hold:";
std::string hold_key(int64_t due_ms);
// A command that removes `member` from where it is held (see Work::deferred_set): a bitmap's
// bit, a set's member or a member of `deferred` itself.
redis::Command unhold_command(const std::string& set, const std::string& member);

}  // namespace herald::fanout
