#include "service/fanout/planner.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <map>

#include "herald/v1/store.pb.h"
#include "herald/v1/touchpoint.pb.h"
#include "service/dispatch/queue.h"
#include "service/events/event_store.h"
#include "service/fanout/ledger.h"
#include "service/store/codec.h"
#include "service/store/keys.h"

namespace herald::fanout {
namespace {

using Clock = std::chrono::system_clock;
using google::protobuf::util::TimeUtil;
constexpr std::string_view kIntake = "intake";
constexpr v1::Channel kCustomerChannels[] = {v1::SMS, v1::EMAIL, v1::VOICE};

}  // namespace

Planner::Planner(redis::Endpoint endpoint, const core::Sealer& sealer,
                 const core::TokenSigner& signer, const templates::Catalog& catalog,
                 PlannerOptions options)
    : endpoint_(std::move(endpoint)),
      sealer_(sealer),
      signer_(signer),
      catalog_(catalog),
      options_(std::move(options)) {}

Planner::~Planner() { stop(); }

void Planner::start() {
  thread_ = std::thread([this] { loop(); });
}

void Planner::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void Planner::loop() {
  while (!stopping_) {
    auto conn = redis::Connection::connect(endpoint_, options_.redis_timeout);
    if (!conn.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    while (!stopping_) {
      auto n = run_once(*conn, Clock::now());
      if (!n.ok()) {
        spdlog::warn("planner: {}", n.error().message);
        break;
      }
      if (*n == 0) std::this_thread::sleep_for(options_.block);
    }
  }
}

Result<int> Planner::run_once(redis::Connection& conn, Clock::time_point now) {
  (void)conn.command(redis::cmd("XGROUP", "CREATE", kIntake, kPlannerGroup, "0", "MKSTREAM"));
  int handled = 0;
  // A dead planner's entries first, then new ones.
  auto claimed = check_reply(
      conn.command(redis::cmd("XAUTOCLAIM", kIntake, kPlannerGroup, options_.consumer,
                              std::to_string(options_.claim_idle.count()), "0-0", "COUNT", "10")));
  if (!claimed.ok()) return std::move(claimed).take_error();
  auto fresh =
      check_reply(conn.command(redis::cmd("XREADGROUP", "GROUP", kPlannerGroup, options_.consumer,
                                          "COUNT", "10", "STREAMS", kIntake, ">")));
  if (!fresh.ok()) return std::move(fresh).take_error();
  std::vector<const redis::Reply*> entries;
  if (claimed->elements.size() >= 2) {
    for (const auto& e : claimed->elements[1].elements) entries.push_back(&e);
  }
  if (!fresh->is_nil()) {
    for (const auto& stream : fresh->elements) {
      if (stream.elements.size() < 2) continue;
      for (const auto& e : stream.elements[1].elements) entries.push_back(&e);
    }
  }
  for (const redis::Reply* e : entries) {
    if (e->elements.size() < 2) continue;
    std::string event_id;
    uint32_t revision = 0;
    const auto& kv = e->elements[1].elements;
    for (size_t i = 0; i + 1 < kv.size(); i += 2) {
      if (kv[i].str == "event") event_id = kv[i + 1].str;
      if (kv[i].str == "revision") revision = static_cast<uint32_t>(std::stoul(kv[i + 1].str));
    }
    if (auto ok = plan_revision(conn, event_id, revision, now); !ok.ok()) {
      return std::move(ok).take_error();  // left pending: retried, or claimed by another
    }
    (void)conn.command(redis::cmd("XACK", kIntake, kPlannerGroup, e->elements[0].str));
    ++handled;
  }
  auto due = run_due(conn, now);
  if (!due.ok()) return std::move(due).take_error();
  return handled + *due;
}

Status Planner::plan_revision(redis::Connection& conn, const std::string& event_id,
                              uint32_t revision, Clock::time_point now) {
  auto reads = conn.pipeline(redis::batch(
      redis::cmd("GET", events::event_key(event_id)),
      redis::cmd("LINDEX", events::revisions_key(event_id), std::to_string(revision - 1)),
      redis::cmd("GET", fmt::format("plan:{{{}}}:{}", event_id, revision))));
  if (!reads.ok()) return std::move(reads).take_error();
  v1::EventState state;
  v1::Event planned;
  if (!state.ParseFromString((*reads)[0].str) || !planned.ParseFromString((*reads)[1].str)) {
    spdlog::warn("planner: event {} revision {} is not stored; skipped", event_id, revision);
    return ok_status();
  }
  const std::string cursor_key = fmt::format("plan:{{{}}}:{}", event_id, revision);
  if ((*reads)[2].str == "done") return ok_status();
  if (state.event().revision() > revision && overtaken(planned, state.event())) {
    // The newer revision's own intake entry tells everyone the current state.
    auto r = conn.command(
        redis::cmd("HINCRBY", dispatch::funnel_key(event_id), "revisions_skipped", "1"));
    (void)r;
    return ok_status();
  }
  AudienceCursor start;
  if (auto c = AudienceCursor::decode((*reads)[2].str)) start = *c;
  AudienceReader reader(conn, planned.area(), fmt::format("seen:{{{}}}:{}", event_id, revision),
                        start);
  for (;;) {
    auto batch = reader.next(options_.batch);
    if (!batch.ok()) return std::move(batch).take_error();
    if (batch->empty()) break;
    std::vector<Work> work;
    work.reserve(batch->size());
    for (auto& r : *batch) work.push_back(Work{r.num, std::move(r.premises), "", {}});
    redis::Batch tail;
    tail.push_back(redis::cmd("SET", cursor_key, reader.cursor().encode()));
    if (auto ok = handle(conn, planned, work, std::move(tail), now); !ok.ok()) return ok;
  }
  return check_reply(conn.command(redis::cmd("SET", cursor_key, "done"))).ok()
             ? ok_status()
             : make_error(ErrorCode::kUnavailable, "could not mark the revision planned");
}

}  // namespace herald::fanout
