// Error vocabulary shared by every subsystem.
//
// Expected failures (bad input, missing objects, version conflicts, an
// unreachable broker) are returned as values: `Result<T>` holds either a T or
// an `Error`. Exceptions are reserved for bugs and for library code that
// throws; they are caught at one boundary per request and become `Internal`.
//
// The mapping from ErrorKind to an HTTP status lives in exactly one place:
// api/errors.cpp. Adding a kind without mapping it fails to compile there.
#pragma once

#include <boost/system/result.hpp>

#include <string>
#include <utility>

namespace para {

enum class ErrorKind {
  kInvalidInput,        // the request is malformed or breaks a rule (400)
  kUnauthenticated,     // no usable credentials (401)
  kForbidden,           // credentials are valid but not allowed (403)
  kNotFound,            // the object, app or route does not exist (404)
  kMethodNotAllowed,    // the route exists, the method does not (405)
  kConflict,            // a state conflict the client can retry (409)
  kPreconditionFailed,  // optimistic locking: stale `version` (412)
  kUnavailable,         // a dependency is down or not configured (503)
  kUpstreamFailed,      // a remote service answered with an error (502)
  kInternal,            // a bug or an unexpected failure (500)
};

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;
};

inline Error invalid_input(std::string message) {
  return {ErrorKind::kInvalidInput, std::move(message)};
}
inline Error not_found(std::string message) {
  return {ErrorKind::kNotFound, std::move(message)};
}
inline Error forbidden(std::string message) {
  return {ErrorKind::kForbidden, std::move(message)};
}
inline Error unauthenticated(std::string message) {
  return {ErrorKind::kUnauthenticated, std::move(message)};
}
inline Error internal_error(std::string message) {
  return {ErrorKind::kInternal, std::move(message)};
}
inline Error unavailable(std::string message) {
  return {ErrorKind::kUnavailable, std::move(message)};
}

// Result<T> is a T or an Error. Result<void> (alias Status) is success or an Error.
template <class T>
using Result = boost::system::result<T, Error>;
using Status = Result<void>;

// Called by Result<T>::value() when it holds an error: that is a bug in the
// caller (it should have checked), so it throws and the request becomes a 500.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

}  // namespace para
