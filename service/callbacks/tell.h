#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "herald/v1/callback.pb.h"
#include "herald/v1/customer.pb.h"
#include "service/core/crypto.h"
#include "service/redis/reply.h"
#include "templates/catalog.h"

// What one change of a callback leaves behind: a CALLBACK touchpoint of the customer and, for
// bookings, moves and cancellations, a notice telling them (templates/<lang>/notice/callback_*).
namespace herald::callbacks {

// "callback_booked" (booked, moved), "callback_canceled", or "callback_waiting" (a request
// parked until capacity appears, or a booking a capacity cut left without a slot); empty
// when the change is not told.
std::string notice_name(std::string_view what);

// The customer's first OUTAGE channel that notices can use (voice goes as SMS), else SMS when
// they have a phone, else email.
v1::Channel notice_channel(const v1::Customer& customer);

// Appends the touchpoint and, when the change is told and the customer reachable, the notice.
// `what` is the outbox entry's kind (booked, moved, canceled, requested, completed, ...).
void append_told(redis::Batch& out, const v1::Callback& callback, std::string_view what,
                 const v1::Customer& customer, const templates::Catalog& catalog,
                 const core::Sealer& sealer, std::chrono::system_clock::time_point now);

}  // namespace herald::callbacks
