// AwsClient: calls one AWS REST/JSON service (AWS IoT's control plane `iot`
// or data plane `iotdata`) the way the AWS SDKs do: SigV4-signed requests
// (crypto/sigv4.h) over kept-alive HTTPS connections, AWS's error format
// decoded, and the SDKs' "standard" retry mode, with requests paced below
// the per-API rate limits of the account (aws-iot.md section 7).
//
// Thread-safety: call() may be used concurrently from any thread.
// Errors: AwsError, see below. call() never throws.
// Logging: one debug line per call (operation, status, attempts, ms) and a
// warning per retry; never the secret key, the Authorization header or a
// request body (bodies may hold keys and CSRs).
#pragma once

#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace para::iot {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials only; sent as X-Amz-Security-Token
};

struct AwsClientOptions {
  AwsCredentials credentials;
  std::string region = "us-east-1";
  std::string service;  // SigV4 signing name: "iot" or "iotdata"
  // "https://iot.us-east-1.amazonaws.com" or "http://127.0.0.1:5000": scheme
  // http or https, host, optional port, no path (a lone "/" is allowed).
  std::string endpoint;
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds request_timeout{10000};  // per attempt, connect included
  int max_attempts = 3;  // standard mode: the first try and two retries (< 1 means 1)
  // Requests per second allowed per operation name (e.g. "CreateThing": 15);
  // operations not listed (or with a rate <= 0) are not paced. Waits, never
  // fails, when over. Calls of one operation are spaced exactly 1/rate apart,
  // with no burst, because AWS enforces its limits per second: no one-second
  // window ever holds more than `rate` calls of an operation.
  std::map<std::string, double, std::less<>> rate_limits;
  // Clock and sleep, injectable for tests. `now` gives X-Amz-Date and, when
  // set, also drives pacing (otherwise pacing uses the steady clock). `sleep`
  // is called only for positive waits (pacing and retry backoff).
  std::function<std::chrono::system_clock::time_point()> now;
  std::function<void(std::chrono::milliseconds)> sleep;
};

struct AwsRequest {
  std::string operation;  // "CreateThing", for pacing, retries and messages
  std::string method;     // "GET", "POST", ...
  std::string path;       // already percent-encoded, e.g. "/things/my%3Athing/shadow"
  std::vector<std::pair<std::string, std::string>> query;    // decoded name, value
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, all signed
  std::string body;
  std::string content_type;  // empty: no Content-Type header (blob payloads)
};

struct AwsResponse {
  int status = 0;
  std::string body;
  std::string request_id;  // x-amzn-RequestId
};

// The code of errors raised by the client itself before anything was sent
// (bad endpoint, path, method or header; an unexpected exception): status 0,
// attempts 0, never retryable.
inline constexpr std::string_view kClientErrorCode = "ClientError";

struct AwsError {
  int status = 0;          // HTTP status; 0 when no response arrived
  std::string code;        // AWS error code, e.g. "ResourceNotFoundException"; "" if none
  std::string message;     // AWS's message, or what went wrong on the wire
  std::string operation;   // the AwsRequest::operation that failed
  int attempts = 0;        // how many times it was tried (0: never sent)
  std::string request_id;  // x-amzn-RequestId of the last response, for AWS support

  // Connection refused/reset, timeouts: the request may or may not have run.
  bool transport() const { return status == 0; }
  // "CreateThing failed: ResourceNotFoundException (404): Not Found"
  // "CreateThing failed: <curl's message> (no response)"
  std::string describe() const;
};

template <class T>
using AwsResult = boost::system::result<T, AwsError>;

[[noreturn]] void throw_exception_from_error(const AwsError& e, const boost::source_location& loc);

class AwsClient {
 public:
  // Never fails: a bad endpoint is reported by every call() (kClientErrorCode).
  explicit AwsClient(AwsClientOptions options);
  ~AwsClient();
  AwsClient(const AwsClient&) = delete;
  AwsClient& operator=(const AwsClient&) = delete;

  // Sends `request`, retrying what standard mode retries (5xx, transport
  // errors, throttling codes but not LimitExceededException) with jittered
  // exponential backoff, and returns the first success (2xx) or the last
  // error. Non-2xx responses are decoded per aws-iot.md 1.2. Each attempt is
  // signed afresh and waits for its operation's pacing token first. Retries
  // also stop when the client's retry quota (standard mode: 500 tokens, 5 per
  // retry, 10 after a timeout, refunded by successes) runs out, so a dead
  // service does not triple the load. A response `x-amz-retry-after: <ms>`
  // lengthens the next delay to at most 5 s beyond the backoff.
  // Not idempotent unless the AWS operation is: a transport error means the
  // request may have run, and it is retried anyway (as the SDKs do).
  AwsResult<AwsResponse> call(const AwsRequest& request);

  const AwsClientOptions& options() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// True for what the standard retry mode retries (aws-iot.md 7.1): transport
// errors (except kClientErrorCode), HTTP 500/502/503/504, and the transient
// and throttling codes whatever their status (IoT's control plane throttles
// with 400 ThrottlingException); LimitExceededException (IoT's 410, a real
// limit) is not retried although the SDKs list it.
bool is_retryable(const AwsError& error);

// The error of a non-2xx response: code from x-amzn-ErrorType (cut at ':',
// after the last '#'), else body "__type"/"code"/"Code" (strings only, cut
// the same way); message from body "message"/"Message", else, when the body
// is not JSON (an HTML page from a proxy), its first 200 printable bytes.
// `operation` and `attempts` are left for the caller to fill.
AwsError decode_error(int status, std::string_view error_type_header, std::string_view body);

// Standard mode's delay before retry `retry` (1, 2, ...): random in
// [0, min(2^(retry-1) s, 20 s)), from `unit_random` in [0, 1).
std::chrono::milliseconds backoff_delay(int retry, double unit_random);

// What call() sends for `request` at time `now`, minus the body: the URL
// (endpoint + path as given + RFC 3986 query in the order given) and the
// headers, all signed: Host (endpoint host, with the port unless it is the
// scheme's default), X-Amz-Date, X-Amz-Security-Token (with a session token),
// Content-Type (when set), the extra headers; then Authorization. The
// canonical URI encodes the path once more (every service but S3); the
// payload hash is the body's SHA-256. Pure (no clock, no network): call()
// uses it for each attempt, and tests check it against fixed vectors.
// Errors: kClientErrorCode for a bad endpoint, a path not starting with '/'
// or holding blanks, controls, '?' or '#', a method that is not a token, or
// a header name/value that could split the header block (CR, LF, NUL).
struct SignedRequest {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
};
AwsResult<SignedRequest> sign_request(const AwsClientOptions& options, const AwsRequest& request,
                                      std::chrono::system_clock::time_point now);

}  // namespace para::iot
