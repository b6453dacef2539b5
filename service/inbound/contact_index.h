#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "herald/v1/customer.pb.h"
#include "service/common/net.h"
#include "service/common/result.h"
#include "service/core/crypto.h"
#include "service/redis/pool.h"

// What the webhooks need to find a customer by a contact detail, without holding the detail in
// clear: an inbound SMS names only its sender's number.
//
//   ph:{<hex of m[0..2)>}  hash  m[2..14) (12 raw bytes) -> customer id
//   iv:email               hash  customer number -> hex of m of the address that bounced
//
// m = HMAC-SHA256(key, contact) with key = HMAC-SHA256(HERALD_PII_KEY, "herald contact index
// v1"): without the PII key, the index cannot be searched for a number. A stale entry is
// harmless, because a lookup opens the customer's record and compares the phone. 65,536
// buckets keep each one a small listpack up to about 15 million numbers, and a 12-byte field
// (96 bits) leaves collisions among them far less likely than a mistyped number.
namespace herald::inbound {

inline constexpr std::string_view kInvalidEmailKey = "invalid:email";  // set of customer numbers
inline constexpr std::string_view kInvalidEmailHashKey = "iv:email";

class ContactIndex {
 public:
  // kInvalidArgument (naming HERALD_PII_KEY) when the key does not decode.
  static Result<ContactIndex> from_pii_key(std::string_view key_text);

  std::string hash(std::string_view contact) const;  // 64 hex characters
  // Where a phone number's entry lives: its bucket key and its field there.
  struct Slot {
    std::string key;
    std::string field;
  };
  Slot phone_slot(std::string_view phone) const;

  // After customers were stored: maps each phone to its customer, and clears the undeliverable
  // mark of a customer whose email is no longer the address that bounced. One script run.
  awaitable<Status> stored(redis::Pool& pool, std::span<const v1::Customer> customers) const;
  // After a customer was erased: drops the phone's entry if it still names this customer.
  awaitable<Status> erased(redis::Pool& pool, const v1::Customer& customer) const;

 private:
  explicit ContactIndex(std::string_view key) : mac_(key) {}
  core::HmacSha256 mac_;
};

}  // namespace herald::inbound
