#include "service/journey/report.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "herald/v1/common.pb.h"
#include "service/callbacks/desk.h"
#include "service/events/event_store.h"
#include "service/inbound/inbound_sms.h"
#include "service/journey/complaints.h"
#include "service/store/touchpoints.h"

namespace herald::journey {
namespace {

using google::protobuf::util::TimeUtil;

int64_t to_int(const std::string& s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::map<std::string, int64_t> hash_of(const redis::Reply& r) {
  std::map<std::string, int64_t> out;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    out[r.elements[i].str] = to_int(r.elements[i + 1].str);
  }
  return out;
}

v1::Channel channel_of(std::string_view name) {
  std::string up(name);
  for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  v1::Channel ch = v1::CHANNEL_UNSPECIFIED;
  v1::Channel_Parse(up, &ch);
  return ch;
}

void rate(v1::ChannelReport& c) {
  c.set_delivery_rate(c.sent() > 0 ? static_cast<double>(c.delivered()) / c.sent() : 0.0);
}

// "<channel>:<rest>" into that channel's report.
void apply_field(std::map<int, v1::ChannelReport>& by, const std::string& field, int64_t v) {
  const auto colon = field.find(':');
  if (colon == std::string::npos) return;
  const v1::Channel ch = channel_of(std::string_view(field).substr(0, colon));
  if (ch == v1::CHANNEL_UNSPECIFIED) return;
  const std::string rest = field.substr(colon + 1);
  v1::ChannelReport& c = by[ch];
  c.set_channel(ch);
  if (rest == "queued") c.set_queued(c.queued() + v);
  else if (rest == "held") c.set_held(c.held() + v);
  else if (rest == "sent") c.set_sent(c.sent() + v);
  else if (rest == "failed") c.set_failed(c.failed() + v);
  else if (rest == "stale") c.set_stale(c.stale() + v);
  else if (rest == "optouts") c.set_opt_outs(c.opt_outs() + v);
  else if (rest == "delivery:delivered") c.set_delivered(c.delivered() + v);
  else if (rest.rfind("delivery:", 0) == 0) c.set_undelivered(c.undelivered() + v);
  else if (rest.rfind("reply:", 0) == 0) (*c.mutable_replies())[rest.substr(6)] += v;
  else if (rest.rfind("suppressed:", 0) == 0) {
    c.set_suppressed(c.suppressed() + v);
    (*c.mutable_suppressed_by_reason())[rest.substr(11)] += v;
  }
}

int64_t counter(const std::map<std::string, int64_t>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? 0 : it->second;
}

void add_histogram(Histogram& into, const Histogram& from) {
  for (const auto& [s, n] : from) into[s] += n;
}

void add_survey(std::map<std::string, int64_t>& into, const std::map<std::string, int64_t>& from) {
  for (const auto& [k, n] : from) into[k] += n;
}

}  // namespace

v1::Percentiles percentiles(const Histogram& h) {
  v1::Percentiles p;
  int64_t total = 0;
  for (const auto& [_, n] : h) total += n;
  p.set_customers(total);
  if (total == 0) return p;
  auto at = [&](double q) {
    const int64_t rank = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(q * total)));
    int64_t seen = 0;
    for (const auto& [s, n] : h) {
      seen += n;
      if (seen >= rank) return static_cast<double>(s);
    }
    return static_cast<double>(h.rbegin()->first);
  };
  p.set_p50_s(at(0.50));
  p.set_p90_s(at(0.90));
  p.set_p99_s(at(0.99));
  return p;
}

Histogram time_to_notify(const EventData& d) {
  Histogram out;
  const int64_t accepted = d.state ? d.state->created_at().seconds() : 0;
  for (const auto& [s, n] : d.first_delivery) out[std::max<int64_t>(0, s - accepted)] += n;
  return out;
}

v1::SurveyReport survey_report(const std::map<std::string, int64_t>& answers) {
  v1::SurveyReport r;
  int64_t responses = 0, satisfied = 0;
  double sum = 0;
  for (const auto& [digit, n] : answers) {
    (*r.mutable_answers())[digit] = n;
    responses += n;
    const int64_t score = to_int(digit);
    sum += static_cast<double>(score * n);
    if (score >= 4) satisfied += n;
  }
  r.set_responses(responses);
  if (responses > 0) {
    r.set_mean(sum / static_cast<double>(responses));
    r.set_satisfied_share(static_cast<double>(satisfied) / static_cast<double>(responses));
  }
  return r;
}

std::vector<v1::ChannelReport> channel_reports(const EventData& d) {
  std::map<int, v1::ChannelReport> by;
  for (const auto& [k, v] : d.funnel) apply_field(by, k, v);
  for (const auto& [k, v] : d.counters) apply_field(by, k, v);
  std::vector<v1::ChannelReport> out;
  for (auto& [_, c] : by) {
    rate(c);
    out.push_back(std::move(c));
  }
  return out;
}

v1::EventReport event_report(const EventData& d) {
  v1::EventReport r;
  r.set_event_id(d.id);
  if (d.state) {
    r.set_kind(d.state->event().kind());
    r.set_stage(d.state->event().stage());
    *r.mutable_accepted_at() = d.state->created_at();
  }
  r.set_audience(counter(d.funnel, "audience"));
  for (auto& c : channel_reports(d)) *r.add_channels() = std::move(c);
  *r.mutable_time_to_notify() = percentiles(time_to_notify(d));
  r.set_opt_outs(counter(d.counters, "optouts"));
  r.set_out_reports_after_restoration(d.out_reports);
  *r.mutable_callbacks() = d.callbacks;
  *r.mutable_survey() = survey_report(d.survey);
  r.set_complaints(counter(d.counters, "complaints"));
  for (const auto& [k, v] : d.funnel) (*r.mutable_funnel())[k] = v;
  return r;
}

void add_callbacks(v1::CallbackCounts& into, const v1::CallbackCounts& from) {
  const auto* reflection = into.GetReflection();
  const auto* descriptor = into.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto* f = descriptor->field(i);
    reflection->SetUInt64(&into, f, reflection->GetUInt64(into, f) + reflection->GetUInt64(from, f));
  }
}

void add_channel(v1::ChannelReport& into, const v1::ChannelReport& from) {
  into.set_channel(from.channel());
  into.set_queued(into.queued() + from.queued());
  into.set_held(into.held() + from.held());
  into.set_suppressed(into.suppressed() + from.suppressed());
  for (const auto& [k, v] : from.suppressed_by_reason()) (*into.mutable_suppressed_by_reason())[k] += v;
  into.set_sent(into.sent() + from.sent());
  into.set_failed(into.failed() + from.failed());
  into.set_stale(into.stale() + from.stale());
  into.set_delivered(into.delivered() + from.delivered());
  into.set_undelivered(into.undelivered() + from.undelivered());
  into.set_opt_outs(into.opt_outs() + from.opt_outs());
  for (const auto& [k, v] : from.replies()) (*into.mutable_replies())[k] += v;
  rate(into);
}

void merge_channels(google::protobuf::RepeatedPtrField<v1::ChannelReport>& into,
                    const std::vector<v1::ChannelReport>& from) {
  for (const auto& c : from) {
    auto it = std::find_if(into.begin(), into.end(),
                           [&](const v1::ChannelReport& x) { return x.channel() == c.channel(); });
    if (it == into.end()) {
      *into.Add() = c;
    } else {
      add_channel(*it, c);
    }
  }
  std::sort(into.begin(), into.end(), [](const auto& a, const auto& b) {
    return a.channel() < b.channel();
  });
}

awaitable<Result<std::vector<EventData>>> load_events(redis::Pool& pool,
                                                      std::vector<std::string> ids) {
  constexpr size_t kPer = 7;
  redis::Batch reads;
  for (const auto& id : ids) {
    reads.push_back(redis::cmd("GET", events::event_key(id)));
    reads.push_back(redis::cmd("HGETALL", "fn:{" + id + "}"));
    reads.push_back(redis::cmd("HGETALL", store::report_key(id)));
    reads.push_back(redis::cmd("HGETALL", "sv:{" + id + "}"));
    reads.push_back(redis::cmd("HGETALL", store::time_to_notify_key(id)));
    reads.push_back(redis::cmd("ZCARD", inbound::out_after_key(id)));
    reads.push_back(callbacks::event_counts_command(id));
  }
  std::vector<EventData> out;
  if (reads.empty()) co_return out;
  auto r = co_await pool.exec(std::move(reads));
  if (!r.ok()) co_return std::move(r).take_error();
  for (size_t i = 0; i < ids.size(); ++i) {
    const redis::Reply* got = &(*r)[i * kPer];
    for (size_t k = 0; k < kPer; ++k) {
      if (got[k].is_error()) co_return make_error(ErrorCode::kInternal, "redis: " + got[k].str);
    }
    EventData d;
    d.id = ids[i];
    if (got[0].type == redis::Reply::Type::kString) {
      v1::EventState state;
      if (state.ParseFromString(got[0].str)) d.state = std::move(state);
    }
    d.funnel = hash_of(got[1]);
    d.counters = hash_of(got[2]);
    d.survey = hash_of(got[3]);
    for (const auto& [s, n] : hash_of(got[4])) d.first_delivery[to_int(s)] += n;
    d.out_reports = got[5].integer;
    d.callbacks = callbacks::parse_event_counts(got[6]);
    out.push_back(std::move(d));
  }
  co_return out;
}

awaitable<Result<v1::SummaryReport>> summary_report(redis::Pool& pool, int64_t since_ms,
                                                    int64_t until_ms, int64_t now_ms) {
  const std::string lo = std::to_string(since_ms);
  const std::string hi = until_ms > 0 ? std::to_string(until_ms) : "+inf";
  auto touched = co_await pool.exec(redis::batch(
      redis::cmd("ZRANGE", store::kTouchedEventsKey, lo, "+inf", "BYSCORE"),
      redis::cmd("ZCOUNT", kComplaintsAllKey, lo, hi),
      redis::cmd("ZCARD", kComplaintsOpenKey),
      redis::cmd("ZRANGE", kComplaintsResolvedKey, lo, hi, "BYSCORE")));
  if (!touched.ok()) co_return std::move(touched).take_error();
  std::vector<std::string> ids;
  for (const auto& e : (*touched)[0].elements) {
    if (e.str != store::kNoEvent) ids.push_back(e.str);
  }
  auto events = co_await load_events(pool, std::move(ids));
  if (!events.ok()) co_return std::move(events).take_error();

  v1::SummaryReport out;
  *out.mutable_since() = TimeUtil::MillisecondsToTimestamp(since_ms);
  *out.mutable_until() = TimeUtil::MillisecondsToTimestamp(until_ms > 0 ? until_ms : now_ms);
  std::map<int, v1::KindReport> kinds;
  std::map<int, Histogram> ttn;
  std::map<int, std::map<std::string, int64_t>> surveys;
  for (const auto& d : *events) {
    if (!d.state) continue;
    const int64_t created = TimeUtil::TimestampToMilliseconds(d.state->created_at());
    if (until_ms > 0 && created > until_ms) continue;
    const int kind = d.state->event().kind();
    v1::KindReport& k = kinds[kind];
    k.set_kind(d.state->event().kind());
    k.set_events(k.events() + 1);
    k.set_audience(k.audience() + counter(d.funnel, "audience"));
    const auto channels = channel_reports(d);
    merge_channels(*k.mutable_channels(), channels);
    merge_channels(*out.mutable_channels(), channels);
    add_histogram(ttn[kind], time_to_notify(d));
    add_survey(surveys[kind], d.survey);
    k.set_opt_outs(k.opt_outs() + counter(d.counters, "optouts"));
    k.set_out_reports_after_restoration(k.out_reports_after_restoration() + d.out_reports);
    k.set_complaints(k.complaints() + counter(d.counters, "complaints"));
    add_callbacks(*k.mutable_callbacks(), d.callbacks);
    out.set_events(out.events() + 1);
  }
  for (auto& [kind, k] : kinds) {
    *k.mutable_time_to_notify() = percentiles(ttn[kind]);
    *k.mutable_survey() = survey_report(surveys[kind]);
    *out.add_kinds() = std::move(k);
  }
  auto complaints = co_await complaint_summary(pool, (*touched)[3]);
  if (!complaints.ok()) co_return std::move(complaints).take_error();
  *out.mutable_complaints() = std::move(*complaints);
  out.mutable_complaints()->set_opened((*touched)[1].integer);
  out.mutable_complaints()->set_open_now((*touched)[2].integer);
  co_return out;
}

}  // namespace herald::journey
