// The one mapping from ErrorKind to an HTTP status and Para's error body
// {"code":N,"message":"..."}. Nothing else in the server picks a status for
// a failure.
#pragma once

#include "api/http.h"
#include "core/error.h"

namespace para {

unsigned http_status_of(ErrorKind kind);

// {"code":<status>,"message":<message>} with the matching status.
HttpResponse error_response(const Error& error);

// The same shape for a status that is not an Error (e.g. {"code":200,...}).
std::string status_body(unsigned code, std::string_view message);

}  // namespace para
