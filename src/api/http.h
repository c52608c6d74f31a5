// The API's view of HTTP: plain values, no sockets and no Beast types, so the
// whole API can be driven in memory by tests and fuzzers. The network layer
// (src/server) turns wire messages into HttpRequest and HttpResponse back.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace para {

struct HttpRequest {
  std::string method;  // "GET", "POST", ... as received
  std::string target;  // request-target as received: raw path and query
  std::vector<std::pair<std::string, std::string>> headers;  // in arrival order
  std::string body;
  std::string remote_address;  // for logs only

  // The first value of header `name` (case-insensitive), or "" if absent.
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // The answer to a HEAD: the headers GET would send, Content-Length of
  // `body` included, without the body.
  bool head_only = false;
};

}  // namespace para
