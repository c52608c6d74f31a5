// AWS Signature Version 4: the canonical request, the string to sign and the
// signature, as pure functions over values (no clock, no network).
//
// Used both ways: the API verifies Para clients' signatures (service `para`,
// region `us-east-1`), and the AWS IoT client signs its own requests (services
// `iot` / `iotdata`). Algorithms: AWS's "Create a signed AWS API request" and
// para-api.md section 6.2.
//
// Thread-safety: pure functions.
// Errors: parse_authorization returns kUnauthenticated/kInvalidInput for a
// malformed header; nothing else fails.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"

namespace para::crypto {

// Hex SHA-256 of the empty payload.
inline constexpr std::string_view kEmptyPayloadHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct CanonicalRequest {
  std::string_view method;
  // The canonical URI, already encoded (see canonical_uri()).
  std::string uri;
  // Query parameters as decoded (name, value) pairs; order does not matter.
  // The Para verifier passes each name once (it keeps the first value, as
  // Para does); a repeated name is still canonicalised the AWS way (see
  // canonical_query()).
  std::vector<std::pair<std::string, std::string>> query;
  // Headers to sign as (name, value); names in any case, values raw. Values
  // are trimmed and inner runs of spaces/tabs collapsed to one space when
  // canonicalised; a name given more than once (in any case) becomes one
  // header whose values are joined with ',' in the order given (AWS rule).
  // Folded (multi-line) values must be unfolded by the caller.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_hash;  // lowercase hex SHA-256 of the body
};

// The canonical URI for a path as it appears on the wire (still
// percent-encoded): every byte outside A-Z a-z 0-9 - _ . ~ / is encoded once
// more, so "%3A" becomes "%253A". Empty path -> "/". No dot-segment removal:
// Para and AWS IoT sign the path as sent.
std::string canonical_uri(std::string_view raw_path);

// "name=value&..." sorted by encoded name, then by encoded value for a
// repeated name; RFC 3986 encoding (space -> %20, '/' and '=' encoded).
std::string canonical_query(const std::vector<std::pair<std::string, std::string>>& query);

// The full canonical request text, and the `;`-joined signed header list
// (lowercase, sorted) it used.
struct Canonical {
  std::string text;
  std::string signed_headers;
};
Canonical canonicalize(const CanonicalRequest& request);

struct Scope {
  std::string date;  // yyyyMMdd
  std::string region;
  std::string service;
  std::string str() const { return date + "/" + region + "/" + service + "/aws4_request"; }
};

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical)>".
std::string string_to_sign(std::string_view amz_date, const Scope& scope,
                           std::string_view canonical_text);

// The derived signing key (raw bytes): HMAC chain over "AWS4"+secret.
std::string signing_key(std::string_view secret, const Scope& scope);

// Derived signing keys, kept per (name, scope), `name` being whatever names
// the secret's owner (an app): deriving one takes four HMACs, about half of
// what verifying a request costs, though the key changes once a day. An
// entry remembers the secret it came from and is derived again when that
// secret changes, so a rotated secret never signs with the old key. When
// full, it starts over.
//
// Thread-safety: key() may be called from any thread.
class SigningKeyCache {
 public:
  explicit SigningKeyCache(std::size_t capacity = 4096) : capacity_(capacity) {}
  SigningKeyCache(const SigningKeyCache&) = delete;
  SigningKeyCache& operator=(const SigningKeyCache&) = delete;

  // signing_key(secret, scope), derived at most once per name, secret and scope.
  std::string key(std::string_view name, std::string_view secret, const Scope& scope);

 private:
  struct Entry {
    std::string secret;
    std::string key;
  };
  const std::size_t capacity_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;  // by name + "\n" + scope.str()
};

// Lowercase hex signature of `string_to_sign` with `key`.
std::string signature(std::string_view key, std::string_view string_to_sign);

// Signs a request end to end and returns the Authorization header value:
// "AWS4-HMAC-SHA256 Credential=<key>/<scope>, SignedHeaders=<...>, Signature=<...>".
std::string authorization_header(const CanonicalRequest& request, std::string_view access_key,
                                 std::string_view secret, std::string_view amz_date,
                                 const Scope& scope);

// The parts of an incoming Authorization header:
//   "AWS4-HMAC-SHA256 Credential=<key>/<scope>, SignedHeaders=<a;b>, Signature=<hex>"
// Blanks around the components, keys and values are tolerated; each of the
// three components must appear exactly once, in any order.
// Errors: kUnauthenticated when the header is not an AWS4-HMAC-SHA256 one
// (e.g. "Bearer ..." or "Anonymous ..."); kInvalidInput when it is but is
// malformed: a missing, repeated or unknown component, a Credential without
// "<key>/", an empty SignedHeaders entry, or a Signature that is not 64 hex
// digits. The credential scope is not checked (Para ignores it, section 6.2).
struct AuthorizationHeader {
  std::string access_key;                   // text after "Credential=" up to the first '/'
  std::string credential;                   // the whole Credential value
  std::vector<std::string> signed_headers;  // lowercase, in the order sent
  std::string signature;
};
Result<AuthorizationHeader> parse_authorization(std::string_view header);

}  // namespace para::crypto
