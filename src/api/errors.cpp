#include "api/errors.h"

#include "core/json.h"

namespace para {

unsigned http_status_of(ErrorKind kind) {
  // No default: a new ErrorKind must be mapped here (-Wswitch).
  switch (kind) {
    case ErrorKind::kInvalidInput:
      return 400;
    case ErrorKind::kUnauthenticated:
      return 401;
    case ErrorKind::kForbidden:
      return 403;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kMethodNotAllowed:
      return 405;
    case ErrorKind::kConflict:
      return 409;
    case ErrorKind::kPreconditionFailed:
      return 412;
    case ErrorKind::kUpstreamFailed:
      return 502;
    case ErrorKind::kUnavailable:
      return 503;
    case ErrorKind::kInternal:
      return 500;
  }
  return 500;
}

std::string status_body(unsigned code, std::string_view message) {
  std::string body = "{\"code\":" + std::to_string(code) + ",\"message\":";
  append_json_string(body, message);
  body.push_back('}');
  return body;
}

HttpResponse error_response(const Error& error) {
  HttpResponse response;
  response.status = http_status_of(error.kind);
  response.body = status_body(response.status, error.message);
  return response;
}

}  // namespace para
