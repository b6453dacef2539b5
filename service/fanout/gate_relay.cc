#include "service/fanout/gate_relay.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <random>

#include "service/common/thread_name.h"
#include "service/redis/connection.h"

namespace herald::fanout {
namespace {

using Clock = PriorityGate::Clock;

std::optional<redis::Connection> connect(const redis::Endpoint& endpoint,
                                         std::chrono::milliseconds timeout, const char* who,
                                         bool& reported) {
  auto conn = redis::Connection::connect(endpoint, timeout);
  if (conn.ok()) {
    if (reported) spdlog::info("gate relay {}: connected again", who);
    reported = false;
    return std::move(*conn);
  }
  if (!reported) spdlog::warn("gate relay {}: {}", who, conn.error().message);
  reported = true;
  return std::nullopt;
}

// The last entry's id, so that reading starts after it: "0-0" for an empty stream.
std::optional<std::string> stream_end(redis::Connection& conn) {
  auto r = conn.command(redis::cmd("XREVRANGE", std::string(kUrgentKey), "+", "-", "COUNT", "1"));
  if (!r.ok() || r->type != redis::Reply::Type::kArray) return std::nullopt;
  if (r->elements.empty() || r->elements[0].elements.empty()) return std::string("0-0");
  return r->elements[0].elements[0].str;
}

}  // namespace

std::string relay_sender(std::string_view prefix) {
  std::random_device rd;
  return fmt::format("{}-{:08x}", prefix, rd());
}

GateRelay::GateRelay(redis::Endpoint endpoint, std::shared_ptr<PriorityGate> gate,
                     GateRelayOptions options)
    : endpoint_(std::move(endpoint)), gate_(std::move(gate)), options_(std::move(options)) {}

GateRelay::~GateRelay() { stop(); }

void GateRelay::start() {
  gate_->set_observer([this] {
    {
      std::lock_guard lock(mu_);
      changed_ = true;
    }
    cv_.notify_all();
  });
  announcer_ = std::thread([this] {
    name_this_thread("gate-announce");
    announce();
  });
  listener_ = std::thread([this] {
    name_this_thread("gate-listen");
    listen();
  });
}

void GateRelay::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (announcer_.joinable()) announcer_.join();
  if (listener_.joinable()) listener_.join();
}

bool GateRelay::pause(std::chrono::milliseconds ms) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, ms, [this] { return stopping_; });
}

void GateRelay::announce() {
  std::optional<redis::Connection> conn;
  bool reported = false;
  bool out = false;  // the last announcement sent holds the others (a lease, not its end)
  Clock::time_point renew_at{};
  const auto renew_every = std::max(options_.lease / 4, std::chrono::milliseconds(1));
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lock(mu_);
      auto woken = [this] { return changed_ || stopping_; };
      if (out) {
        cv_.wait_until(lock, renew_at, woken);
      } else {
        cv_.wait(lock, woken);
      }
      changed_ = false;
      stopping = stopping_;
    }
    const bool held = !stopping && gate_->urgent() > 0;
    // Another pass while one is announced changes nothing until the renewal falls due.
    if (held == out && (!held || Clock::now() < renew_at)) {
      if (stopping) return;
      continue;
    }
    bool sent = false;
    if (!conn) conn = connect(endpoint_, options_.redis_timeout, "announcer", reported);
    if (conn) {
      auto r = conn->command(redis::cmd("XADD", std::string(kUrgentKey), "MAXLEN", "~", "1000",
                                        "*", "from", options_.from, "lease",
                                        std::to_string(held ? options_.lease.count() : 0)));
      sent = r.ok() && !r->is_error();
      if (!sent) {
        if (!reported) spdlog::warn("gate relay announcer: {}", r.ok() ? r->str : r.error().message);
        reported = true;
        conn.reset();
      }
    }
    if (sent) {
      out = held;
      renew_at = Clock::now() + renew_every;
    }
    if (stopping) return;  // one attempt at the end: the lease runs out by itself otherwise
    if (!sent) {
      if (!pause(options_.reconnect_backoff)) return;
      std::lock_guard lock(mu_);
      changed_ = true;  // try again
    }
  }
}

void GateRelay::listen() {
  std::optional<redis::Connection> conn;
  bool reported = false;
  std::string last;
  std::map<std::string, Clock::time_point> leases;  // other senders: when their hold ends
  auto stopping = [this] {
    std::lock_guard lock(mu_);
    return stopping_;
  };
  while (!stopping()) {
    if (!conn) {
      conn = connect(endpoint_, options_.redis_timeout, "listener", reported);
      std::optional<std::string> end = conn ? stream_end(*conn) : std::nullopt;
      if (!end) {
        conn.reset();
        pause(options_.reconnect_backoff);
        continue;
      }
      last = std::move(*end);
    }
    auto r = conn->command(redis::cmd("XREAD", "COUNT", "100", "BLOCK",
                                      std::to_string(options_.block.count()), "STREAMS",
                                      std::string(kUrgentKey), last));
    if (!r.ok() || r->is_error()) {
      if (!reported) spdlog::warn("gate relay listener: {}", r.ok() ? r->str : r.error().message);
      reported = true;
      conn.reset();
      pause(options_.reconnect_backoff);
      continue;
    }
    const auto now = Clock::now();
    for (const redis::Reply& stream : r->elements) {
      if (stream.elements.size() != 2) continue;
      for (const redis::Reply& entry : stream.elements[1].elements) {
        if (entry.elements.size() != 2) continue;
        last = entry.elements[0].str;
        std::string from;
        long long lease = -1;
        const auto& fields = entry.elements[1].elements;
        for (size_t i = 0; i + 1 < fields.size(); i += 2) {
          if (fields[i].str == "from") from = fields[i + 1].str;
          if (fields[i].str == "lease") lease = std::strtoll(fields[i + 1].str.c_str(), nullptr, 10);
        }
        if (from.empty() || from == options_.from || lease < 0) continue;
        if (lease == 0) {
          leases.erase(from);
        } else {
          leases[from] = now + std::chrono::milliseconds(std::min(lease, 60'000LL));
        }
      }
    }
    Clock::time_point until{};
    for (auto it = leases.begin(); it != leases.end();) {
      if (it->second <= now) {
        it = leases.erase(it);
      } else {
        until = std::max(until, it->second);
        ++it;
      }
    }
    gate_->hold_remote_until(until);
  }
  gate_->hold_remote_until({});
}

}  // namespace herald::fanout
