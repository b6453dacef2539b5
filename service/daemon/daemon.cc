#include "service/daemon/daemon.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "channels/sandbox.h"
#include "service/api/services.h"
#include "service/callbacks/worker.h"
#include "service/common/metrics.h"
#include "service/common/thread_name.h"
#include "service/core/phone_validity.h"
#include "service/daemon/outlets.h"
#include "service/dispatch/dispatcher.h"
#include "service/events/event_store.h"
#include "service/fanout/gate_relay.h"
#include "service/fanout/planner.h"
#include "service/http/server.h"
#include "service/journey/worker.h"
#include "service/redis/pool.h"
#include "service/store/customer_store.h"
#include "service/store/redis_settings.h"
#include "templates/catalog.h"

namespace herald {
namespace {

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// The settings Herald's data layout is sized for (store/redis_settings.h).
awaitable<void> tune_redis(redis::Pool& pool) {
  auto r = co_await pool.exec(redis::batch(store::config_set_command()));
  if (!r.ok() || r->front().is_error()) {
    spdlog::warn("could not apply Herald's Redis settings (memory per customer will be higher): {}",
                 r.ok() ? r->front().str : r.error().message);
  }
}

}  // namespace

void configure_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("heraldd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  spdlog::set_level(spdlog::level::from_str(level));
}

int run_daemon(const core::Config& config, const std::string& ready_file) {
  auto endpoint = redis::Endpoint::parse(config.redis_url);
  auto sealer = core::Sealer::from_key(config.pii_key);
  auto signer = core::TokenSigner::from_key(config.token_key);
  if (!endpoint.ok() || !sealer.ok() || !signer.ok()) {
    spdlog::error("start-up: {}", !endpoint.ok() ? endpoint.error().message
                                  : !sealer.ok() ? sealer.error().message
                                                 : signer.error().message);
    return 2;
  }
  // Every template must be present and parse before anything is accepted.
  std::optional<templates::Catalog> catalog;
  try {
    catalog.emplace(templates::Catalog::load(config.templates_dir));
  } catch (const std::exception& e) {
    spdlog::error("start-up: templates: {}", e.what());
    return 2;
  }
  spdlog::info("templates: {} loaded from {}", catalog->size(), config.templates_dir);
  // The phone checks' metadata and the default region's patterns are loaded now, not by the
  // first request that carries a number.
  if (const auto& phones = core::PhoneValidity::instance(); phones.loaded()) {
    phones.prepare(config.default_region);
  } else {
    spdlog::warn(
        "phone checks: libphonenumber's metadata could not be read; every number is "
        "checked by libphonenumber itself (slower)");
  }
  if (config.api_keys.empty()) spdlog::warn("no API keys configured: only /healthz answers");

  Metrics metrics;
  redis::PoolOptions pool_options;
  pool_options.connections = config.redis_connections;
  pool_options.timeout = std::chrono::milliseconds(config.redis_timeout_ms);
  redis::Pool pool(*endpoint, pool_options, &metrics);
  store::CustomerStore customers(pool, *sealer);
  auto contacts = inbound::ContactIndex::from_pii_key(config.pii_key);  // decodes: sealer did
  customers.set_contact_index(&*contacts);
  core::Authenticator auth(config.api_keys, *signer);
  events::EventStore events(pool);
  // EMERGENCY work goes ahead of bulk planning and of the dispatchers' rounds, in this process
  // and, through the relay, in the others sharing the Redis; it starts at the accept.
  auto gate = std::make_shared<PriorityGate>();
  events.hold_for_urgent(gate.get());
  api::Services services{config, pool, customers, auth, *signer, metrics, wall_ms, events,
                         *sealer};
  http::Router router;
  services.catalog = &*catalog;
  services.contacts = &*contacts;
  api::add_all_routes(router, services);

  // One io_context per I/O thread: connections are spread over them, and each runs on one
  // thread, so requests do not contend for one scheduler or hop threads. The first also runs
  // the acceptor, signals and the callback worker.
  std::vector<std::unique_ptr<net::io_context>> workers;
  std::vector<net::io_context*> worker_ptrs;
  for (int i = 0; i < config.io_threads; ++i) {
    workers.push_back(std::make_unique<net::io_context>(1));
    worker_ptrs.push_back(workers.back().get());
  }
  net::io_context& io = *workers.front();
  // Each worker's own Redis connection, for its requests' small batches (redis/link.h).
  std::vector<std::shared_ptr<redis::Link>> links;
  if (config.redis_worker_links) {
    redis::LinkOptions link_options;
    link_options.timeout = pool_options.timeout;
    for (auto& w : workers) {
      links.push_back(std::make_shared<redis::Link>(*w, *endpoint, link_options, &metrics));
      links.back()->start();
    }
    pool.use_links(links);
  }
  http::ServerOptions options;
  options.body_limit = config.body_limit;
  options.read_timeout = std::chrono::seconds(config.read_timeout_s);
  options.idle_timeout = std::chrono::seconds(config.idle_timeout_s);
  http::Server server(worker_ptrs, router, metrics, options);
  auto bound =
      server.listen(tcp::endpoint(net::ip::make_address(config.listen_host), config.listen_port));
  if (!bound.ok()) {
    spdlog::error("cannot listen on {}:{}: {}", config.listen_host, config.listen_port,
                  bound.error().message);
    return 1;
  }
  spdlog::info("heraldd listening on {}:{} (redis {})", bound->address().to_string(), bound->port(),
               endpoint->describe());
  if (!ready_file.empty()) {
    std::ofstream(ready_file) << bound->address().to_string() << ':' << bound->port() << '\n';
  }

  // Fan-out and delivery run on threads of their own with their own Redis connections.
  std::vector<std::shared_ptr<channels::Channel>> outlets;
  try {
    outlets = build_outlets(config);
  } catch (const std::exception& e) {
    spdlog::error("start-up: channels: {}", e.what());
    return 2;
  }
  fanout::PlannerOptions planner_options;
  planner_options.consumer = fmt::format("heraldd-{}", ::getpid());
  planner_options.settings.etr_threshold = std::chrono::minutes(config.etr_threshold_min);
  planner_options.reminder_lead = std::chrono::minutes(config.reminder_lead_min);
  planner_options.lanes = config.planner_lanes;
  planner_options.shards = static_cast<uint32_t>(config.planner_shards);
  if (config.planner_shards > 1 && config.planner_shards >= config.planner_lanes) {
    spdlog::warn(
        "fanout.planner_shards ({}) is not below fanout.planner_lanes ({}): the parts of one "
        "large revision can occupy every lane of this process, and a new event then waits for "
        "a batch to end unless other heraldd processes have lanes free",
        config.planner_shards, config.planner_lanes);
  }
  planner_options.shard_min = static_cast<size_t>(config.planner_shard_min);
  planner_options.bulk_nice = config.planner_bulk_nice;
  planner_options.metrics = &metrics;
  planner_options.batch = static_cast<size_t>(config.planner_batch);
  planner_options.chunk = static_cast<size_t>(config.planner_chunk);
  planner_options.read_ahead = config.planner_read_ahead;
  planner_options.claim_idle = std::chrono::milliseconds(config.planner_claim_idle_ms);
  planner_options.compose.manage_url = config.public_url + "/v1/customers";
  planner_options.compose.token_ttl_s = config.token_ttl_s;
  // The relay is declared before the planner and dispatcher, whose passes call it, so it
  // outlives them.
  planner_options.gate = gate;
  fanout::GateRelay gate_relay(*endpoint, planner_options.gate,
                               {.from = fanout::relay_sender(planner_options.consumer)});
  fanout::Planner planner(*endpoint, *sealer, *signer, *catalog, planner_options);
  dispatch::DispatcherOptions dispatch_options =
      dispatch::dispatcher_options(config.dispatch, &metrics);
  dispatch_options.gate = planner_options.gate;
  dispatch::Dispatcher dispatcher(*endpoint, *sealer, outlets, dispatch_options);
  journey::WorkerOptions journey_options;
  journey_options.consumer = planner_options.consumer;
  journey_options.keywords = config.complaint_keywords_en.empty() ? journey::kDefaultKeywordsEn
                                                                  : config.complaint_keywords_en;
  const auto& es = config.complaint_keywords_es.empty() ? journey::kDefaultKeywordsEs
                                                        : config.complaint_keywords_es;
  journey_options.keywords.insert(journey_options.keywords.end(), es.begin(), es.end());
  journey_options.retention_days = config.touchpoint_retention_days;
  journey_options.sweep_interval = std::chrono::seconds(config.retention_sweep_s);
  journey::Worker journey_worker(*endpoint, *sealer, metrics, journey_options);
  metrics.gauge("herald_planner_bulk_wait_seconds",
                "Seconds bulk planning has waited for EMERGENCY revisions' first batches.",
                [&planner] { return std::chrono::duration<double>(planner.yielded()).count(); });
  gate_relay.start();
  planner.start();
  if (config.dispatch.enabled) {
    dispatcher.start();
  } else {
    spdlog::info("dispatch.enabled is false: messages are queued here and sent by other processes");
  }
  journey_worker.start();
  callbacks::DeskOptions desk_options;
  desk_options.horizon_days = config.callback_horizon_days;
  callbacks::Desk callback_desk(pool, customers, desk_options, wall_ms);
  callbacks::WorkerOptions callback_options;
  callback_options.consumer = planner_options.consumer;
  callbacks::Worker callback_worker(callback_desk, pool, *sealer, *catalog, callback_options);
  callback_worker.start(io);
  spdlog::info("fan-out started; sandbox channels write to {}", config.sandbox_dir);

  net::co_spawn(io, tune_redis(pool), net::detached);
  net::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: no new connections, finishing requests in flight", sig);
    server.stop();
    callback_worker.stop();
    for (auto& link : links) link->stop();  // each closes once its batches are answered
  });

  std::vector<std::thread> threads;
  for (size_t i = 1; i < workers.size(); ++i) threads.emplace_back([w = workers[i].get()] {
      name_this_thread("io");
      w->run();
    });
  io.run();
  for (auto& t : threads) t.join();
  planner.stop();
  dispatcher.stop();
  gate_relay.stop();
  journey_worker.stop();
  pool.release_links();  // no thread runs a worker or calls exec any more
  links.clear();         // before the workers' io_contexts they belong to
  pool.stop();
  spdlog::info("heraldd stopped");
  return 0;
}

}  // namespace herald
