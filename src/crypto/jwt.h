// JSON Web Tokens, HS256 only (Para's "super tokens" and user tokens).
//
// Thread-safety: pure functions.
// Errors: verify_hs256 returns kUnauthenticated whose message is exactly one
// of "malformed", "bad signature", "expired", "not yet valid", "unsupported
// algorithm"; peek_claims returns kUnauthenticated "malformed".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/json.h"

namespace para::crypto {

// header.payload.signature with {"alg":"HS256","typ":"JWT"}.
std::string sign_hs256(const json::object& claims, std::string_view key);

// Checks, in this order (the failure reason after each "->"):
//   - three segments, each strict unpadded base64url -> "malformed";
//   - a header object whose `alg` is exactly "HS256" and that has no `crit`
//     -> "unsupported algorithm" (so "none" is refused);
//   - the signature, in constant time -> "bad signature";
//   - a payload that is a JSON object -> "malformed";
//   - `exp`, required and numeric (else "malformed"), > now -> "expired";
//   - `nbf`, if present numeric (else "malformed"), <= now -> "not yet valid";
// against `now_sec` (epoch seconds, no leeway). Returns the claims.
Result<json::object> verify_hs256(std::string_view token, std::string_view key,
                                  std::int64_t now_sec);

// The claims of a token without checking anything: only to find which key to
// verify it with (the `appid` claim). Never trust the result on its own.
Result<json::object> peek_claims(std::string_view token);

}  // namespace para::crypto
