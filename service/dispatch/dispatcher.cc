#include "service/dispatch/dispatcher.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <random>

#include "service/common/thread_name.h"
#include "service/common/thread_nice.h"
#include "service/dispatch/budget.h"
#include "service/dispatch/round.h"

namespace herald::dispatch {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "heraldd";
  return buf;
}

}  // namespace

DispatcherOptions dispatcher_options(const core::DispatchSettings& s, Metrics* metrics) {
  DispatcherOptions o;
  o.consumer = s.consumer.empty() ? host_name() : s.consumer;
  o.threads_per_channel = s.threads_per_channel;
  o.batch = static_cast<size_t>(s.batch);
  o.min_idle = milliseconds(s.claim_idle_ms);
  o.claim_every = std::min(o.claim_every, milliseconds(s.claim_idle_ms) / 2);
  o.retry.base = milliseconds(s.backoff_base_ms);
  o.retry.cap = milliseconds(s.backoff_cap_ms);
  o.retry.max_attempts = static_cast<uint32_t>(s.max_attempts);
  o.retry.max_age = std::chrono::seconds(s.max_age_s);
  o.limits[v1::SMS].rate_per_s = s.sms_rate_per_s;
  o.limits[v1::EMAIL].rate_per_s = s.email_rate_per_s;
  o.limits[v1::WEBHOOK].rate_per_s = s.webhook_rate_per_s;
  o.limits[v1::VOICE] = ChannelLimits{s.voice_rate_per_s, s.voice_max_concurrent_calls,
                                      std::chrono::seconds(s.voice_call_ceiling_s)};
  o.bulk_nice = s.bulk_nice;
  o.metrics = metrics;
  return o;
}

Dispatcher::Dispatcher(redis::Endpoint endpoint, core::Sealer sealer,
                       std::vector<std::shared_ptr<channels::Channel>> channels,
                       DispatcherOptions options)
    : endpoint_(std::move(endpoint)),
      sealer_(std::move(sealer)),
      channels_(std::move(channels)),
      options_(std::move(options)) {}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  bulk_nice_ = 0;
  if (options_.bulk_nice > 0) {
    if (ThreadNice::can_be_restored(options_.bulk_nice)) {
      bulk_nice_ = options_.bulk_nice;
    } else {
      spdlog::warn(
          "dispatch: NORMAL messages are sent at the process's nice value, not {}: a sending "
          "thread could not return for EMERGENCY ones without CAP_SYS_NICE or RLIMIT_NICE 20 "
          "(systemd: LimitNICE=+0)",
          options_.bulk_nice);
    }
  }
  for (const auto& channel : channels_) {
    for (int i = 0; i < std::max(1, options_.threads_per_channel); ++i) {
      std::string consumer =
          fmt::format("{}/{}/{}", options_.consumer, channels::channel_key(channel->kind()), i);
      std::string name = fmt::format("send-{}-{}", channels::channel_key(channel->kind()), i);
      threads_.emplace_back([this, ch = channel.get(), consumer = std::move(consumer),
                             name = std::move(name)] {
        name_this_thread(name);
        run(*ch, consumer);
      });
    }
  }
}

void Dispatcher::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

Dispatcher::Counts Dispatcher::counts() const {
  return Counts{sent_.load(),  failed_.load(),    retried_.load(), expired_.load(),
                stale_.load(), malformed_.load(), guarded_.load(), fallbacks_.load()};
}

bool Dispatcher::pause(milliseconds ms) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, ms, [this] { return stopping(); });
}

void Dispatcher::count(v1::Channel kind, const Tally& tally) {
  for (const auto& [outcome, n] : tally.outcomes) {
    if (outcome == "sent") sent_ += n;
    if (outcome == "failed") failed_ += n;
    if (outcome == "retried") retried_ += n;
    if (outcome == "expired") expired_ += n;
    if (outcome == "stale") stale_ += n;
    if (options_.metrics) {
      options_.metrics->add("herald_dispatch_messages_total", "outcome",
                            fmt::format("{}:{}", channels::channel_key(kind), outcome),
                            static_cast<double>(n));
    }
  }
  malformed_ += tally.malformed;
  guarded_ += tally.guarded;
  fallbacks_ += tally.fallbacks;
}

void Dispatcher::run(channels::Channel& channel, std::string consumer) {
  const v1::Channel kind = channel.kind();
  const auto found = options_.limits.find(kind);
  const ChannelLimits limits = found == options_.limits.end() ? ChannelLimits{} : found->second;
  Budget budget(channel.budget_key(), limits.rate_per_s, limits.max_concurrent_calls,
                limits.call_ceiling);
  std::mt19937_64 rng{std::random_device{}()};
  std::optional<DispatchQueue> queue;
  bool reported = false;  // one warning per outage, not one per attempt
  auto fail = [&](const std::string& what, const Error& e) {
    if (!reported) spdlog::warn("dispatch {}: {}: {}", consumer, what, e.message);
    reported = true;
    queue.reset();
    pause(options_.reconnect_backoff);
  };
  // The first round claims, so a restarted process takes over what a dead one left behind.
  auto next_claim = Clock::now();
  auto next_move = Clock::now();
  auto next_prune = Clock::now() + options_.prune_every;
  // The thread steps back for a round of NORMAL messages only and returns right after it.
  NiceSteps nice;
  auto step_back = [&](bool bulk) {
    if (const int err = nice.step(bulk, bulk_nice_); err != 0) {
      spdlog::warn("dispatch {}: no {} nice value, no thread steps back from now on: {}", consumer,
                   bulk ? "bulk" : "own", std::strerror(err));
    }
  };
  while (!stopping()) {
    step_back(false);  // also after a round an error cut short
    if (!queue) {
      auto conn = redis::Connection::connect(endpoint_, options_.redis_timeout);
      if (!conn.ok()) {
        fail("connect", conn.error());
        continue;
      }
      queue.emplace(std::move(*conn));
      if (auto s = queue->ensure_groups(kind); !s.ok()) {
        fail("groups", s.error());
        continue;
      }
      if (reported) spdlog::info("dispatch {}: connected again", consumer);
      reported = false;
    }
    redis::Connection& conn = queue->connection();
    if (Clock::now() >= next_move) {
      auto moved = conn.command(move_due_command(kind, unix_ms(SysClock::now()), options_.batch * 4));
      if (!moved.ok()) {
        fail("retries", moved.error());
        continue;
      }
      // A full move means more are due: move again next round.
      const bool more = moved->integer >= static_cast<long long>(options_.batch * 4);
      next_move = more ? Clock::now() : Clock::now() + options_.retry_poll;
    }
    if (Clock::now() >= next_prune) {
      auto pruned = queue->prune_consumers(kind, options_.min_idle * 10);
      if (pruned.ok() && *pruned > 0) spdlog::info("dispatch: {} idle consumers removed", *pruned);
      next_prune = Clock::now() + options_.prune_every;
    }

    if (options_.gate) options_.gate->yield(0, options_.yield_max);
    auto grant = budget.take(conn, static_cast<int64_t>(options_.batch));
    if (!grant.ok()) {
      fail("budget", grant.error());
      continue;
    }
    if (grant->granted == 0) {
      pause(std::clamp(grant->wait, milliseconds(1), options_.block));
      continue;
    }
    const bool claim = Clock::now() >= next_claim;
    const size_t want = static_cast<size_t>(grant->granted);
    auto entries = queue->take(consumer, kind, want, claim, options_.min_idle);
    if (!entries.ok()) {
      fail("read", entries.error());
      continue;
    }
    // A full round may leave more idle entries: claim again next round.
    if (claim) next_claim = entries->size() >= want ? Clock::now() : Clock::now() + options_.claim_every;
    // Entries are taken whole: a few messages more than granted ask the budget again, and
    // what it still refuses goes back to the retry set (run_round).
    Grant tokens{static_cast<int64_t>(std::min(entries->size(), want)), {}};
    if (entries->size() < want) {
      if (auto s = budget.give_back(conn, static_cast<int64_t>(want - entries->size())); !s.ok()) {
        fail("budget", s.error());
        continue;
      }
    } else if (entries->size() > want) {
      auto more = budget.take(conn, static_cast<int64_t>(entries->size() - want));
      if (!more.ok()) {
        fail("budget", more.error());
        continue;
      }
      tokens = Grant{tokens.granted + more->granted, more->wait};
    }
    if (entries->empty()) {
      if (auto s = queue->wait_for_new(kind, options_.block); !s.ok()) fail("wait", s.error());
      continue;
    }
    step_back(std::none_of(entries->begin(), entries->end(), [](const Entry& e) {
      return e.valid && (e.message.priority() == v1::PRIORITY_EMERGENCY ||
                         e.message.priority() == v1::PRIORITY_MEDICAL);
    }));
    RoundContext ctx{conn, sealer_, channel, budget, options_.retry, rng, options_.batch};
    auto tally = run_round(ctx, *entries, SysClock::now(), tokens);
    if (!tally.ok()) {
      // Not acked: claimed again after min_idle; those sent hold a guard if it was written.
      fail("settle", tally.error());
      continue;
    }
    count(kind, *tally);
  }
}

}  // namespace herald::dispatch
