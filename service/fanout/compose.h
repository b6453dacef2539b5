#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "herald/v1/customer.pb.h"
#include "herald/v1/event.pb.h"
#include "herald/v1/message.pb.h"
#include "service/core/crypto.h"
#include "templates/catalog.h"

namespace herald::fanout {

struct ComposeOptions {
  std::string manage_url = "http://127.0.0.1:8080/v1/customers";  // + "/{id}?token=..."
  int64_t token_ttl_s = 30 * 24 * 3600;
};

// The variables of a customer's message: first name, the affected premises' addresses, times
// in the customer's zone and language, the signed preference link, the callback line.
templates::Vars message_vars(const v1::Customer& c, const v1::Event& e,
                             const std::vector<int>& premises, const core::TokenSigner& signer,
                             const ComposeOptions& options,
                             std::chrono::system_clock::time_point now);

// The moment after which a message about `e` is pointless (a maintenance advance notice once
// the work began, any maintenance notice once it ended); none for other kinds, whose messages
// a newer revision overtakes instead. The dispatcher drops what it could not send by then.
std::optional<google::protobuf::Timestamp> valid_until(const v1::Event& e);

// Renders and seals one message (content sealed with the message id as associated data).
// kNotFound when the kind and stage have no template for that channel.
Result<v1::OutboundMessage> compose(const v1::Customer& c, uint64_t num, const v1::Event& e,
                                    v1::Channel channel, v1::Priority priority,
                                    const templates::Vars& vars, const templates::Catalog& catalog,
                                    const core::Sealer& sealer,
                                    std::chrono::system_clock::time_point now);

// "<event>:<revision>:<channel>:<customer number>": one message per revision, channel, customer.
std::string message_id(const v1::Event& e, v1::Channel channel, uint64_t num);

}  // namespace herald::fanout
