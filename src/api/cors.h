// CORS, so that Para clients in a web page (para-client-js in a browser) can
// call the API from another origin; on by default, as in Para
// (para.cors_enabled).
//
// Credentials travel in the Authorization header, never in cookies, so any
// origin is allowed ("*"). A browser sends its preflight (OPTIONS with
// Origin and Access-Control-Request-Method) without credentials: it is
// answered before authentication. Other requests from an origin get
// Access-Control-Allow-Origin on their response, and may read Location.
#pragma once

#include <optional>

#include "api/http.h"

namespace para {

// The answer to `request` if it is a CORS preflight, else nullopt.
std::optional<HttpResponse> cors_preflight(const HttpRequest& request);

// Adds the CORS response headers when `request` came with an Origin.
void add_cors_headers(const HttpRequest& request, HttpResponse& response);

// The same headers, for a response to a request that came with an Origin
// but was refused before it became an HttpRequest (malformed, too large):
// without them a page's script sees a network error, not the refusal.
void allow_any_origin(HttpResponse& response);

}  // namespace para
