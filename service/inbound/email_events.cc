#include "service/inbound/email_events.h"

#include <google/protobuf/util/time_util.h>
#include <simdjson.h>

#include <algorithm>

#include "service/inbound/delivery_status.h"
#include "service/inbound/inbound_sms.h"
#include "service/store/touchpoints.h"

// g++ 12 inlines Asio's recycling frame allocator into the coroutines' frame deallocation
// here (a false -Wmismatched-new-delete); the code allocates nothing itself.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace herald::inbound {
namespace {

using google::protobuf::util::TimeUtil;

std::string text_of(simdjson::dom::object obj, const char* key) {
  std::string_view v;
  if (obj[key].get_string().get(v) == simdjson::SUCCESS) return std::string(v);
  return {};
}

void drop_email(google::protobuf::RepeatedField<int>* list) {
  list->erase(std::remove(list->begin(), list->end(), static_cast<int>(v1::EMAIL)), list->end());
}

bool opts_out(std::string_view event) {
  return event == "unsubscribe" || event == "group_unsubscribe" || event == "spamreport";
}

}  // namespace

Result<std::vector<EmailEvent>> parse_email_events(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::array array;
  if (parser.parse(padded).get_array().get(array) != simdjson::SUCCESS) {
    return make_error(ErrorCode::kInvalidArgument, "expected a JSON array of events");
  }
  std::vector<EmailEvent> out;
  for (simdjson::dom::element item : array) {
    simdjson::dom::object obj;
    if (item.get_object().get(obj) != simdjson::SUCCESS) continue;
    EmailEvent e;
    e.event = text_of(obj, "event");
    e.message_id = text_of(obj, "herald_message_id");
    e.provider_id = text_of(obj, "sg_message_id");
    e.reason = text_of(obj, "reason");
    if (e.reason.empty()) e.reason = text_of(obj, "type");
    int64_t ts = 0;
    if (obj["timestamp"].get_int64().get(ts) == simdjson::SUCCESS) e.at_ms = ts * 1000;
    out.push_back(std::move(e));
  }
  return out;
}

awaitable<Status> unsubscribe_email(redis::Pool& pool, store::CustomerStore& customers,
                                    std::string customer_id, uint64_t num, std::string reason,
                                    int64_t now_ms) {
  auto updated = co_await customers.update(
      customer_id,
      [](v1::Customer& c) -> Status {
        auto* ch = c.mutable_preferences()->mutable_channels();
        drop_email(ch->mutable_outage());
        drop_email(ch->mutable_planned_maintenance());
        drop_email(ch->mutable_boil_water_advisory());
        return ok_status();
      },
      now_ms);
  if (!updated.ok()) co_return updated.error();
  v1::Touchpoint tp;
  tp.set_customer_id(customer_id);
  tp.set_kind(v1::PREFERENCE_CHANGE);
  *tp.mutable_at() = TimeUtil::MillisecondsToTimestamp(now_ms);
  tp.set_channel(v1::EMAIL);
  tp.set_status("email_off");
  tp.set_reason(reason);
  redis::Batch batch;
  store::append_touchpoint(batch, num, tp);
  auto wrote = co_await pool.exec(std::move(batch));
  if (!wrote.ok()) co_return wrote.error();
  co_return ok_status();
}

awaitable<Result<EmailEventCounts>> apply_email_events(redis::Pool& pool,
                                                       store::CustomerStore& customers,
                                                       const ContactIndex& contacts,
                                                       std::vector<EmailEvent> events,
                                                       int64_t now_ms) {
  EmailEventCounts counts;
  for (const auto& e : events) {
    auto ref = parse_message_id(e.message_id);
    if (!ref || (ref->notice_id.empty() && ref->channel != v1::EMAIL)) {
      ++counts.skipped;
      continue;
    }
    const int64_t at = e.at_ms > 0 ? e.at_ms : now_ms;
    if (status_rank(e.event) > 0) {
      StatusUpdate u;
      u.message = *ref;
      u.channel = v1::EMAIL;
      u.status = e.event;
      u.provider_id = e.provider_id;
      u.error_code = e.reason;
      u.at_ms = at;
      auto merged = co_await merge_status(pool, std::move(u));
      if (!merged.ok()) co_return std::move(merged).take_error();
    }
    if (e.event == "bounce" || e.event == "dropped" || opts_out(e.event)) {
      auto id = co_await id_of(pool, ref->num);
      if (!id.ok()) co_return std::move(id).take_error();
      if (!id->has_value()) {
        ++counts.skipped;
        continue;
      }
      if (opts_out(e.event)) {
        auto s = co_await unsubscribe_email(pool, customers, **id, ref->num, "sendgrid " + e.event,
                                            now_ms);
        if (!s.ok() && s.error().code != ErrorCode::kNotFound) co_return s.error();
      } else {
        // The address's hash goes with the mark, so storing another address clears it.
        auto c = co_await customers.get(**id);
        if (!c.ok()) co_return std::move(c).take_error();
        const std::string n = std::to_string(ref->num);
        const std::string h = c->has_value() ? contacts.hash((*c)->email()) : std::string();
        auto r = co_await pool.exec(redis::batch(redis::cmd("SADD", kInvalidEmailKey, n),
                                                 redis::cmd("HSET", kInvalidEmailHashKey, n, h)));
        if (!r.ok()) co_return std::move(r).take_error();
      }
    }
    ++counts.applied;
  }
  co_return counts;
}

}  // namespace herald::inbound
