#include "channels/channel.h"

namespace herald::channels {

Channel::~Channel() = default;

std::vector<SendResult> Channel::send_batch(std::span<const Outgoing> batch) {
  std::vector<SendResult> results;
  results.reserve(batch.size());
  for (const auto& out : batch) results.push_back(send(*out.msg, *out.content));
  return results;
}

std::string_view channel_key(v1::Channel channel) {
  switch (channel) {
    case v1::SMS:
      return "sms";
    case v1::EMAIL:
      return "email";
    case v1::VOICE:
      return "voice";
    case v1::WEBHOOK:
      return "webhook";
    default:
      return "unspecified";
  }
}

}  // namespace herald::channels
