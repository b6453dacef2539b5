#include "service/events/event_store.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "service/events/stages.h"
#include "service/events/validate_event.h"
#include "service/store/scripts.h"

namespace herald::events {
namespace {

using google::protobuf::util::TimeUtil;
constexpr int kUpdateAttempts = 8;
constexpr size_t kHashLength = 64;

// ARGV: ev-key, evr-key, active-key, intake-key, idem-key ('' for none), id, expected revision,
// state, revision, active ('1'/'0'), score, body hash, answer, idem ttl, urgent ('1'/'0': the
// intake entry gets urgent=1, so planners put it ahead of bulk work before reading the event,
// and planned=<the revision's bytes>, so the planner that takes it first need not read them).
// The revision count is LLEN evr:{id}: both are written here, so they always agree.
// Replies: {'OK'}, {'DUP', answer} (same key and body before), {'KEY'} (same key, other
// body), {'EXISTS'} (a new event whose id is taken), {'RACE'} (another revision landed).
constexpr std::string_view kAcceptLua = R"lua(
local evk, evrk, activek, intakek, idemk = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local id, expected, hash = ARGV[6], tonumber(ARGV[7]), ARGV[12]
if idemk ~= '' then
  local seen = redis.call('GET', idemk)
  if seen then
    if string.sub(seen, 1, 64) == hash then return {'DUP', string.sub(seen, 65)} end
    return {'KEY'}
  end
end
local have = redis.call('LLEN', evrk)
if expected == 0 and (have > 0 or redis.call('EXISTS', evk) == 1) then return {'EXISTS'} end
if have ~= expected then return {'RACE'} end
redis.call('SET', evk, ARGV[8])
redis.call('RPUSH', evrk, ARGV[9])
if ARGV[10] == '1' then
  redis.call('ZADD', activek, ARGV[11], id)
else
  redis.call('ZREM', activek, id)
end
local entry = {'event', id, 'revision', tostring(expected + 1)}
if ARGV[15] == '1' then
  entry[5], entry[6], entry[7], entry[8] = 'urgent', '1', 'planned', ARGV[9]
end
redis.call('XADD', intakek, '*', unpack(entry))
if idemk ~= '' then redis.call('SET', idemk, hash .. ARGV[13], 'EX', ARGV[14]) end
return {'OK'}
)lua";

const store::Script& accept_script() {
  static const store::Script script{std::string(kAcceptLua)};
  return script;
}

Error key_reused() {
  return make_error(ErrorCode::kConflict,
                    "this Idempotency-Key was used with a different request; use a new key",
                    "Idempotency-Key");
}

Result<Acceptance> replayed(std::string_view answer) {
  Acceptance a;
  if (!a.accepted.ParseFromArray(answer.data(), static_cast<int>(answer.size()))) {
    return make_error(ErrorCode::kInternal, "unreadable idempotency answer in Redis");
  }
  a.replayed = true;
  return a;
}

int64_t millis(const google::protobuf::Timestamp& t) {
  return TimeUtil::TimestampToMilliseconds(t);
}

// The state after `update`, from the stored state in `r`, checked against the stage machine.
Result<v1::EventState> next_state(const redis::Reply& r, const std::string& id,
                                  const v1::EventUpdate& update,
                                  const google::protobuf::Timestamp& now) {
  if (r.is_error()) return make_error(ErrorCode::kInternal, "redis: " + r.str);
  if (r.is_nil()) return make_error(ErrorCode::kNotFound, "no event " + id);
  v1::EventState state;
  if (!state.ParseFromString(r.str)) {
    return make_error(ErrorCode::kInternal, "unreadable state of event " + id);
  }
  v1::Event& event = *state.mutable_event();
  if (auto ok = check_transition(event.kind(), event.stage(), update.stage()); !ok.ok()) {
    return std::move(ok).take_error();
  }
  apply_update(event, update);
  if (auto ok = validate_merged(event); !ok.ok()) return std::move(ok).take_error();
  event.set_revision(event.revision() + 1);
  *event.mutable_accepted_at() = now;
  *state.mutable_updated_at() = now;
  state.set_active(is_active(event.stage()));
  return state;
}

// The accept script's ARGV (see kAcceptLua).
std::vector<std::string> accept_args(const v1::EventState& state, uint32_t expected,
                                     const std::string& idem_key, std::string body_hash,
                                     int64_t created_ms, const v1::EventAccepted& answer) {
  const v1::Event& event = state.event();
  std::vector<std::string> args;
  args.reserve(15);
  args.push_back(event_key(event.id()));
  args.push_back(revisions_key(event.id()));
  args.push_back(std::string(kActiveKey));
  args.push_back(std::string(kIntakeKey));
  args.push_back(idem_key.empty() ? std::string() : idempotency_key(idem_key));
  args.push_back(event.id());
  args.push_back(std::to_string(expected));
  args.push_back(state.SerializeAsString());
  args.push_back(event.SerializeAsString());
  args.push_back(state.active() ? "1" : "0");
  args.push_back(std::to_string(created_ms));
  args.push_back(std::move(body_hash));
  args.push_back(answer.SerializeAsString());
  args.push_back(std::to_string(kIdempotencyTtlS));
  args.push_back(is_emergency(event) ? "1" : "0");
  return args;
}

}  // namespace

std::string event_key(std::string_view id) { return fmt::format("ev:{{{}}}", id); }
std::string revisions_key(std::string_view id) { return fmt::format("evr:{{{}}}", id); }
std::string idempotency_key(std::string_view key) { return fmt::format("idem:{{{}}}", key); }

awaitable<Result<std::optional<Acceptance>>> EventStore::write(const v1::EventState& state,
                                                               uint32_t expected,
                                                               std::string idem_key,
                                                               std::string body_hash,
                                                               int64_t created_ms) {
  const v1::Event& event = state.event();
  v1::EventAccepted answer;
  answer.set_id(event.id());
  answer.set_revision(event.revision());
  auto args = accept_args(state, expected, idem_key, std::move(body_hash), created_ms, answer);
  if (gate_ && is_emergency(event)) gate_->hold_until(PriorityGate::Clock::now() + hold_);
  auto reply = co_await accept_script().run(pool_, std::move(args));
  if (!reply.ok()) co_return std::move(reply).take_error();
  if (reply->elements.empty()) {
    co_return make_error(ErrorCode::kInternal, "unexpected reply from the event script");
  }
  const std::string& tag = reply->elements[0].str;
  if (tag == "OK") co_return std::optional<Acceptance>{Acceptance{answer, false}};
  if (tag == "RACE") co_return std::optional<Acceptance>{};
  if (tag == "KEY") co_return key_reused();
  if (tag == "EXISTS") {
    co_return make_error(ErrorCode::kConflict,
                         "event " + event.id() +
                             " already exists; "
                             "change it with POST /v1/events/" +
                             event.id() + "/updates",
                         "id");
  }
  if (tag == "DUP" && reply->elements.size() == 2) {
    auto a = replayed(reply->elements[1].str);
    if (!a.ok()) co_return std::move(a).take_error();
    co_return std::optional<Acceptance>{std::move(*a)};
  }
  co_return make_error(ErrorCode::kInternal, "unexpected reply from the event script");
}

awaitable<Result<Acceptance>> EventStore::create(v1::Event event, std::string idem_key,
                                                 std::string body_hash, int64_t now_ms) {
  const auto now = TimeUtil::MillisecondsToTimestamp(now_ms);
  event.set_revision(1);
  *event.mutable_accepted_at() = now;
  v1::EventState state;
  state.set_active(is_active(event.stage()));
  *state.mutable_event() = std::move(event);
  *state.mutable_created_at() = now;
  *state.mutable_updated_at() = now;
  auto written = co_await write(state, 0, std::move(idem_key), std::move(body_hash), now_ms);
  if (!written.ok()) co_return std::move(written).take_error();
  if (!written->has_value()) {
    co_return make_error(ErrorCode::kConflict, "event " + state.event().id() + " already exists",
                         "id");
  }
  co_return std::move(**written);
}

awaitable<Result<std::optional<Acceptance>>> EventStore::replay(const std::string& idem_key,
                                                                const std::string& body_hash) {
  auto got = co_await pool_.exec(redis::batch(redis::cmd("GET", idempotency_key(idem_key))));
  if (!got.ok()) co_return std::move(got).take_error();
  const redis::Reply& r = got->front();
  if (r.is_error()) co_return make_error(ErrorCode::kInternal, "redis: " + r.str);
  if (r.is_nil()) co_return std::optional<Acceptance>{};
  if (r.str.compare(0, kHashLength, body_hash) != 0) co_return key_reused();
  auto a = replayed(std::string_view(r.str).substr(std::min(kHashLength, r.str.size())));
  if (!a.ok()) co_return std::move(a).take_error();
  co_return std::optional<Acceptance>{std::move(*a)};
}

awaitable<Result<Acceptance>> EventStore::update(std::string id, v1::EventUpdate update,
                                                 std::string idem_key, std::string body_hash,
                                                 int64_t now_ms) {
  // A replay must answer as the first time did, before the stage machine sees it again.
  if (!idem_key.empty()) {
    auto seen = co_await replay(idem_key, body_hash);
    if (!seen.ok()) co_return std::move(seen).take_error();
    if (seen->has_value()) co_return std::move(**seen);
  }
  const auto now = TimeUtil::MillisecondsToTimestamp(now_ms);
  for (int attempt = 0; attempt < kUpdateAttempts; ++attempt) {
    auto got = co_await pool_.exec(redis::batch(redis::cmd("GET", event_key(id))));
    if (!got.ok()) co_return std::move(got).take_error();
    auto state = next_state(got->front(), id, update, now);
    if (!state.ok()) co_return std::move(state).take_error();
    const uint32_t expected = state->event().revision() - 1;
    auto written =
        co_await write(*state, expected, idem_key, body_hash, millis(state->created_at()));
    if (!written.ok()) co_return std::move(written).take_error();
    if (written->has_value()) co_return std::move(**written);
  }
  co_return make_error(ErrorCode::kConflict,
                       "event " + id + " is being updated concurrently; retry");
}

awaitable<Result<std::optional<EventRecord>>> EventStore::get(std::string id) {
  // MULTI: the state and the revision list from the same moment.
  auto got = co_await pool_.exec(redis::batch(redis::cmd("MULTI"), redis::cmd("GET", event_key(id)),
                                              redis::cmd("LRANGE", revisions_key(id), "0", "-1"),
                                              redis::cmd("EXEC")));
  if (!got.ok()) co_return std::move(got).take_error();
  const redis::Reply& exec = got->back();
  if (exec.type != redis::Reply::Type::kArray || exec.elements.size() != 2) {
    co_return make_error(ErrorCode::kInternal, "unexpected reply reading event " + id);
  }
  if (exec.elements[0].is_nil()) co_return std::optional<EventRecord>{};
  EventRecord record;
  if (!record.state.ParseFromString(exec.elements[0].str)) {
    co_return make_error(ErrorCode::kInternal, "unreadable state of event " + id);
  }
  for (const auto& rev : exec.elements[1].elements) {
    if (!record.revisions.emplace_back().ParseFromString(rev.str)) {
      co_return make_error(ErrorCode::kInternal, "unreadable revision of event " + id);
    }
  }
  co_return std::optional<EventRecord>{std::move(record)};
}

awaitable<Result<std::vector<v1::EventState>>> EventStore::list_active(int limit) {
  std::vector<v1::EventState> out;
  auto ids = co_await pool_.exec(redis::batch(
      redis::cmd("ZREVRANGE", std::string(kActiveKey), "0", std::to_string(limit - 1))));
  if (!ids.ok()) co_return std::move(ids).take_error();
  const redis::Reply& list = ids->front();
  if (list.is_error()) co_return make_error(ErrorCode::kInternal, "redis: " + list.str);
  if (list.elements.empty()) co_return out;
  redis::Command mget;
  mget.reserve(list.elements.size() + 1);
  mget.push_back("MGET");
  for (const auto& id : list.elements) mget.push_back(event_key(id.str));
  auto states = co_await pool_.exec(redis::batch(std::move(mget)));
  if (!states.ok()) co_return std::move(states).take_error();
  for (const auto& s : states->front().elements) {
    if (s.is_nil()) continue;
    v1::EventState state;
    if (!state.ParseFromString(s.str)) {
      co_return make_error(ErrorCode::kInternal, "unreadable event state in Redis");
    }
    // Between the two reads an event may have ended.
    if (state.active()) out.push_back(std::move(state));
  }
  co_return out;
}

Result<std::optional<v1::EventAccepted>> raise_stage(redis::Connection& conn,
                                                     const v1::EventState& current,
                                                     v1::Stage stage, int64_t now_ms) {
  v1::EventUpdate update;
  update.set_stage(stage);
  redis::Reply stored;
  stored.type = redis::Reply::Type::kString;
  stored.str = current.SerializeAsString();
  const std::string& id = current.event().id();
  auto next = next_state(stored, id, update, TimeUtil::MillisecondsToTimestamp(now_ms));
  if (!next.ok()) return std::move(next).take_error();
  v1::EventAccepted answer;
  answer.set_id(id);
  answer.set_revision(next->event().revision());
  auto args = accept_args(*next, current.event().revision(), "", "", millis(next->created_at()),
                          answer);
  redis::Command eval = redis::cmd("EVALSHA", accept_script().sha1(), "0");
  eval.insert(eval.end(), args.begin(), args.end());
  auto reply = conn.command(eval);
  if (reply.ok() && reply->is_error() && reply->str.rfind("NOSCRIPT", 0) == 0) {
    eval[0] = "EVAL";
    eval[1] = accept_script().body();
    reply = conn.command(eval);
  }
  if (!reply.ok()) return std::move(reply).take_error();
  if (reply->is_error()) return make_error(ErrorCode::kInternal, "event script: " + reply->str);
  if (!reply->elements.empty() && reply->elements[0].str == "OK") {
    return std::optional<v1::EventAccepted>{answer};
  }
  return std::optional<v1::EventAccepted>{};
}

}  // namespace herald::events
