#include "api/cors.h"

#include <algorithm>

namespace para {
namespace {

constexpr const char* kAllowedMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
// What para-client-js (aws4) sends, when the preflight does not list them.
constexpr const char* kDefaultHeaders = "Authorization, Content-Type, X-Amz-Date";
constexpr const char* kPreflightMaxAge = "3600";  // seconds a browser may reuse the answer

// Access-Control-Request-Headers is a list of header names; anything else in
// it is not echoed into our response.
bool is_header_list(std::string_view text) {
  return !text.empty() && text.size() <= 1024 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == ',' || c == ' ';
  });
}

}  // namespace

std::optional<HttpResponse> cors_preflight(const HttpRequest& request) {
  if (request.method != "OPTIONS" || request.header("Origin").empty() ||
      request.header("Access-Control-Request-Method").empty()) {
    return std::nullopt;
  }
  HttpResponse response;
  response.content_type = "text/plain; charset=utf-8";
  std::string_view asked = request.header("Access-Control-Request-Headers");
  response.headers = {{"Access-Control-Allow-Origin", "*"},
                      {"Access-Control-Allow-Methods", kAllowedMethods},
                      {"Access-Control-Allow-Headers",
                       is_header_list(asked) ? std::string(asked) : kDefaultHeaders},
                      {"Access-Control-Max-Age", kPreflightMaxAge}};
  return response;
}

void add_cors_headers(const HttpRequest& request, HttpResponse& response) {
  if (!request.header("Origin").empty()) allow_any_origin(response);
}

void allow_any_origin(HttpResponse& response) {
  response.headers.emplace_back("Access-Control-Allow-Origin", "*");
  response.headers.emplace_back("Access-Control-Expose-Headers", "Location");
}

}  // namespace para
