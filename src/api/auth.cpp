#include "api/auth.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "core/text.h"
#include "crypto/digest.h"
#include "crypto/jwt.h"
#include "crypto/sigv4.h"

namespace para {
namespace {

std::int64_t system_now_sec() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

bool is_write(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

std::string identifier_of(std::string_view access_key) {
  return app_identifier_from(access_key);
}

}  // namespace

std::string_view authorization_of(const HttpRequest& request, const ParsedTarget& target) {
  std::string_view header = trim(request.header("Authorization"));
  return header.empty() ? trim(target.param("Authorization")) : header;
}

std::optional<std::int64_t> parse_amz_date(std::string_view t) {
  if (t.size() != 16 || t[8] != 'T' || t[15] != 'Z') return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len) -> int {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (t[i] < '0' || t[i] > '9') return -1;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  int year = num(0, 4), month = num(4, 2), day = num(6, 2);
  int hour = num(9, 2), minute = num(11, 2), second = num(13, 2);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 ||
      second > 60 || hour < 0 || minute < 0 || second < 0) {
    return std::nullopt;
  }
  using namespace std::chrono;
  year_month_day ymd{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                     std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return std::nullopt;
  auto days = sys_days(ymd).time_since_epoch().count();
  return static_cast<std::int64_t>(days) * 86400 + hour * 3600 + minute * 60 + second;
}

Authenticator::Authenticator(AppDirectory& apps, const Config& config,
                             std::function<std::int64_t()> now_sec)
    : apps_(apps),
      config_(config),
      now_sec_(now_sec ? std::move(now_sec) : std::function<std::int64_t()>(system_now_sec)) {}

Result<Principal> Authenticator::authenticate(const HttpRequest& request,
                                              const ParsedTarget& target) const {
  std::string_view authorization = authorization_of(request, target);
  Result<Principal> principal = unauthenticated(
      "Missing credentials: sign the request with your app's access and secret keys (AWS "
      "Signature V4) or send 'Authorization: Bearer <JWT>'.");
  if (authorization.starts_with("AWS4-HMAC-SHA256")) {
    principal = verify_signature(request, target, authorization);
  } else if (authorization.starts_with("Bearer ")) {
    principal = verify_jwt(trim(authorization.substr(7)));
    if (!principal && principal.error().kind == ErrorKind::kUnauthenticated) {
      // Para's words, then ours: which check the token failed.
      return unauthenticated("You don't have permission to access this resource. [" +
                             request.method + " " + std::string(target.raw_path) +
                             "] Invalid token: " + principal.error().message);
    }
  } else if (authorization.starts_with("Anonymous") ||
             (authorization.empty() &&
              (target.has_param("accessKey") || target.has_param("X-Amz-Credential")))) {
    principal = unauthenticated(
        "Anonymous access is not permitted: no public resource permissions are granted. Sign "
        "the request with your app's keys.");
  } else if (!authorization.empty()) {
    principal = unauthenticated(
        "Unsupported Authorization scheme: use AWS4-HMAC-SHA256 (Signature V4) or Bearer.");
  }
  if (!principal) return principal;
  const App& app = *principal->app;
  if (!app.active) return forbidden("App not active. [" + app.id() + "]");
  if (app.read_only && is_write(request.method)) {
    return forbidden("App is in read-only mode. [" + app.id() + "]");
  }
  return principal;
}

Status Authenticator::check_date(std::string_view amz_date) const {
  if (amz_date.empty()) {
    return invalid_input("Request has expired. The X-Amz-Date header is missing.");
  }
  auto date = parse_amz_date(amz_date);
  if (!date) {
    return invalid_input("Request has expired. X-Amz-Date '" + std::string(amz_date) +
                         "' is not in the form yyyyMMddTHHmmssZ.");
  }
  const std::int64_t now = now_sec_();
  if (now > *date + config_.request_expires_after) return invalid_input("Request has expired.");
  // Para accepts any future date; a request signed far ahead could then be
  // replayed for as long. Allow the same window of clock skew either way.
  if (*date > now + config_.request_expires_after) {
    return invalid_input("Request date " + std::string(amz_date) +
                         " is too far in the future; check the client's clock.");
  }
  return {};
}

Result<Principal> Authenticator::verify_signature(const HttpRequest& request,
                                                  const ParsedTarget& target,
                                                  std::string_view authorization) const {
  auto auth = crypto::parse_authorization(authorization);
  if (!auth) {
    return unauthenticated("Malformed AWS4-HMAC-SHA256 Authorization header: " +
                           auth.error().message);
  }
  std::string_view amz_date = request.header("X-Amz-Date");
  if (amz_date.empty()) amz_date = target.param("X-Amz-Date");
  if (auto st = check_date(amz_date); !st) return st.error();

  auto app = apps_.find(identifier_of(auth->access_key));
  if (!app) return app.error();

  crypto::CanonicalRequest canonical;
  canonical.method = request.method;
  canonical.uri = crypto::canonical_uri(target.raw_path);
  for (const auto& [name, value] : target.params) {
    bool seen = false;
    for (const auto& [n, v] : canonical.query)
      seen = seen || n == name;
    if (!seen) canonical.query.emplace_back(name, value);  // Para signs the first value only
  }
  for (const auto& name : auth->signed_headers) {
    if (name == "host" || name == "x-amz-date") continue;
    canonical.headers.emplace_back(name, std::string(request.header(name)));
  }
  canonical.headers.emplace_back("host", std::string(request.header("Host")));
  canonical.headers.emplace_back("x-amz-date", std::string(amz_date));
  canonical.payload_hash = crypto::sha256_hex(request.body);

  crypto::Scope scope{std::string(amz_date.substr(0, 8)), "us-east-1", "para"};
  auto text = crypto::canonicalize(canonical).text;
  auto expected = crypto::signature(signing_keys_.key((*app)->identifier, (*app)->secret, scope),
                                    crypto::string_to_sign(amz_date, scope, text));
  if (!constant_time_equal(expected, auth->signature)) {
    if (config_.debug_request_signatures) {
      spdlog::info("signature mismatch for app {}: expected {} got {}; canonical request:\n{}",
                   (*app)->identifier, expected, auth->signature, text);
    }
    return forbidden("Invalid signature for request " + request.method + " " + target.raw_path +
                     " coming from app " + (*app)->identifier);
  }
  return Principal{*app, false};
}

Result<Principal> Authenticator::verify_jwt(std::string_view token) const {
  auto claims = crypto::peek_claims(token);
  if (!claims) return claims.error();
  auto appid = claims->find("appid");
  if (appid == claims->end() || !appid->value().is_string()) {
    return unauthenticated("Invalid token: the 'appid' claim is missing.");
  }
  auto app = apps_.find(identifier_of(appid->value().get_string()));
  if (!app) {
    if (app.error().kind == ErrorKind::kNotFound) {
      return unauthenticated("Invalid token: its app does not exist.");
    }
    return app.error();
  }
  auto verified = crypto::verify_hs256(token, (*app)->secret, now_sec_());
  if (!verified) return verified.error();
  return Principal{*app, true};
}

}  // namespace para
