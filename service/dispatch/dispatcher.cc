#include "service/dispatch/dispatcher.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>

#include "service/events/event_store.h"
#include "service/fanout/decide.h"

namespace herald::dispatch {
namespace {

using channels::SendResult;
using Clock = std::chrono::steady_clock;

SendResult permanent(std::string code, std::string detail) {
  SendResult r;
  r.status = SendResult::Status::kPermanent;
  r.error_code = std::move(code);
  r.detail = std::move(detail);
  return r;
}

}  // namespace

SendResult deliver(const v1::OutboundMessage& msg, const core::Sealer& sealer,
                   channels::Channel& channel) {
  auto opened = sealer.open(msg.sealed_content(), msg.id());
  if (!opened.ok()) return permanent("unsealable", "content does not open with this key");
  v1::MessageContent content;
  if (!content.ParseFromString(*opened)) return permanent("bad_content", "content is not valid");
  return channel.send(msg, content);
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
  for (const auto& channel : channels_) {
    for (int i = 0; i < std::max(1, options_.threads_per_channel); ++i) {
      std::string consumer =
          fmt::format("{}/{}/{}", options_.consumer, channels::channel_key(channel->kind()), i);
      threads_.emplace_back(
          [this, ch = channel.get(), consumer = std::move(consumer)] { run(*ch, consumer); });
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
  return Counts{sent_.load(), failed_.load(), retried_.load(), malformed_.load()};
}

bool Dispatcher::pause(std::chrono::milliseconds ms) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, ms, [this] { return stopping(); });
}

void Dispatcher::run(channels::Channel& channel, std::string consumer) {
  const v1::Channel kind = channel.kind();
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
  while (!stopping()) {
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
    Result<std::vector<Entry>> entries = std::vector<Entry>{};
    if (Clock::now() >= next_claim) {
      entries = queue->claim_idle(consumer, kind, options_.min_idle, options_.batch);
      // A full batch means more may be waiting: keep claiming before reading new entries.
      const bool full = entries.ok() && entries->size() >= options_.batch;
      next_claim = full ? Clock::now() : Clock::now() + options_.claim_every;
    }
    if (entries.ok() && entries->empty()) {
      entries = queue->read(consumer, kind, options_.batch, options_.block);
    }
    if (!entries.ok()) {
      fail("read", entries.error());
      continue;
    }
    if (!entries->empty() && !settle(*queue, channel, *entries)) queue.reset();
  }
}

namespace {

// Never stale: a queued message whose event moved on (e.g. "ETR 6 pm" after "restored", or
// anything after a cancellation) is dropped unsent. One lookup per event and revision per batch;
// a message whose event is not stored (or cannot be read) is sent.
class StaleCheck {
 public:
  explicit StaleCheck(redis::Connection& conn) : conn_(conn) {}

  bool stale(const v1::OutboundMessage& m) {
    const v1::Event* current = event(m.event_id(), 0);
    if (!current || current->revision() <= m.revision()) return false;
    const v1::Event* planned = event(m.event_id(), m.revision());
    return planned && fanout::overtaken(*planned, *current);
  }

 private:
  // revision 0: the current state.
  const v1::Event* event(const std::string& id, uint32_t revision) {
    auto key = std::make_pair(id, revision);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second ? &*it->second : nullptr;
    std::optional<v1::Event> found;
    auto r = revision == 0 ? conn_.command(redis::cmd("GET", events::event_key(id)))
                           : conn_.command(redis::cmd("LINDEX", events::revisions_key(id),
                                                      std::to_string(revision - 1)));
    if (r.ok() && r->type == redis::Reply::Type::kString) {
      if (revision == 0) {
        v1::EventState state;
        if (state.ParseFromString(r->str)) found = state.event();
      } else {
        v1::Event e;
        if (e.ParseFromString(r->str)) found = std::move(e);
      }
    }
    auto& slot = cache_[key] = std::move(found);
    return slot ? &*slot : nullptr;
  }

  redis::Connection& conn_;
  std::map<std::pair<std::string, uint32_t>, std::optional<v1::Event>> cache_;
};

}  // namespace

bool Dispatcher::settle(DispatchQueue& queue, channels::Channel& channel,
                        std::vector<Entry>& entries) {
  redis::Batch cmds;
  StaleCheck check(queue.connection());
  for (const auto& e : entries) {
    // Entries not reached before a stop stay pending and are claimed after min_idle.
    if (stopping()) break;
    if (!e.valid) {
      spdlog::warn("dispatch: entry {} of {} holds no message; dropped", e.id, e.stream);
      for (auto& c : ack_commands(e)) cmds.push_back(std::move(c));
      ++malformed_;
      continue;
    }
    if (check.stale(e.message)) {
      cmds.push_back(settle_command(e, "stale"));
      continue;
    }
    SendResult r = deliver(e.message, sealer_, channel);
    switch (r.status) {
      case SendResult::Status::kSent:
        cmds.push_back(settle_command(e, "sent"));
        ++sent_;
        break;
      case SendResult::Status::kPermanent:
        spdlog::warn("dispatch: {} failed: {} {}", e.message.id(), r.error_code, r.detail);
        cmds.push_back(settle_command(e, "failed"));
        ++failed_;
        break;
      case SendResult::Status::kRetry:
        spdlog::debug("dispatch: {} left for retry: {} {}", e.message.id(), r.error_code, r.detail);
        ++retried_;
        break;
    }
  }
  if (cmds.empty()) return true;
  auto replies = queue.connection().pipeline(cmds);
  if (!replies.ok()) {
    // Sent but not acked: these are claimed and sent again after min_idle (at-least-once).
    spdlog::warn("dispatch: ack of {} entries failed: {}", cmds.size(), replies.error().message);
    return false;
  }
  for (const auto& r : *replies) {
    if (r.is_error()) spdlog::warn("dispatch: ack: {}", r.str);
  }
  return true;
}

}  // namespace herald::dispatch
