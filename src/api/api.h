// Api: Para's REST API v1 as a function from HttpRequest to HttpResponse.
//
// One gate runs before every handler: answer a CORS preflight (api/cors.h),
// parse the target, match the route (404/405), authenticate unless the
// route is public, then call the handler.
// Handlers parse their inputs, call the object service and render JSON; they
// never see a socket. Every failure becomes Para's {"code":N,"message":"..."}.
//
// Thread-safety: handle() may be called concurrently from any thread.
// Errors: none escape: handle() always returns a response; an exception from
// a handler (a bug) becomes a 500 and an error log line.
#pragma once

#include <memory>

#include "api/http.h"
#include "core/config.h"
#include "objects/apps.h"
#include "objects/object_service.h"
#include "store/store.h"

namespace para {

class Api {
 public:
  Api(const Config& config, Store& store, AppDirectory& apps, ObjectService& objects);
  ~Api();

  HttpResponse handle(const HttpRequest& request);

 private:
  HttpResponse serve(const HttpRequest& request);  // handle() without CORS

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The product version reported by GET /v1/.
std::string_view server_version();

}  // namespace para
