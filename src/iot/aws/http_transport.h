// HttpTransport: blocking HTTP/1.1 exchanges over libcurl for AwsClient,
// with connections kept alive and reused. Private to src/iot/aws.
//
// Each transfer borrows a CURL easy handle from a small pool and gives it
// back afterwards; an easy handle keeps its own connection cache, so the
// next transfer to the same host reuses the connection. HTTPS verifies the
// peer and host name against the system CA bundle. No redirects are
// followed, no signals are used, and only http/https URLs are allowed.
//
// Thread-safety: send() may be called concurrently; each call has its own
// handle (concurrent calls open their own connections).
// Errors: send() never throws; a transfer that produced no complete
// response returns status 0 and says why in `error`.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace para::iot {

struct HttpRequest {
  std::string method;  // "GET" and "HEAD" send no body; any other method sends `body`
  std::string url;
  // Sent as given. Content-Type is sent only when listed here (libcurl's
  // form default is suppressed), and "Expect: 100-continue" never.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;  // not owned; must outlive send()
};

struct HttpResult {
  int status = 0;  // 0: no complete response, see `error`
  std::string body;
  // The response headers AwsClient needs (the last response's, values trimmed).
  std::string request_id;   // x-amzn-RequestId
  std::string error_type;   // x-amzn-ErrorType
  std::string retry_after;  // x-amz-retry-after (milliseconds, unparsed)
  std::string error;        // why no response: libcurl's message
  bool timed_out = false;   // the connect or request timeout expired
};

class HttpTransport {
 public:
  // A response body larger than this fails the transfer: AWS IoT answers
  // are small, and an endless body must not exhaust memory.
  static constexpr std::size_t kMaxResponseBody = 16 * 1024 * 1024;

  HttpTransport(std::chrono::milliseconds connect_timeout,
                std::chrono::milliseconds request_timeout);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  HttpResult send(const HttpRequest& request);

 private:
  class HandlePool;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds request_timeout_;
  std::unique_ptr<HandlePool> pool_;
};

}  // namespace para::iot
