#include "service/notify/notice.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <charconv>

#include "service/dispatch/content.h"
#include "service/dispatch/queue.h"

namespace herald::notify {
namespace {

using google::protobuf::util::TimeUtil;
using Clock = std::chrono::system_clock;
using templates::Part;

constexpr std::string_view kPrefix = "notice:";
constexpr size_t kUniqueBytes = 9;  // 12 url-safe characters

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

Status fill_content(const v1::Customer& c, const Notice& n, const templates::NoticeVars& vars,
                    const templates::Catalog& catalog, v1::MessageContent& content) {
  auto part = [&](Part p) { return catalog.render_notice(n.name, p, c.language(), vars); };
  auto missing = [&](std::string_view what) {
    return make_error(ErrorCode::kNotFound, fmt::format("notice {} has no {}", n.name, what));
  };
  switch (n.channel) {
    case v1::SMS: {
      if (c.phone().empty()) return make_error(ErrorCode::kConflict, "no phone");
      auto sms = part(Part::kSmsText);
      if (!sms) return missing("SMS template");
      const auto info = templates::sms_info(*sms);
      content.set_sms(std::move(*sms));
      content.set_sms_segments(static_cast<uint32_t>(info.segments));
      content.set_sms_gsm7(info.gsm7);
      content.set_to(c.phone());
      return ok_status();
    }
    case v1::EMAIL: {
      if (c.email().empty()) return make_error(ErrorCode::kConflict, "no email");
      auto subject = part(Part::kEmailSubject);
      auto text = part(Part::kEmailText);
      auto html = part(Part::kEmailHtml);
      if (!subject || !text || !html) return missing("email templates");
      content.set_subject(std::move(*subject));
      content.set_text(std::move(*text));
      content.set_html(std::move(*html));
      content.set_to(c.email());
      return ok_status();
    }
    case v1::VOICE: {
      if (c.phone().empty()) return make_error(ErrorCode::kConflict, "no phone");
      auto voice = part(Part::kVoiceScript);
      if (!voice) return missing("voice template");
      content.set_voice(std::move(*voice));
      content.set_to(c.phone());
      return ok_status();
    }
    default:
      return make_error(ErrorCode::kInvalidArgument, "notices go by SMS, email or voice");
  }
}

}  // namespace

std::string notice_id(std::string_view name, uint64_t num, std::string_view unique) {
  return fmt::format("{}{}:{}:{}", kPrefix, name, num, unique);
}

std::optional<NoticeRef> parse_notice_id(std::string_view id) {
  if (!id.starts_with(kPrefix)) return std::nullopt;
  id.remove_prefix(kPrefix.size());
  const auto c1 = id.find(':');
  if (c1 == std::string_view::npos) return std::nullopt;
  const auto c2 = id.find(':', c1 + 1);
  if (c2 == std::string_view::npos || c2 == c1 + 1) return std::nullopt;
  NoticeRef ref;
  ref.name = std::string(id.substr(0, c1));
  const auto digits = id.substr(c1 + 1, c2 - c1 - 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), ref.num);
  if (ec != std::errc() || end != digits.data() + digits.size() || !valid_name(ref.name)) {
    return std::nullopt;
  }
  return ref;
}

Result<v1::OutboundMessage> compose_notice(const v1::Customer& customer, uint64_t num,
                                           const Notice& notice, const templates::Catalog& catalog,
                                           const core::Sealer& sealer, Clock::time_point now) {
  if (!valid_name(notice.name)) {
    return make_error(ErrorCode::kInvalidArgument, "notice names are [a-z0-9_]+");
  }
  templates::NoticeVars vars = notice.vars;
  if (!vars.contains("first_name")) {
    vars["first_name"] = customer.name().substr(0, customer.name().find(' '));
  }
  v1::MessageContent content;
  if (auto s = fill_content(customer, notice, vars, catalog, content); !s.ok()) return s.error();

  v1::OutboundMessage msg;
  msg.set_id(notice_id(notice.name, num, core::random_token(kUniqueBytes)));
  msg.set_customer_id(customer.id());
  msg.set_customer_num(num);
  msg.set_channel(notice.channel);
  msg.set_priority(notice.priority);
  msg.set_language(customer.language());
  const auto now_s = Clock::to_time_t(now);
  *msg.mutable_queued_at() = TimeUtil::TimeTToTimestamp(now_s);
  if (notice.valid_for.count() > 0) {
    *msg.mutable_valid_until() = TimeUtil::TimeTToTimestamp(now_s + notice.valid_for.count());
  }
  dispatch::seal_content(content, sealer, msg);
  return msg;
}

Result<std::string> append_notice(redis::Batch& out, const v1::Customer& customer, uint64_t num,
                                  const Notice& notice, const templates::Catalog& catalog,
                                  const core::Sealer& sealer, Clock::time_point now) {
  auto msg = compose_notice(customer, num, notice, catalog, sealer, now);
  if (!msg.ok()) return std::move(msg).take_error();
  // The dispatcher (service/dispatch/dispatcher.cc, StaleCheck) treats a message whose event is
  // not stored as current and sends it; an empty event_id is such a message, so notices are
  // never dropped as stale. Its settle script counts the outcome in funnel_key("") = "fn:{}",
  // which is thus the notices' own funnel rather than any event's.
  out.push_back(dispatch::enqueue_command(*msg));
  return msg->id();
}

}  // namespace herald::notify
