#pragma once

#include <string>

#include "service/common/error.h"
#include "service/http/types.h"

namespace herald::http {

// The one table from error kinds to HTTP status codes.
bhttp::status status_for(ErrorCode code);

// {"error": {"code": "...", "message": "...", "field": "..."}}
std::string error_body(const Error& error);

Response json(bhttp::status status, std::string body);
Response error_response(const Error& error);
Response protobuf(bhttp::status status, std::string bytes);  // application/x-protobuf

}  // namespace herald::http
