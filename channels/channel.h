#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "herald/v1/common.pb.h"
#include "herald/v1/message.pb.h"

namespace herald::channels {

// What one attempt to hand a message to a provider came to.
struct SendResult {
  enum class Status { kSent, kRetry, kPermanent };
  // Why a permanent failure happened, where the dispatcher acts on it.
  enum class Failure {
    kNone,
    kOptedOut,        // the provider says the recipient opted out (Twilio 21610)
    kInvalidContact,  // the number or address cannot receive this channel (e.g. Twilio 21211)
    kRejected,        // anything else permanent (bad content, account problem)
  };
  Status status = Status::kSent;
  Failure failure = Failure::kNone;
  std::string provider_id;                   // the provider's id for the message, when it took it
  std::string error_code;                    // the provider's code, e.g. Twilio "21610"
  std::string detail;                        // never contains contact details
  std::chrono::milliseconds retry_after{0};  // a provider's Retry-After, for kRetry
};

// One message of a batch: the queued message and its opened content.
struct Outgoing {
  const v1::OutboundMessage* msg;
  const v1::MessageContent* content;
};

// One delivery channel. send() and send_batch() may block (they run on dispatcher threads,
// never on I/O threads) and must be safe to call from several threads at once.
class Channel {
 public:
  virtual ~Channel();
  virtual v1::Channel kind() const = 0;
  virtual SendResult send(const v1::OutboundMessage& msg, const v1::MessageContent& content) = 0;

  // Sends several messages and returns one result per message, in order. The default sends
  // them one after another; adapters over HTTP send them side by side.
  virtual std::vector<SendResult> send_batch(std::span<const Outgoing> batch);

  // The rate budget this channel spends, shared by every heraldd process:
  // "<provider>:<sender>", e.g. "twilio:AC…:+15550001111". Empty: no budget (sandbox).
  virtual std::string budget_key() const { return {}; }
};

// "sms", "email", "voice", "webhook": the name in stream keys, funnel fields and file names.
std::string_view channel_key(v1::Channel channel);

}  // namespace herald::channels
