// Journey and report benchmarks against a running Redis (and heraldd for the HTTP side, driven
// by scripts/bench_journey.sh). Data is written the way every writer writes it: through
// store::append_touchpoint, in pipelines.
//   journey_bench journey REDIS_URL NUM TOUCHPOINTS OTHER_CUSTOMERS   fill one journey amid others
//   journey_bench event REDIS_URL EVENT_ID CUSTOMERS FIRST_NUM         a delivered event
//   journey_bench read REDIS_URL NUM RUNS                              in-process journey reads
//   journey_bench report REDIS_URL EVENT_ID RUNS                       in-process event reports
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <random>
#include <string>
#include <vector>

#include "herald/v1/event.pb.h"
#include "service/api/json.h"
#include "service/api/touchpoint_json.h"
#include "service/journey/reader.h"
#include "service/journey/report.h"
#include "service/redis/connection.h"
#include "service/redis/pool.h"
#include "service/store/touchpoints.h"

namespace herald {
namespace {

using google::protobuf::util::TimeUtil;
using Clock = std::chrono::steady_clock;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

redis::Connection connect(const char* url) {
  auto endpoint = redis::Endpoint::parse(url);
  if (!endpoint.ok()) throw std::runtime_error(endpoint.error().message);
  auto conn = redis::Connection::connect(*endpoint, std::chrono::seconds(30));
  if (!conn.ok()) throw std::runtime_error(conn.error().message);
  return std::move(*conn);
}

void flush(redis::Connection& conn, redis::Batch& batch) {
  if (batch.empty()) return;
  auto r = conn.pipeline(batch);
  if (!r.ok()) throw std::runtime_error(r.error().message);
  for (const auto& x : *r) {
    if (x.is_error()) throw std::runtime_error(x.str);
  }
  batch.clear();
}

v1::Touchpoint touchpoint(v1::TouchpointKind kind, const std::string& event, v1::Channel ch,
                          const std::string& status, int64_t at_ms, std::string detail) {
  v1::Touchpoint tp;
  tp.set_kind(kind);
  *tp.mutable_at() = TimeUtil::MillisecondsToTimestamp(at_ms);
  tp.set_event_id(event);
  tp.set_revision(1);
  tp.set_channel(ch);
  tp.set_status(status);
  tp.set_reason(kind == v1::DECISION ? "queued" : "");
  tp.set_detail(std::move(detail));
  return tp;
}

// One customer's 1,000 touchpoints interleaved with other customers' (about 10 each).
void fill_journey(const char* url, uint64_t num, int count, uint64_t others) {
  auto conn = connect(url);
  std::mt19937_64 rng(7);
  redis::Batch batch;
  const int64_t now = wall_ms();
  const int per_other = 10;
  const uint64_t other_total = others * per_other;
  const uint64_t step = std::max<uint64_t>(1, other_total / static_cast<uint64_t>(count));
  uint64_t written_others = 0;
  for (int i = 0; i < count; ++i) {
    const std::string ev = "OUT-" + std::to_string(i / 10);
    store::append_touchpoint(batch, num,
                             touchpoint(i % 3 ? v1::DELIVERY : v1::DECISION, ev,
                                        i % 4 ? v1::SMS : v1::EMAIL, i % 3 ? "delivered" : "queued",
                                        now, "ETR 6:00 PM"));
    for (uint64_t k = 0; k < step && written_others < other_total; ++k, ++written_others) {
      const uint64_t other = num + 1 + rng() % others;
      store::append_touchpoint(batch, other,
                               touchpoint(v1::DECISION, ev, v1::SMS, "queued", now, "ETR 7:30 PM"));
    }
    if (batch.size() > 4000) flush(conn, batch);
  }
  flush(conn, batch);
  std::printf("journey: customer %llu has %d touchpoints among %llu of %llu other customers\n",
              static_cast<unsigned long long>(num), count,
              static_cast<unsigned long long>(written_others),
              static_cast<unsigned long long>(others));
}

// A 1M-customer outage as the planner and the delivery webhooks leave it: a queued decision
// and a delivery per customer (2% undelivered), an email for one in ten, some STOPs.
void fill_event(const char* url, const std::string& event, uint64_t customers, uint64_t first) {
  auto conn = connect(url);
  const int64_t accepted = wall_ms() - 3'600'000;
  v1::EventState state;
  state.mutable_event()->set_id(event);
  state.mutable_event()->set_kind(v1::OUTAGE);
  state.mutable_event()->set_stage(v1::DETECTED);
  state.mutable_event()->set_revision(1);
  *state.mutable_created_at() = TimeUtil::MillisecondsToTimestamp(accepted);
  state.set_active(true);
  redis::Batch batch;
  batch.push_back(redis::cmd("SET", "ev:{" + event + "}", state.SerializeAsString()));
  std::mt19937_64 rng(11);
  std::exponential_distribution<double> delay(1.0 / 90'000.0);  // mean 90 s to delivery
  uint64_t sent = 0, email = 0;
  const auto start = Clock::now();
  for (uint64_t i = 0; i < customers; ++i) {
    const uint64_t n = first + i;
    const int64_t at = accepted + 2'000 + static_cast<int64_t>(delay(rng));
    store::append_touchpoint(batch, n, touchpoint(v1::DECISION, event, v1::SMS, "queued",
                                                  accepted + 1'000, "ETR 6:00 PM"));
    const char* status = rng() % 50 ? "delivered" : "undelivered";
    store::append_touchpoint(batch, n, touchpoint(v1::DELIVERY, event, v1::SMS, status, at, ""));
    ++sent;
    if (i % 10 == 0) {
      store::append_touchpoint(batch, n, touchpoint(v1::DECISION, event, v1::EMAIL, "queued",
                                                    accepted + 1'000, "ETR 6:00 PM"));
      ++email;
    }
    if (i % 200 == 0) {
      store::append_touchpoint(
          batch, n, touchpoint(v1::REPLY, event, v1::SMS, "STOP", at + 60'000, "STOP"));
    }
    if (batch.size() > 8000) flush(conn, batch);
  }
  const std::string fn = "fn:{" + event + "}";
  batch.push_back(redis::cmd("HSET", fn, "audience", std::to_string(customers), "sms:queued",
                             std::to_string(sent), "sms:sent", std::to_string(sent), "email:queued",
                             std::to_string(email), "email:sent", std::to_string(email)));
  flush(conn, batch);
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("event: %s with %llu customers written in %.1f s (%.0f customers/s)\n",
              event.c_str(), static_cast<unsigned long long>(customers), secs,
              static_cast<double>(customers) / secs);
}

// Runs `body` `runs` times on an io_context with a real pool; prints p50/p99/max in ms.
template <class Body>
void time_runs(const char* url, const char* what, int runs, Body body) {
  auto endpoint = redis::Endpoint::parse(url);
  redis::Pool pool(*endpoint, redis::PoolOptions{}, nullptr);
  net::io_context io;
  std::vector<double> ms;
  net::co_spawn(
      io,
      [&]() -> awaitable<void> {
        for (int i = 0; i < runs; ++i) {
          const auto t0 = Clock::now();
          co_await body(pool);
          ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
      },
      net::detached);
  io.run();
  pool.stop();
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))];
  };
  std::printf("%s: %d runs, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", what, runs, at(0.5),
              at(0.99), ms.back());
}

}  // namespace
}  // namespace herald

int main(int argc, char** argv) {
  using namespace herald;
  if (argc < 3) {
    std::fprintf(stderr, "usage: see the comment at the top of tests/bench/journey_bench.cc\n");
    return 2;
  }
  const std::string mode = argv[1];
  const char* url = argv[2];
  try {
    if (mode == "journey" && argc == 6) {
      fill_journey(url, std::stoull(argv[3]), std::stoi(argv[4]), std::stoull(argv[5]));
    } else if (mode == "event" && argc == 6) {
      fill_event(url, argv[3], std::stoull(argv[4]), std::stoull(argv[5]));
    } else if (mode == "read" && argc == 5) {
      const uint64_t num = std::stoull(argv[3]);
      size_t entries = 0, bytes = 0;
      time_runs(url, "journey read (1,000 per page, in process)", std::stoi(argv[4]),
                [&](redis::Pool& pool) -> awaitable<void> {
                  // Named arguments: g++ 12 mishandles braced temporaries in a co_await.
                  journey::PageRequest page;
                  page.limit = 1000;
                  journey::Filter filter;
                  auto r = co_await journey::read_journey(pool, num, std::move(filter), page);
                  std::vector<v1::Touchpoint> tps;  // printed as GET .../journey prints them
                  if (r.ok()) {
                    for (auto& e : r->entries) tps.push_back(std::move(e.tp));
                  }
                  entries = tps.size();
                  bytes = api::to_json_with_touchpoints(v1::Journey{}, tps).size();
                });
      std::printf("journey read: %zu entries, %zu bytes of JSON per read\n", entries, bytes);
    } else if (mode == "report" && argc == 5) {
      std::string json;
      const std::string event = argv[3];
      time_runs(url, "event report (in process)", std::stoi(argv[4]),
                [&](redis::Pool& pool) -> awaitable<void> {
                  std::vector<std::string> ids;
                  ids.push_back(event);
                  auto d = co_await journey::load_events(pool, ids);
                  if (d.ok() && !d->empty()) json = api::to_json(journey::event_report(d->front()));
                });
      std::printf("report: %s\n", json.c_str());
    } else {
      std::fprintf(stderr, "unknown mode or wrong arguments\n");
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "journey_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
