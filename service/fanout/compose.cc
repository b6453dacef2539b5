#include "service/fanout/compose.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include "service/core/timezone.h"
#include "service/dispatch/content.h"
#include "templates/sms.h"

namespace herald::fanout {
namespace {

using google::protobuf::util::TimeUtil;
using Clock = std::chrono::system_clock;

Clock::time_point to_time(const google::protobuf::Timestamp& ts) {
  return Clock::time_point(std::chrono::seconds(ts.seconds()));
}

// "6:00 PM" when on the customer's local day of `now`, else with the date.
std::string local_time(const date::time_zone* tz, Clock::time_point t, Clock::time_point now,
                       const std::string& lang) {
  const auto day = [tz](Clock::time_point x) {
    return date::floor<date::days>(date::make_zoned(tz, x).get_local_time());
  };
  return day(t) == day(now) ? core::format_local_time(tz, t, lang)
                            : core::format_local_datetime(tz, t, lang);
}

std::string join_addresses(const v1::Customer& c, const std::vector<int>& premises,
                           const std::string& lang) {
  std::vector<std::string> parts;
  for (int k : premises) {
    if (k >= 0 && k < c.premises_size() && !c.premises(k).address().empty()) {
      parts.push_back(c.premises(k).address());
    }
  }
  if (parts.empty()) return lang == "es" ? "su domicilio" : "your address";
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    out += i + 1 == parts.size() ? (lang == "es" ? " y " : " and ") : ", ";
    out += parts[i];
  }
  return out;
}

// The one-click unsubscribe link (List-Unsubscribe): the preference link's customer resource
// plus "/email-unsubscribe", carrying the same signed customer token.
std::string email_unsubscribe_url(const std::string& manage_link) {
  const size_t query = manage_link.find('?');
  if (query == std::string::npos) return {};
  return manage_link.substr(0, query) + "/email-unsubscribe" + manage_link.substr(query);
}

}  // namespace

std::string message_id(const v1::Event& e, v1::Channel channel, uint64_t num) {
  return fmt::format("{}:{}:{}:{}", e.id(), e.revision(), v1::Channel_Name(channel), num);
}

templates::Vars message_vars(const v1::Customer& c, const v1::Event& e,
                             const std::vector<int>& premises, const core::TokenSigner& signer,
                             const ComposeOptions& options, Clock::time_point now) {
  const std::string& lang = c.language();
  const date::time_zone* tz = core::find_zone(c.time_zone());
  if (!tz) tz = core::find_zone("UTC");
  templates::Vars v;
  v.first_name = c.name().substr(0, c.name().find(' '));
  v.premises = join_addresses(c, premises, lang);
  if (e.has_estimated_restoration()) {
    v.etr_local = local_time(tz, to_time(e.estimated_restoration()), now, lang);
  }
  if (e.has_window_start()) {
    v.window_start_local = core::format_local_datetime(tz, to_time(e.window_start()), lang);
  }
  if (e.has_window_end()) {
    v.window_end_local = local_time(tz, to_time(e.window_end()), to_time(e.window_start()), lang);
  }
  v.cause = e.cause();
  v.event_ref = e.id();
  const auto expires =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() +
      options.token_ttl_s;
  v.manage_link =
      fmt::format("{}/{}?token={}", options.manage_url, c.id(), signer.mint(c.id(), expires));
  if (c.preferences().callback_offers()) {
    v.callback_line = lang == "es" ? "Responda CALL y le llamamos." : "Reply CALL for a callback.";
  }
  return v;
}

Result<v1::OutboundMessage> compose(const v1::Customer& c, uint64_t num, const v1::Event& e,
                                    v1::Channel channel, v1::Priority priority,
                                    const templates::Vars& vars, const templates::Catalog& catalog,
                                    const core::Sealer& sealer, Clock::time_point now) {
  v1::MessageContent content;
  using templates::Part;
  const templates::Prepared prepared(vars);
  auto part = [&](Part p) {
    return catalog.render(e.kind(), e.stage(), p, c.language(), prepared);
  };
  switch (channel) {
    case v1::SMS: {
      auto sms = part(Part::kSmsText);
      if (!sms) return make_error(ErrorCode::kNotFound, "no SMS template for this stage");
      const auto info = templates::sms_info(*sms);
      content.set_sms(std::move(*sms));
      content.set_sms_segments(static_cast<uint32_t>(info.segments));
      content.set_sms_gsm7(info.gsm7);
      content.set_to(c.phone());
      break;
    }
    case v1::EMAIL: {
      auto subject = part(Part::kEmailSubject);
      auto text = part(Part::kEmailText);
      auto html = part(Part::kEmailHtml);
      if (!subject || !text || !html) {
        return make_error(ErrorCode::kNotFound, "no email template for this stage");
      }
      content.set_subject(std::move(*subject));
      content.set_text(std::move(*text));
      content.set_html(std::move(*html));
      content.set_to(c.email());
      content.set_unsubscribe_url(email_unsubscribe_url(vars.manage_link));
      break;
    }
    case v1::VOICE: {
      auto voice = part(Part::kVoiceScript);
      if (!voice) return make_error(ErrorCode::kNotFound, "no voice template for this stage");
      content.set_voice(std::move(*voice));
      content.set_to(c.phone());
      break;
    }
    default:
      return make_error(ErrorCode::kInvalidArgument, "channel has no customer templates");
  }
  v1::OutboundMessage msg;
  msg.set_id(message_id(e, channel, num));
  msg.set_customer_id(c.id());
  msg.set_customer_num(num);
  msg.set_event_id(e.id());
  msg.set_revision(e.revision());
  msg.set_channel(channel);
  msg.set_priority(priority);
  msg.set_language(c.language());
  msg.set_etr_shown(vars.etr_local);
  *msg.mutable_queued_at() = TimeUtil::TimeTToTimestamp(Clock::to_time_t(now));
  if (auto until = valid_until(e)) *msg.mutable_valid_until() = *until;
  dispatch::seal_content(content, sealer, msg);
  return msg;
}

std::optional<google::protobuf::Timestamp> valid_until(const v1::Event& e) {
  if (e.kind() != v1::PLANNED_MAINTENANCE) return std::nullopt;
  // An advance notice or reminder that would arrive after the work began tells nothing.
  const bool advance = e.stage() == v1::SCHEDULED || e.stage() == v1::REMINDER;
  if (advance && e.has_window_start()) return e.window_start();
  if (e.has_window_end()) return e.window_end();
  return std::nullopt;
}

}  // namespace herald::fanout
