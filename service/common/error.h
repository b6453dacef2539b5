#pragma once

#include <string>

namespace herald {

// What went wrong, in the terms the API reports it (see http/errors.h for the mapping).
enum class ErrorCode {
  kInvalidArgument,
  kUnauthenticated,
  kPermissionDenied,
  kNotFound,
  kMethodNotAllowed,
  kConflict,
  kPayloadTooLarge,
  kUnsupportedMediaType,
  kUnavailable,
  kInternal,
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string field;  // the offending field's JSON path, when there is one
};

// A function, not aggregate init: g++ 12 rejects string literals in aggregates inside coroutines.
inline Error make_error(ErrorCode code, std::string message, std::string field = {}) {
  return Error{code, std::move(message), std::move(field)};
}

inline Error invalid(std::string field, std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message), std::move(field)};
}

const char* code_name(ErrorCode code);

}  // namespace herald
