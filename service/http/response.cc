#include "service/http/response.h"

#include <cstdio>

#include "service/common/json_string.h"

namespace herald::http {
namespace {

Response make(bhttp::status status, std::string body, const char* content_type) {
  Response res{status, 11};
  res.set(bhttp::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

}  // namespace

bhttp::status status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return bhttp::status::bad_request;
    case ErrorCode::kUnauthenticated:
      return bhttp::status::unauthorized;
    case ErrorCode::kPermissionDenied:
      return bhttp::status::forbidden;
    case ErrorCode::kNotFound:
      return bhttp::status::not_found;
    case ErrorCode::kMethodNotAllowed:
      return bhttp::status::method_not_allowed;
    case ErrorCode::kConflict:
      return bhttp::status::conflict;
    case ErrorCode::kPayloadTooLarge:
      return bhttp::status::payload_too_large;
    case ErrorCode::kUnsupportedMediaType:
      return bhttp::status::unsupported_media_type;
    case ErrorCode::kUnavailable:
      return bhttp::status::service_unavailable;
    case ErrorCode::kInternal:
      return bhttp::status::internal_server_error;
  }
  return bhttp::status::internal_server_error;
}

std::string error_body(const Error& error) {
  std::string out = R"({"error":{"code":)";
  herald::append_json_string(out, code_name(error.code));
  out += R"(,"message":)";
  herald::append_json_string(out, error.message);
  if (!error.field.empty()) {
    out += R"(,"field":)";
    herald::append_json_string(out, error.field);
  }
  out += "}}";
  return out;
}

Response json(bhttp::status status, std::string body) {
  return make(status, std::move(body), "application/json");
}

Response error_response(const Error& error) {
  Response res = json(status_for(error.code), error_body(error));
  if (error.code == ErrorCode::kUnauthenticated) res.set(bhttp::field::www_authenticate, "Bearer");
  return res;
}

Response protobuf(bhttp::status status, std::string bytes) {
  return make(status, std::move(bytes), "application/x-protobuf");
}

}  // namespace herald::http
