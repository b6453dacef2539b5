#include "channels/sandbox.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "service/common/json_string.h"

namespace herald::channels {
namespace {

using google::protobuf::util::TimeUtil;

class JsonObject {
 public:
  JsonObject() { out_ += '{'; }
  void str(std::string_view key, std::string_view value) {
    name(key);
    herald::append_json_string(out_, value);
  }
  void str_if(std::string_view key, std::string_view value) {
    if (!value.empty()) str(key, value);
  }
  void num(std::string_view key, uint64_t value) {
    name(key);
    out_ += std::to_string(value);
  }
  std::string finish() && {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void name(std::string_view key) {
    if (out_.size() > 1) out_ += ',';
    herald::append_json_string(out_, key);
    out_ += ':';
  }
  std::string out_;
};

}  // namespace

std::string sandbox_line(const v1::OutboundMessage& msg, const v1::MessageContent& content,
                         int64_t sent_at_ms) {
  JsonObject j;
  j.str("id", msg.id());
  j.str("customerId", msg.customer_id());
  j.str("eventId", msg.event_id());
  j.num("revision", msg.revision());
  j.str("channel", v1::Channel_Name(msg.channel()));
  j.str("priority", v1::Priority_Name(msg.priority()));
  j.str("language", msg.language());
  j.str("to", content.to());
  j.str_if("sms", content.sms());
  j.str_if("subject", content.subject());
  j.str_if("text", content.text());
  j.str_if("html", content.html());
  j.str_if("voice", content.voice());
  if (!content.sms().empty()) j.num("smsSegments", content.sms_segments());
  if (msg.has_queued_at()) j.str("queuedAt", TimeUtil::ToString(msg.queued_at()));
  j.str("sentAt", TimeUtil::ToString(TimeUtil::MillisecondsToTimestamp(sent_at_ms)));
  return std::move(j).finish();
}

SandboxChannel::SandboxChannel(const std::filesystem::path& dir, v1::Channel kind)
    : kind_(kind), path_(dir / (std::string(channel_key(kind)) + ".jsonl")) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("sandbox: cannot create " + dir.string() + ": " + ec.message());
  file_.reset(std::fopen(path_.c_str(), "a"));
  if (!file_) {
    throw std::runtime_error("sandbox: cannot open " + path_.string() + ": " +
                             std::strerror(errno));
  }
  written_before_start_ = ids_at_file_end();
}

SandboxChannel::~SandboxChannel() = default;

void SandboxChannel::remember(std::string id) {
  if (!remembered_.insert(id).second) return;
  remembered_order_.push_back(std::move(id));
  if (remembered_order_.size() > kRemembered) {
    remembered_.erase(remembered_order_.front());
    remembered_order_.pop_front();
  }
}

std::unordered_set<std::string> SandboxChannel::ids_at_file_end() const {
  // Lines take a few hundred bytes (SMS) to about 3 KiB (email with its HTML part), so this
  // many bytes hold the last kRemembered lines; longer lines only shorten the memory.
  constexpr std::streamoff kTailBytes = static_cast<std::streamoff>(kRemembered) * 4096;
  std::ifstream in(path_, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff from = size > kTailBytes ? size - kTailBytes : 0;
  in.seekg(from);
  std::string line;
  if (from > 0) std::getline(in, line);  // a line cut by the seek
  constexpr std::string_view kPrefix = R"({"id":")";
  std::vector<std::string> ids;
  for (; std::getline(in, line);) {
    if (!line.starts_with(kPrefix)) continue;
    const size_t end = line.find('"', kPrefix.size());
    if (end == std::string::npos) continue;
    // An escaped character ends the id early: such an id is not matched, only written again.
    ids.push_back(line.substr(kPrefix.size(), end - kPrefix.size()));
  }
  const size_t keep = std::min(ids.size(), kRemembered);
  return {std::make_move_iterator(ids.end() - static_cast<std::ptrdiff_t>(keep)),
          std::make_move_iterator(ids.end())};
}

SendResult SandboxChannel::send(const v1::OutboundMessage& msg, const v1::MessageContent& content) {
  SendResult result;
  if (msg.channel() != kind_) {
    result.status = SendResult::Status::kPermanent;
    result.error_code = "wrong_channel";
    result.detail = fmt::format("message {} is for {}, this sandbox writes {}", msg.id(),
                                channel_key(msg.channel()), channel_key(kind_));
    return result;
  }
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  std::string line = sandbox_line(msg, content, now_ms);
  line += '\n';

  std::lock_guard lock(mu_);
  // Written before: a repeat after a crash, or after a lost sent guard.
  if (written_before_start_.contains(msg.id()) || remembered_.contains(msg.id())) {
    result.provider_id = "sandbox-repeat";
    return result;
  }
  // A short write or failed flush is worth another try: the entry stays pending.
  if (std::fwrite(line.data(), 1, line.size(), file_.get()) != line.size() ||
      std::fflush(file_.get()) != 0) {
    result.status = SendResult::Status::kRetry;
    result.error_code = "write_failed";
    result.detail = "sandbox: cannot write " + path_.string() + ": " + std::strerror(errno);
    result.retry_after = std::chrono::milliseconds(1000);
    return result;
  }
  result.provider_id = "sandbox-" + std::to_string(++sent_);
  remember(msg.id());
  return result;
}

}  // namespace herald::channels
