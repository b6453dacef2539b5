#include "tests/support/dispatch_fixture.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <stdexcept>
#include <thread>

#include "service/dispatch/queue.h"
#include "service/store/touchpoints.h"

namespace herald::testing {

using channels::SendResult;

core::Sealer dispatch_sealer() {
  core::init_crypto();
  return *core::Sealer::from_key(kDispatchKey);
}

SendResult ScriptedChannel::send(const v1::OutboundMessage& msg,
                                 const v1::MessageContent& content) {
  int n = 0;
  {
    std::lock_guard lock(mu_);
    n = ++count_[msg.id()];
    seen_.push_back(SeenSend{msg.id(), content.to(), msg.attempt(), msg.fallback_from(),
                             std::chrono::steady_clock::now(), msg.priority()});
  }
  return script_ ? script_(msg, n) : sent_result("SM" + std::to_string(n) + msg.id());
}

std::vector<SeenSend> ScriptedChannel::seen() const {
  std::lock_guard lock(mu_);
  return seen_;
}

int ScriptedChannel::sends_of(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = count_.find(id);
  return it == count_.end() ? 0 : it->second;
}

SendResult sent_result(std::string provider_id) {
  SendResult r;
  r.provider_id = std::move(provider_id);
  return r;
}

SendResult retry_result(std::string code, std::chrono::milliseconds retry_after) {
  SendResult r;
  r.status = SendResult::Status::kRetry;
  r.error_code = std::move(code);
  r.retry_after = retry_after;
  return r;
}

SendResult permanent_result(SendResult::Failure f, std::string code) {
  SendResult r;
  r.status = SendResult::Status::kPermanent;
  r.failure = f;
  r.error_code = std::move(code);
  return r;
}

v1::OutboundMessage sealed_message(std::string_view event, uint32_t revision, v1::Channel channel,
                                   v1::Priority priority, uint64_t num) {
  v1::OutboundMessage m;
  m.set_id(fmt::format("{}:{}:{}:{}", event, revision, channels::channel_key(channel), num));
  m.set_customer_id(fmt::format("C-{}", num));
  m.set_customer_num(num);
  m.set_event_id(std::string(event));
  m.set_revision(revision);
  m.set_channel(channel);
  m.set_priority(priority);
  m.set_language("en");
  *m.mutable_queued_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  v1::MessageContent c;
  c.set_to(channel == v1::EMAIL ? fmt::format("resident{}@example.com", num)
                                : fmt::format("+1555{}", 1000000 + num));
  c.set_sms("Outage at 12 Elm St");
  c.set_text("Outage at 12 Elm St");
  c.set_voice("There is an outage at 12 Elm St");
  m.set_sealed_content(dispatch_sealer().seal(c.SerializeAsString(), m.id()));
  return m;
}

redis::Connection connect(const RedisServer& server) {
  auto conn = redis::Connection::connect(server.endpoint(), std::chrono::milliseconds(5000));
  if (!conn.ok()) throw std::runtime_error(conn.error().message);
  return std::move(*conn);
}

namespace {

void run_all(redis::Connection& conn, const redis::Batch& cmds) {
  auto replies = conn.pipeline(cmds);
  if (!replies.ok()) throw std::runtime_error(replies.error().message);
  for (const auto& r : *replies) {
    if (r.is_error()) throw std::runtime_error(r.str);
  }
}

}  // namespace

void enqueue(redis::Connection& conn, const std::vector<v1::OutboundMessage>& msgs) {
  redis::Batch cmds;
  for (const auto& m : msgs) cmds.push_back(dispatch::enqueue_command(m));
  run_all(conn, cmds);
}

void enqueue_grouped(redis::Connection& conn, const std::vector<v1::OutboundMessage>& msgs) {
  dispatch::EntryBatch batch;
  for (const auto& m : msgs) batch.add(m);
  redis::Batch cmds;
  batch.flush(cmds);
  run_all(conn, cmds);
}

std::map<std::string, long long> funnel_of(redis::Connection& conn, std::string_view event) {
  auto r = conn.command(redis::cmd("HGETALL", dispatch::funnel_key(event)));
  std::map<std::string, long long> out;
  for (size_t i = 0; r.ok() && i + 1 < r->elements.size(); i += 2) {
    out[r->elements[i].str] = std::stoll(r->elements[i + 1].str);
  }
  return out;
}

std::vector<v1::Touchpoint> touchpoints_of(redis::Connection& conn, uint64_t num) {
  std::vector<v1::Touchpoint> out;
  auto r = conn.command(redis::cmd("XRANGE", store::journey_key(num), "-", "+"));
  if (!r.ok()) return out;
  for (const std::string& bytes : store::touchpoints_in(*r, num, false)) {
    v1::Touchpoint tp;
    if (tp.ParseFromString(bytes)) out.push_back(std::move(tp));
  }
  return out;
}

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

}  // namespace herald::testing
