#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "service/redis/pool.h"

namespace herald::store {

std::string sha1_hex(std::string_view data);

// A Lua script run by EVALSHA, loaded on first use or after a Redis restart.
class Script {
 public:
  explicit Script(std::string body);
  const std::string& sha1() const { return sha1_; }
  const std::string& body() const { return body_; }
  // EVALSHA with no KEYS; on NOSCRIPT, loads the script and runs it again.
  awaitable<Result<redis::Reply>> run(redis::Pool& pool, std::vector<std::string> args) const;

 private:
  std::string body_;
  std::string sha1_;
};

// Upsert or erase a batch of customers with their indexes, atomically per script run.
const Script& customer_batch_script();
// Replaces one record whose index entries stay as they are, compare-and-set on its SHA-1.
const Script& record_swap_script();
// Reads customers by id: n and record for each, nil and nil when there is no such id.
const Script& customer_get_script();

}  // namespace herald::store
