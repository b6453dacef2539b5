#pragma once

#include <memory>
#include <vector>

#include "channels/channel.h"
#include "service/core/config.h"

namespace herald {

// One channel per v1::Channel (SMS, EMAIL, VOICE, WEBHOOK), each from its configured provider,
// or the sandbox when it has none. Twilio SMS and voice share one HTTP engine. Throws
// std::runtime_error at start-up when a channel cannot be built.
std::vector<std::shared_ptr<channels::Channel>> build_outlets(const core::Config& config);

}  // namespace herald
