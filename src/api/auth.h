// Authentication of API requests: who is calling, and may they.
//
// Accepted credentials (para-api.md section 6):
//   - AWS Signature V4 with the app's keys (service `para`, region
//     `us-east-1`, access key `app:<identifier>`), as every Para client signs;
//   - `Authorization: Bearer <JWT>`, HS256 "super tokens" signed with the app
//     secret (claims appid, exp, nbf, iat), as para-cli makes them.
// Anonymous and unsigned requests are refused (no resource permissions exist).
//
// Thread-safety: authenticate() may be called from any thread.
// Errors: kUnauthenticated (no/invalid credentials, 401), kInvalidInput
// ("Request has expired.", 400), kNotFound ("App not found.", 404),
// kForbidden (bad signature, inactive app, read-only app on a write, 403).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "api/http.h"
#include "api/request.h"
#include "core/config.h"
#include "crypto/sigv4.h"
#include "objects/apps.h"

namespace para {

struct Principal {
  std::shared_ptr<const App> app;
  bool via_jwt = false;
};

class Authenticator {
 public:
  // `now_sec` returns the current epoch time in seconds (injectable for tests).
  Authenticator(AppDirectory& apps, const Config& config,
                std::function<std::int64_t()> now_sec = {});

  Result<Principal> authenticate(const HttpRequest& request, const ParsedTarget& target) const;

 private:
  Result<Principal> verify_signature(const HttpRequest& request, const ParsedTarget& target,
                                     std::string_view authorization) const;
  Result<Principal> verify_jwt(std::string_view token) const;
  Status check_date(std::string_view amz_date) const;

  AppDirectory& apps_;
  const Config& config_;
  std::function<std::int64_t()> now_sec_;
  mutable crypto::SigningKeyCache signing_keys_;  // by app identifier and scope
};

// The request's credentials: the Authorization header, else (for a JWT, as
// Para allows) the Authorization query parameter; trimmed.
std::string_view authorization_of(const HttpRequest& request, const ParsedTarget& target);

// Parses "yyyyMMddTHHmmssZ" to epoch seconds; nullopt if malformed.
std::optional<std::int64_t> parse_amz_date(std::string_view text);

}  // namespace para
