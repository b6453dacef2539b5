#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "herald/v1/callback.pb.h"
#include "service/store/scripts.h"

// Where callbacks live in Redis (docs/architecture.md, "Callbacks"). Every key carries the
// hash tag {cb}, so the one script below may touch them all under Redis Cluster too.
namespace herald::callbacks {

inline constexpr std::string_view kSlotsKey = "cb:{cb}:slots";    // zset slot start (s)
inline constexpr std::string_view kCapKey = "cb:{cb}:cap";        // start -> "minutes:agents"
inline constexpr std::string_view kRecordsKey = "cb:{cb}:rec";    // id -> Callback bytes
inline constexpr std::string_view kOpenKey = "cb:{cb}:open";      // customer id -> open id
inline constexpr std::string_view kLaterKey = "cb:{cb}:later";    // waiting for capacity
inline constexpr std::string_view kMovedKey = "cb:{cb}:moved";    // cut out of their slot
inline constexpr std::string_view kCalledKey = "cb:{cb}:called";  // ids by call time (ms)
inline constexpr std::string_view kOutboxKey = "cb:{cb}:out";     // stream: id, what, r
inline constexpr std::string_view kRequestQueueKey = "cbq";       // inbound CALL replies
inline constexpr std::string_view kGroup = "callbacks";           // consumer group everywhere

std::string slot_key(int64_t start_s);               // cb:{cb}:in:<start>
std::string status_key(v1::Callback::Status status);  // cb:{cb}:st:<STATUS>
std::string wait_key(std::string_view event_id);      // cb:{cb}:wait:<event>
std::string event_counts_key(std::string_view event_id);  // cb:{cb}:ev:<event>

// "minutes:agents", as cb:{cb}:cap holds a slot.
std::string encode_capacity(uint32_t minutes, uint32_t agents);
bool decode_capacity(std::string_view text, uint32_t& minutes, uint32_t& agents);

// Every change of a callback, atomically; ARGV layout in keys.cc.
const store::Script& callback_script();
// Replaces the slots of a range and cuts over-full slots; returns the ids taken out.
const store::Script& capacity_script();

}  // namespace herald::callbacks
