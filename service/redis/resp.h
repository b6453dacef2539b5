#pragma once

#include <string>

#include "service/common/error.h"
#include "service/redis/reply.h"

struct redisReply;

namespace herald::redis {

// One command in Redis's wire format (RESP), written straight into `out`: cheaper than hiredis
// formatting each argument into an sds string of its own.
void append_resp(std::string& out, const Command& cmd);

// hiredis' parsed reply as ours.
Reply convert(const redisReply& r);

// What a connection, link or pool answers when Redis cannot be reached or used.
inline Error unavailable(std::string message) {
  return make_error(ErrorCode::kUnavailable, std::move(message));
}

}  // namespace herald::redis
