#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "herald/v1/common.pb.h"
#include "herald/v1/message.pb.h"

namespace herald::channels {

// What one attempt to hand a message to a provider came to.
struct SendResult {
  enum class Status { kSent, kRetry, kPermanent };
  Status status = Status::kSent;
  std::string provider_id;                   // the provider's id for the message, when it took it
  std::string error_code;                    // the provider's code, e.g. Twilio "21610"
  std::string detail;                        // never contains contact details
  std::chrono::milliseconds retry_after{0};  // a provider's Retry-After, for kRetry
};

// One delivery channel. send() may block (it runs on dispatcher threads, never on I/O
// threads) and must be safe to call from several threads at once.
class Channel {
 public:
  virtual ~Channel();
  virtual v1::Channel kind() const = 0;
  virtual SendResult send(const v1::OutboundMessage& msg, const v1::MessageContent& content) = 0;
};

// "sms", "email", "voice", "webhook": the name in stream keys, funnel fields and file names.
std::string_view channel_key(v1::Channel channel);

}  // namespace herald::channels
