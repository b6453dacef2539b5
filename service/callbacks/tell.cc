#include "service/callbacks/tell.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include "herald/v1/touchpoint.pb.h"
#include "service/core/timezone.h"
#include "service/notify/notice.h"
#include "service/store/touchpoints.h"

namespace herald::callbacks {
namespace {

using google::protobuf::util::TimeUtil;
using std::chrono::system_clock;

constexpr size_t kMaxReason = 200;

std::string promised_local(const v1::Callback& c, const v1::Customer& customer) {
  if (!c.has_promised_at()) return "";
  const date::time_zone* tz = core::find_zone(customer.time_zone());
  if (tz == nullptr) tz = core::find_zone("Etc/UTC");
  if (tz == nullptr) tz = core::find_zone("UTC");
  if (tz == nullptr) return "";
  const auto t = system_clock::time_point(std::chrono::seconds(c.promised_at().seconds()));
  return core::format_local_datetime(tz, t, customer.language());
}

}  // namespace

std::string notice_name(std::string_view what) {
  if (what == "booked" || what == "moved") return "callback_booked";
  if (what == "canceled") return "callback_canceled";
  if (what == "waiting" || what == "unplaced") return "callback_waiting";
  return "";
}

v1::Channel notice_channel(const v1::Customer& customer) {
  for (int ch : customer.preferences().channels().outage()) {
    if (ch == v1::EMAIL && !customer.email().empty()) return v1::EMAIL;
    if ((ch == v1::SMS || ch == v1::VOICE) && !customer.phone().empty()) return v1::SMS;
  }
  return customer.phone().empty() ? v1::EMAIL : v1::SMS;
}

void append_told(redis::Batch& out, const v1::Callback& callback, std::string_view what,
                 const v1::Customer& customer, const templates::Catalog& catalog,
                 const core::Sealer& sealer, system_clock::time_point now) {
  const std::string when = promised_local(callback, customer);
  v1::Touchpoint tp;
  tp.set_customer_id(callback.customer_id());
  tp.set_kind(v1::CALLBACK);
  *tp.mutable_at() = TimeUtil::MillisecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  tp.set_event_id(callback.event_id());
  tp.set_status(std::string(what));
  tp.set_reason(callback.reason().substr(0, kMaxReason));
  std::string detail = callback.id();
  if (!when.empty()) detail += (what == "canceled" ? " was for " : " at ") + when;
  if (!callback.note().empty()) detail += " (" + callback.note() + ")";

  if (const std::string name = notice_name(what); !name.empty()) {
    notify::Notice notice;
    notice.name = name;
    notice.channel = notice_channel(customer);
    notice.vars["time"] = when;
    notice.vars["callback_id"] = callback.id();
    if (what == "moved" || what == "unplaced") notice.vars["moved"] = "1";
    auto queued = notify::append_notice(out, customer, callback.customer_num(), notice, catalog,
                                        sealer, now);
    if (queued.ok()) {
      tp.set_channel(notice.channel);
      detail += "; told by " + store::channel_name(notice.channel);
    } else {
      detail += "; not told: " + queued.error().message;
    }
  }
  tp.set_detail(std::move(detail));
  store::append_touchpoint(out, callback.customer_num(), tp);
}

}  // namespace herald::callbacks
