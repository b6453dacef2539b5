#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "herald/v1/callback.pb.h"
#include "herald/v1/event.pb.h"
#include "herald/v1/report.pb.h"
#include "service/common/net.h"
#include "service/common/result.h"
#include "service/redis/pool.h"

namespace herald::journey {

// What Redis holds for one event's report; every part is bounded by channels, reasons,
// keywords or seconds, never by customers.
struct EventData {
  std::string id;
  std::optional<v1::EventState> state;
  std::map<std::string, int64_t> funnel;    // fn:{e}
  std::map<std::string, int64_t> counters;  // rp:{e}
  std::map<std::string, int64_t> survey;    // sv:{e}
  std::map<int64_t, int64_t> first_delivery;  // ttn:{e}: unix second -> customers
  int64_t out_reports = 0;                  // outr:{e}: OUT replies after restoration
  v1::CallbackCounts callbacks;             // cb:{cb}:ev:<e>
};

// Relative seconds -> customers.
using Histogram = std::map<int64_t, int64_t>;

v1::Percentiles percentiles(const Histogram& h);
// first_delivery relative to the event's acceptance (negative differences count as 0).
Histogram time_to_notify(const EventData& d);
v1::SurveyReport survey_report(const std::map<std::string, int64_t>& answers);
std::vector<v1::ChannelReport> channel_reports(const EventData& d);
v1::EventReport event_report(const EventData& d);

// Adds `from` into `into` (same channel), keeping the delivery rate a ratio of the sums.
void add_channel(v1::ChannelReport& into, const v1::ChannelReport& from);
// Sums per channel, in channel order.
void merge_channels(google::protobuf::RepeatedPtrField<v1::ChannelReport>& into,
                    const std::vector<v1::ChannelReport>& from);

awaitable<Result<std::vector<EventData>>> load_events(redis::Pool& pool,
                                                      std::vector<std::string> ids);

// Events touched at or after since_ms and created at or before until_ms (0: no bound),
// summed by kind and channel; complaints opened and resolved in the window.
awaitable<Result<v1::SummaryReport>> summary_report(redis::Pool& pool, int64_t since_ms,
                                                    int64_t until_ms, int64_t now_ms);

}  // namespace herald::journey
