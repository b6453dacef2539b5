#pragma once

#include <string>
#include <vector>

#include "service/common/error.h"
#include "service/redis/reply.h"

struct redisReader;

namespace herald::redis {

// One command in Redis's wire format (RESP), written straight into `out`: cheaper than hiredis
// formatting each argument into an sds string of its own.
void append_resp(std::string& out, const Command& cmd);

// Every non-empty command of `cmds` (Redis answers nothing to an empty one), `out` grown once to
// the size they need: a batch of an import is hundreds of kilobytes, built without regrowing.
void append_resp(std::string& out, const std::vector<Command>& cmds);

// A hiredis reader that builds our Reply objects itself (reply_functions), instead of its own
// redisReply tree that would then be copied: a string reply is one allocation, not two.
redisReader* new_reader();
// Makes a reader (a redisContext's) build our Reply objects.
void use_reply_objects(redisReader* reader);
// The reply a reader made that way hands over (redisGetReply, redisReaderGetReply), now ours.
Reply take_reply(void* raw);

// What a connection, link or pool answers when Redis cannot be reached or used.
inline Error unavailable(std::string message) {
  return make_error(ErrorCode::kUnavailable, std::move(message));
}

}  // namespace herald::redis
