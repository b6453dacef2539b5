#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "channels/channel.h"
#include "herald/v1/touchpoint.pb.h"
#include "service/core/crypto.h"
#include "service/redis/connection.h"
#include "tests/support/redis_server.h"

// Parts the dispatch tests share: a channel scripted by the test, messages sealed as the planner
// seals them, and readers for what the dispatcher leaves in Redis.
namespace herald::testing {

inline constexpr std::string_view kDispatchKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

core::Sealer dispatch_sealer();

// One send as the channel saw it.
struct SeenSend {
  std::string id;
  std::string to;
  uint32_t attempt = 0;
  v1::Channel fallback_from = v1::CHANNEL_UNSPECIFIED;
  std::chrono::steady_clock::time_point at;
  v1::Priority priority = v1::PRIORITY_UNSPECIFIED;
};

// A channel whose answer per message the test decides; records every send. Thread-safe.
class ScriptedChannel : public channels::Channel {
 public:
  using Script = std::function<channels::SendResult(const v1::OutboundMessage&, int attempt_no)>;
  ScriptedChannel(v1::Channel kind, std::string budget_key, Script script = {})
      : kind_(kind), budget_key_(std::move(budget_key)), script_(std::move(script)) {}

  v1::Channel kind() const override { return kind_; }
  std::string budget_key() const override { return budget_key_; }
  channels::SendResult send(const v1::OutboundMessage& msg,
                            const v1::MessageContent& content) override;

  std::vector<SeenSend> seen() const;
  int sends_of(const std::string& id) const;

 private:
  v1::Channel kind_;
  std::string budget_key_;
  Script script_;
  mutable std::mutex mu_;
  std::vector<SeenSend> seen_;
  std::map<std::string, int> count_;
};

channels::SendResult sent_result(std::string provider_id);
channels::SendResult retry_result(std::string code, std::chrono::milliseconds retry_after = {});
channels::SendResult permanent_result(channels::SendResult::Failure f, std::string code);

// "<event>:<revision>:<channel>:<num>", queued now, content sealed for that id.
v1::OutboundMessage sealed_message(std::string_view event, uint32_t revision, v1::Channel channel,
                                   v1::Priority priority, uint64_t num);

redis::Connection connect(const RedisServer& server);
void enqueue(redis::Connection& conn, const std::vector<v1::OutboundMessage>& msgs);
// As the planner queues them: up to kMessagesPerEntry to an entry of each stream.
void enqueue_grouped(redis::Connection& conn, const std::vector<v1::OutboundMessage>& msgs);
std::map<std::string, long long> funnel_of(redis::Connection& conn, std::string_view event);
// The SEND and DECISION touchpoints of one customer, oldest first.
std::vector<v1::Touchpoint> touchpoints_of(redis::Connection& conn, uint64_t num);
bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds limit);

}  // namespace herald::testing
