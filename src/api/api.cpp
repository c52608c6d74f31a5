#include "api/api.h"

#include <spdlog/spdlog.h>

#include <charconv>

#include "api/auth.h"
#include "api/cors.h"
#include "api/errors.h"
#include "api/request.h"
#include "api/routes.h"
#include "api/search_request.h"
#include "core/json.h"
#include "core/text.h"
#include "core/types.h"

namespace para {
namespace {

// Everything a handler needs about the call it serves.
struct Call {
  const HttpRequest& request;
  const ParsedTarget& target;
  std::vector<std::string> params;  // path placeholders, in pattern order
  Principal principal;              // empty for public routes
  FieldSelection select;

  const App& app() const { return *principal.app; }
};

HttpResponse json_response(unsigned status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

HttpResponse object_response(unsigned status, const ParaObject& object,
                             const FieldSelection& select) {
  HttpResponse response;
  response.status = status;
  append_client_json(response.body, object, select);
  return response;
}

Result<json::object> body_object(const HttpRequest& request) {
  if (trim(request.body).empty())
    return invalid_input("Request body is empty; expected a JSON object.");
  auto parsed = parse_json(request.body);
  if (!parsed) return parsed.error();
  if (!parsed->is_object()) return invalid_input("Expected a JSON object in the request body.");
  return std::move(parsed->get_object());
}

// The type a URL segment names: a core or custom plural, else the segment itself.
std::string resolve_type(const App& app, std::string_view segment) {
  for (const auto& t : core_types()) {
    if (plural_of(t.type) == segment) return std::string(t.type);
  }
  if (auto it = app.datatypes.find(segment); it != app.datatypes.end()) return it->second;
  return std::string(segment);
}

std::string credentials_body(const AppCredentials& c, std::string_view note_key,
                             std::string_view note) {
  json::object body;
  body["accessKey"] = c.access_key;
  body["secretKey"] = c.secret_key;
  body[note_key] = note;
  return to_json(body);
}

// A refused authentication; a refused JWT also says so in WWW-Authenticate,
// as Para (and RFC 6750) do.
HttpResponse refusal(const HttpRequest& request, const ParsedTarget& target, const Error& error) {
  HttpResponse response = error_response(error);
  if (error.kind == ErrorKind::kUnauthenticated &&
      authorization_of(request, target).starts_with("Bearer ")) {
    response.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
  }
  return response;
}

}  // namespace

std::string_view server_version() {
  return "0.1.0";
}

struct Api::Impl {
  using Handler = Result<HttpResponse> (Impl::*)(Call&);
  enum class Access { kPublic, kApp };
  struct Route {
    RoutePattern pattern;
    Access access;
    Handler handler;
  };

  const Config& config;
  Store& store;
  AppDirectory& apps;
  ObjectService& objects;
  Authenticator auth;
  std::vector<Route> routes;
  std::unique_ptr<Router> router;

  Impl(const Config& c, Store& s, AppDirectory& a, ObjectService& o)
      : config(c), store(s), apps(a), objects(o), auth(a, c) {
    routes = {
        {{"GET", "/v1"}, Access::kPublic, &Impl::info},
        {{"GET", "/v1/_health"}, Access::kPublic, &Impl::health},
        {{"GET", "/v1/_setup"}, Access::kPublic, &Impl::setup_root},
        {{"GET", "/v1/_setup/{app}"}, Access::kApp, &Impl::setup_child},
        {{"POST", "/v1/_newkeys"}, Access::kApp, &Impl::new_keys},
        {{"GET", "/v1/_me"}, Access::kApp, &Impl::me},
        {{"GET", "/v1/_types"}, Access::kApp, &Impl::types},
        {{"GET", "/v1/_id/{id}"}, Access::kApp, &Impl::read},
        {{"POST", "/v1/_batch"}, Access::kApp, &Impl::batch_create},
        {{"PUT", "/v1/_batch"}, Access::kApp, &Impl::batch_create},
        {{"GET", "/v1/_batch"}, Access::kApp, &Impl::batch_read},
        {{"PATCH", "/v1/_batch"}, Access::kApp, &Impl::batch_update},
        {{"DELETE", "/v1/_batch"}, Access::kApp, &Impl::batch_delete},
        {{"GET", "/v1/search"}, Access::kApp, &Impl::search_all},
        {{"GET", "/v1/search/{querytype}"}, Access::kApp, &Impl::search_all},
        {{"GET", "/v1/{type}"}, Access::kApp, &Impl::search_type},
        {{"GET", "/v1/{type}/search"}, Access::kApp, &Impl::search_type},
        {{"GET", "/v1/{type}/search/{querytype}"}, Access::kApp, &Impl::search_type},
        {{"POST", "/v1/{type}"}, Access::kApp, &Impl::create},
        {{"GET", "/v1/{type}/{id}"}, Access::kApp, &Impl::read_typed},
        {{"PATCH", "/v1/{type}/{id}"}, Access::kApp, &Impl::patch},
        {{"PUT", "/v1/{type}/{id}"}, Access::kApp, &Impl::overwrite},
        {{"DELETE", "/v1/{type}/{id}"}, Access::kApp, &Impl::remove},
    };
    std::vector<RoutePattern> patterns;
    for (const auto& r : routes)
      patterns.push_back(r.pattern);
    router = std::make_unique<Router>(patterns);
  }

  HttpResponse dispatch(const HttpRequest& request) {
    HttpResponse response = route(request);
    // HEAD is GET without the body, as JAX-RS answers it for Para (signed
    // and checked as HEAD).
    response.head_only = request.method == "HEAD";
    return response;
  }

  HttpResponse route(const HttpRequest& request) {
    auto target = parse_target(request.target);
    if (!target) return error_response(target.error());
    auto match = router->match(request.method, target->segments);
    if (!match) return error_response(match.error());
    const Route& route = routes[match->index];
    Call call{request,
              *target,
              std::move(match->path_params),
              {},
              FieldSelection(target->param("select"))};
    if (route.access == Access::kApp) {
      auto principal = auth.authenticate(request, *target);
      if (!principal) return refusal(request, *target, principal.error());
      call.principal = std::move(*principal);
    }
    auto response = (this->*route.handler)(call);
    if (!response) return error_response(response.error());
    return std::move(*response);
  }

  Result<HttpResponse> info(Call&) {
    json::object body;
    body["info"] = "Para - the backend for busy developers.";
    if (config.print_version) body["version"] = server_version();
    return json_response(200, to_json(body));
  }

  Result<HttpResponse> health(Call&) {
    if (auto st = store.check_health(); !st) {
      spdlog::error("health check failed: {}", st.error().message);
      return json_response(500, status_body(500, "unhealthy"));
    }
    return json_response(200, R"({"message":"healthy"})");
  }

  Result<HttpResponse> setup_root(Call&) {
    auto created = apps.setup_root();
    if (!created) return created.error();
    if (!*created) return json_response(200, R"({"message":"All set!"})");
    spdlog::info("root app '{}' created through /v1/_setup", apps.root_identifier());
    return json_response(
        200, credentials_body(**created, "message", "Save these keys - they are shown only once!"));
  }

  Result<HttpResponse> setup_child(Call& call) {
    if (!call.app().root) return forbidden("Only root app can create and initialize other apps.");
    std::string identifier = app_identifier_from(call.params[0]);
    auto created =
        apps.create_child(identifier, call.target.param("name"), call.target.param("creatorid"));
    if (!created) return created.error();
    if (!*created) return json_response(200, R"({"message":"All set!"})");
    spdlog::info("app '{}' created by the root app", identifier);
    return json_response(
        200, credentials_body(**created, "message", "Save these keys - they are shown only once!"));
  }

  Result<HttpResponse> new_keys(Call& call) {
    auto keys = apps.new_keys(call.app());
    if (!keys) return keys.error();
    spdlog::info("app '{}' has a new secret key", call.app().identifier);
    return json_response(
        200, credentials_body(*keys, "info", "Save the secret key! It is showed only once!"));
  }

  Result<HttpResponse> me(Call& call) {
    return object_response(200, call.app().record, call.select);
  }

  Result<HttpResponse> types(Call& call) {
    json::object body;
    for (const auto& t : core_types())
      body[plural_of(t.type)] = t.type;
    for (const auto& [plural, type] : call.app().datatypes)
      body[plural] = type;
    return json_response(200, to_json(body));
  }

  Result<HttpResponse> read(Call& call) {
    auto object = objects.read(call.app(), call.params[0]);
    if (!object) return object.error();
    return object_response(200, *object, call.select);
  }

  Result<HttpResponse> read_typed(Call& call) {
    call.params.erase(call.params.begin());  // Para reads by id only
    return read(call);
  }

  // GET /v1/search[/{querytype}]?type=...
  Result<HttpResponse> search_all(Call& call) {
    std::string type(call.target.param("type"));
    if (!type.empty()) type = resolve_type(call.app(), type);
    std::string querytype =
        call.params.empty() ? std::string(call.target.param("querytype")) : call.params[0];
    return run_search(call, type, querytype);
  }

  // GET /v1/{type}[/search[/{querytype}]]
  Result<HttpResponse> search_type(Call& call) {
    std::string querytype =
        call.params.size() > 1 ? call.params[1] : std::string(call.target.param("querytype"));
    return run_search(call, resolve_type(call.app(), call.params[0]), querytype);
  }

  Result<HttpResponse> run_search(Call& call, std::string type, std::string_view querytype) {
    std::string request_line = call.request.method + " " + call.target.raw_path;
    auto params = build_search(querytype, call.target, config, request_line);
    if (!params) return params.error();
    params->request.type = std::move(type);
    // Without a field selection the store's copy of each object as clients
    // see it is the answer.
    params->request.client_json = call.select.empty();
    auto result = objects.search(call.app(), params->request);
    if (!result) return result.error();
    std::string body;
    std::size_t stored = 0;
    for (const auto& json : result->client_json)
      stored += json.size() + 1;
    body.reserve(stored + 128);
    body += "{\"items\":[";
    for (std::size_t i = 0; i < result->client_json.size(); ++i) {
      if (i) body.push_back(',');
      body += result->client_json[i];
    }
    for (std::size_t i = 0; i < result->items.size(); ++i) {
      if (i) body.push_back(',');
      append_client_json(body, result->items[i], call.select);
    }
    body += "],\"page\":" + std::to_string(params->page) +
            ",\"totalHits\":" + std::to_string(result->total);
    if (!result->last_key.empty()) {
      body += ",\"lastKey\":";
      append_json_string(body, result->last_key);
    }
    body += "}";
    return json_response(200, std::move(body));
  }

  Result<HttpResponse> create(Call& call) {
    auto body = body_object(call.request);
    if (!body) return body.error();
    std::string type = resolve_type(call.app(), call.params[0]);
    if (auto t = body->find("type"); t != body->end() && t->value().is_string()) {
      std::string_view declared = t->value().get_string();
      // Para: the URL type wins unless it starts with the declared type
      // (POST /v1/cats {"type":"cat"} creates a "cat").
      if (!declared.empty() && std::string_view(type).starts_with(declared)) type = declared;
    }
    auto object = object_from_json(*body, type);
    if (!object) return object.error();
    object->type = type;
    auto created = objects.create(call.app(), std::move(*object));
    if (!created) return created.error();
    HttpResponse response = object_response(201, *created, call.select);
    response.headers.emplace_back("Location", "/v1/" + rfc3986_encode(created->type, false) + "/" +
                                                  rfc3986_encode(created->id, false));
    return response;
  }

  Result<HttpResponse> patch(Call& call) {
    auto body = body_object(call.request);
    if (!body) return body.error();
    auto updated = objects.patch(call.app(), call.params[1], *body);
    if (!updated) return updated.error();
    return object_response(200, *updated, call.select);
  }

  Result<HttpResponse> overwrite(Call& call) {
    auto body = body_object(call.request);
    if (!body) return body.error();
    std::string type = resolve_type(call.app(), call.params[0]);
    if (type == "app") {
      return invalid_input("Apps cannot be replaced with PUT; change them with PATCH.");
    }
    auto object = object_from_json(*body, type);
    if (!object) return object.error();
    object->type = type;
    object->id = call.params[1];
    auto written = objects.overwrite(call.app(), std::move(*object), *body);
    if (!written) return written.error();
    return object_response(200, *written, call.select);
  }

  static Result<json::array> body_array(const HttpRequest& request) {
    if (trim(request.body).empty())
      return invalid_input("Request body is empty; expected a JSON array.");
    auto parsed = parse_json(request.body);
    if (!parsed) return parsed.error();
    if (!parsed->is_array())
      return invalid_input("Expected a JSON array of objects in the request body.");
    return std::move(parsed->get_array());
  }

  HttpResponse objects_response(const std::vector<ParaObject>& list, const FieldSelection& select) {
    HttpResponse response;
    response.body.push_back('[');
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (i) response.body.push_back(',');
      append_client_json(response.body, list[i], select);
    }
    response.body.push_back(']');
    return response;
  }

  Result<HttpResponse> batch_create(Call& call) {
    auto items = body_array(call.request);
    if (!items) return items.error();
    std::vector<ParaObject> batch;
    for (const auto& item : *items) {
      // Para skips what it cannot use instead of failing the whole batch.
      if (!item.is_object() ||
          to_json(item).size() > static_cast<std::size_t>(config.max_entity_size_bytes)) {
        continue;
      }
      const auto& body = item.get_object();
      std::string type = "sysprop";
      if (auto t = body.find("type");
          t != body.end() && t->value().is_string() && !t->value().get_string().empty()) {
        type = resolve_type(call.app(), t->value().get_string());
      }
      auto object = object_from_json(body, type);
      if (!object) continue;
      object->type = type;
      batch.push_back(std::move(*object));
    }
    auto created = objects.create_all(call.app(), std::move(batch));
    if (!created) return created.error();
    return objects_response(*created, call.select);
  }

  Result<HttpResponse> batch_read(Call& call) {
    auto ids = call.target.params_named("ids");
    if (ids.empty()) return invalid_input("Missing ids.");
    auto found = objects.read_all(call.app(), ids);
    if (!found) return found.error();
    return objects_response(*found, call.select);
  }

  Result<HttpResponse> batch_update(Call& call) {
    auto items = body_array(call.request);
    if (!items) return items.error();
    auto result = objects.update_all(call.app(), *items);
    if (!result) return result.error();
    if (result->attempted > 0 && result->updated.empty() &&
        result->version_conflicts == result->attempted) {
      return Error{ErrorKind::kPreconditionFailed, "Update failed due to 'version' mismatch."};
    }
    return objects_response(result->updated, call.select);
  }

  Result<HttpResponse> batch_delete(Call& call) {
    auto ids = call.target.params_named("ids");
    if (ids.empty()) return invalid_input("Missing ids.");
    if (auto st = objects.delete_all(call.app(), ids); !st) return st.error();
    HttpResponse response;
    response.content_type.clear();
    return response;
  }

  Result<HttpResponse> remove(Call& call) {
    if (auto st = objects.remove(call.app(), call.params[1]); !st) return st.error();
    HttpResponse response;
    response.status = 200;
    response.content_type.clear();
    return response;
  }
};

Api::Api(const Config& config, Store& store, AppDirectory& apps, ObjectService& objects)
    : impl_(std::make_unique<Impl>(config, store, apps, objects)) {}

Api::~Api() = default;

HttpResponse Api::handle(const HttpRequest& request) {
  if (!impl_->config.cors_enabled) return serve(request);
  if (auto preflight = cors_preflight(request)) return std::move(*preflight);
  HttpResponse response = serve(request);
  add_cors_headers(request, response);
  return response;
}

HttpResponse Api::serve(const HttpRequest& request) {
  try {
    return impl_->dispatch(request);
  } catch (const std::exception& e) {
    spdlog::error("unhandled exception serving {} {}: {}", request.method,
                  request.target.substr(0, request.target.find('?')), e.what());
  } catch (...) {
    spdlog::error("unhandled exception serving {} {}", request.method,
                  request.target.substr(0, request.target.find('?')));
  }
  return error_response(internal_error("Internal server error."));
}

}  // namespace para
