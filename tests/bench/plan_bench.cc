// heraldd's CPU for one customer of a fan-out, without Redis: what the planner does between a
// batch's reads and its transaction (docs/benchmarks.md, "Planning without Redis").
// Run: build/tests/bench/plan_bench (scripts/bench.sh runs it too).
#include <benchmark/benchmark.h>
#include <google/protobuf/util/time_util.h>

#include "service/api/fast_json.h"
#include "service/dispatch/queue.h"
#include "service/fanout/audience.h"
#include "service/fanout/compose.h"
#include "service/fanout/decide.h"
#include "service/fanout/ledger.h"
#include "service/store/codec.h"
#include "service/store/touchpoints.h"
#include "tests/bench/sample_customer.h"

namespace {

using namespace herald;
using Clock = std::chrono::system_clock;

const char* kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

// 2026-11-23 17:00 UTC: noon in New York, outside the customer's quiet hours.
const Clock::time_point kNoon = Clock::time_point(std::chrono::seconds(1795453200));

struct World {
  core::Sealer sealer = *core::Sealer::from_key(kKey);
  core::TokenSigner signer = *core::TokenSigner::from_key(kKey);
  templates::Catalog catalog = templates::Catalog::load(HERALD_SOURCE_DIR "/templates");
  v1::Event event;
  std::string record;
  fanout::Settings settings;
  fanout::ComposeOptions compose;

  World() {
    event.set_id("OUT-BENCH");
    event.set_kind(v1::OUTAGE);
    event.set_stage(v1::DETECTED);
    event.set_severity(v1::ADVISORY);
    event.set_revision(1);
    event.set_cause("storm damage");
    *event.mutable_estimated_restoration() =
        google::protobuf::util::TimeUtil::SecondsToTimestamp(1795474800);
    event.mutable_area()->add_zips("10009");
    // Two channels for outages, outside quiet hours at kNoon, with a callback offer line.
    v1::Customer c;
    (void)api::fast_parse(bench::kSampleCustomerLine, c);
    c.mutable_preferences()->set_callback_offers(true);
    record = store::encode_record(c, sealer, 1795453200000);
  }
};

const World& world() {
  static const World w;
  return w;
}

redis::Reply record_reply() {
  redis::Reply r;
  r.type = redis::Reply::Type::kString;
  r.str = world().record;
  return r;
}

// The record as Redis returns it, opened: protobuf parse and the contact's unsealing.
void BM_OpenRecord(benchmark::State& state) {
  const redis::Reply r = record_reply();
  for (auto _ : state) benchmark::DoNotOptimize(fanout::customer_from(r, world().sealer));
}
BENCHMARK(BM_OpenRecord);

// The same on an arena reset every 100 records, as the planner opens an audience batch's.
void BM_OpenRecordOnArena(benchmark::State& state) {
  const redis::Reply r = record_reply();
  auto arena = std::make_unique<google::protobuf::Arena>();
  size_t in_batch = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(fanout::customer_from(r, world().sealer, *arena));
    if (++in_batch == 100) {
      arena = std::make_unique<google::protobuf::Arena>();
      in_batch = 0;
    }
  }
}
BENCHMARK(BM_OpenRecordOnArena);

void BM_Decide(benchmark::State& state) {
  const World& w = world();
  const auto c = *fanout::customer_from(record_reply(), w.sealer);
  const fanout::CustomerState s;
  for (auto _ : state) {
    benchmark::DoNotOptimize(fanout::decide(c, w.event, v1::SMS, {}, s, kNoon, w.settings));
  }
}
BENCHMARK(BM_Decide);

// The message's variables: names, local times, the signed preference link.
void BM_MessageVars(benchmark::State& state) {
  const World& w = world();
  const auto c = *fanout::customer_from(record_reply(), w.sealer);
  for (auto _ : state) {
    benchmark::DoNotOptimize(fanout::message_vars(c, w.event, {0}, w.signer, w.compose, kNoon));
  }
}
BENCHMARK(BM_MessageVars);

// One message rendered, serialised and sealed, per channel.
void BM_Compose(benchmark::State& state) {
  const World& w = world();
  const auto channel = static_cast<v1::Channel>(state.range(0));
  const auto c = *fanout::customer_from(record_reply(), w.sealer);
  const auto vars = fanout::message_vars(c, w.event, {0}, w.signer, w.compose, kNoon);
  for (auto _ : state) {
    benchmark::DoNotOptimize(fanout::compose(c, 1, w.event, channel, v1::PRIORITY_NORMAL, vars,
                                             w.catalog, w.sealer, kNoon));
  }
  state.SetLabel(v1::Channel_Name(channel));
}
BENCHMARK(BM_Compose)->Arg(v1::SMS)->Arg(v1::EMAIL)->Arg(v1::VOICE);

// The planner's whole work for one customer with SMS and email queued: open the record (on an
// arena, as a batch's are), find the premises, decide both channels, compose, and write the
// dispatch entries, history fields, touchpoints and cap count into a transaction's commands
// (the messages, touchpoints and cap counts flushed every 50 customers, as a chunk does).
void BM_PlanOneCustomer(benchmark::State& state) {
  const World& w = world();
  const redis::Reply r = record_reply();
  const fanout::CustomerState s;
  redis::Batch tx;
  redis::Command caps = redis::cmd("BITFIELD", "caps:2026-11-23", "OVERFLOW", "SAT");
  store::TouchpointBatch tps;
  dispatch::EntryBatch queued;
  size_t in_chunk = 0;
  auto arena = std::make_unique<google::protobuf::Arena>();
  for (auto _ : state) {
    v1::Customer* c = fanout::customer_from(r, w.sealer, *arena);
    const auto premises = fanout::premises_in_area(*c, w.event.area());
    std::optional<templates::Vars> vars;
    for (v1::Channel ch : fanout::channels_for(*c, w.event.kind())) {
      const auto d = fanout::decide(*c, w.event, ch, {}, s, kNoon, w.settings);
      if (d.action != fanout::Action::kQueue) continue;
      if (!vars) vars = fanout::message_vars(*c, w.event, premises, w.signer, w.compose, kNoon);
      auto msg = fanout::compose(*c, 1, w.event, ch, d.priority, *vars, w.catalog, w.sealer, kNoon);
      queued.add(*msg);
      tx.push_back(redis::cmd("HSET", "hist", fanout::history_field(1, ch),
                              fanout::encode_history_text({})));
      fanout::add_touchpoint(tx, tps, 1, *c, w.event, ch, "queued", d, "ETR 6:00 PM", kNoon);
    }
    caps.emplace_back("INCRBY");
    caps.emplace_back(fanout::kCapType);
    caps.push_back(fanout::cap_offset("1"));
    caps.emplace_back("1");
    if (++in_chunk == 50) {
      tx.push_back(std::move(caps));
      caps = redis::cmd("BITFIELD", "caps:2026-11-23", "OVERFLOW", "SAT");
      arena = std::make_unique<google::protobuf::Arena>();
      queued.flush(tx);
      tps.flush(tx);
      benchmark::DoNotOptimize(tx.data());
      tx.clear();
      in_chunk = 0;
    }
  }
}
BENCHMARK(BM_PlanOneCustomer);

}  // namespace

BENCHMARK_MAIN();
