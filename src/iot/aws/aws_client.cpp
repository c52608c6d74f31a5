#include "iot/aws/aws_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include "core/json.h"
#include "core/text.h"
#include "crypto/digest.h"
#include "crypto/sigv4.h"
#include "iot/aws/http_transport.h"

namespace para::iot {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using Ticks = nanoseconds;  // a point on the pacing clock, as time since its epoch

// Standard mode's codes that are worth retrying (aws-iot.md 7.1), minus
// LimitExceededException: IoT uses it (HTTP 410) for real limits such as
// "10 policies per certificate", which no retry can fix.
constexpr std::array<std::string_view, 15> kRetryableCodes = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "RequestTimeout",
    "RequestTimeoutException",
};

// Standard mode's retry quota (aws-iot.md 7.2).
constexpr int kRetryQuotaCapacity = 500;
constexpr int kRetryCost = 5;
constexpr int kTimeoutRetryCost = 10;
constexpr int kNoRetrySuccessRefund = 1;

// A server's x-amz-retry-after may stretch a delay by this much, no more.
constexpr milliseconds kMaxRetryAfterExtension{5000};

constexpr std::size_t kMaxMessageSnippet = 200;

AwsError client_error(std::string message) {
  AwsError error;
  error.code = std::string(kClientErrorCode);
  error.message = std::move(message);
  return error;
}

// ---------------------------------------------------------------------------
// Error decoding

// "aws.protocols#ThrottlingException:http://..." -> "ThrottlingException".
std::string normalize_code(std::string_view raw) {
  raw = raw.substr(0, raw.find(':'));
  if (auto hash = raw.rfind('#'); hash != std::string_view::npos) raw.remove_prefix(hash + 1);
  return std::string(trim(raw));
}

std::string string_member(const json::object& object,
                          std::initializer_list<std::string_view> names) {
  for (auto name : names) {
    if (const auto* v = object.if_contains(name); v != nullptr && v->is_string()) {
      return std::string(v->get_string());
    }
  }
  return {};
}

// A readable excerpt of a body that is not JSON (an HTML error page from a
// proxy or load balancer): printable ASCII, blanks collapsed, bounded.
std::string body_snippet(std::string_view body) {
  std::string out;
  for (char c : body) {
    if (out.size() >= kMaxMessageSnippet) {
      out += "...";
      break;
    }
    bool printable = c > 0x20 && c < 0x7F;
    if (printable) {
      out.push_back(c);
    } else if (!out.empty() && out.back() != ' ') {
      out.push_back(' ');
    }
  }
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

// ---------------------------------------------------------------------------
// Endpoint, validation and signing

struct Endpoint {
  std::string base_url;  // "scheme://authority", as given, without a trailing '/'
  std::string host;      // the Host header: lower-case host, port unless default
};

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Splits "host[:port]" or "[v6]:port"; an empty port means none given.
bool split_authority(std::string_view authority, std::string_view& host, std::string_view& port) {
  std::size_t host_end = 0;
  if (authority.starts_with('[')) {
    host_end = authority.find(']');
    if (host_end == std::string_view::npos) return false;
    ++host_end;
  } else {
    host_end = std::min(authority.find(':'), authority.size());
  }
  host = authority.substr(0, host_end);
  auto rest = authority.substr(host_end);
  if (!rest.empty() && (rest.front() != ':' || !is_digits(rest.substr(1)))) return false;
  port = rest.empty() ? rest : rest.substr(1);
  return !host.empty();
}

AwsResult<Endpoint> parse_endpoint(std::string_view text) {
  auto fail = [text](std::string_view why) {
    return client_error("invalid endpoint \"" + std::string(text) + "\": " + std::string(why));
  };
  auto sep = text.find("://");
  if (sep == std::string_view::npos) return fail("expected scheme://host[:port]");
  std::string scheme = to_lower(text.substr(0, sep));
  if (scheme != "http" && scheme != "https") return fail("the scheme must be http or https");
  auto authority = text.substr(sep + 3);
  if (authority.ends_with('/')) authority.remove_suffix(1);
  if (authority.find_first_of("/?#@ \t\r\n") != std::string_view::npos) {
    return fail("only scheme, host and port are allowed");
  }
  std::string_view host, port_text;
  if (!split_authority(authority, host, port_text)) return fail("malformed host or port");
  Endpoint endpoint{scheme + "://" + std::string(authority), to_lower(host)};
  if (!port_text.empty()) {
    int port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || port < 1 || port > 65535) return fail("the port is out of range");
    int default_port = scheme == "https" ? 443 : 80;
    if (port != default_port) endpoint.host += ":" + std::to_string(port);
  }
  return endpoint;
}

// RFC 7230 token characters (method and header names).
bool is_token(std::string_view s) {
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kExtra.find(c) != std::string_view::npos;
  });
}

bool is_path_char(char c) {
  return c > 0x20 && c < 0x7F && c != '?' && c != '#';
}

// Why `request` cannot be sent as is, or "" when it can.
std::string invalid_reason(const AwsRequest& request) {
  if (!is_token(request.method)) return "invalid method \"" + request.method + "\"";
  const auto& path = request.path;
  if (!path.empty() &&
      (path.front() != '/' || !std::all_of(path.begin(), path.end(), is_path_char))) {
    return "invalid path \"" + path + "\": must start with '/', be percent-encoded, no query";
  }
  auto breaks_line = [](std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
  };
  for (const auto& [name, value] : request.headers) {
    if (!is_token(name) || breaks_line(value)) return "invalid header \"" + name + "\"";
  }
  if (breaks_line(request.content_type)) return "invalid content type";
  return {};
}

struct AmzTime {
  std::string date_time;  // X-Amz-Date: yyyyMMddTHHmmssZ
  std::string date;       // the scope's yyyyMMdd
};

AmzTime amz_time(std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  auto seconds_since_epoch = floor<seconds>(now);
  auto day = floor<days>(seconds_since_epoch);
  year_month_day ymd{day};
  hh_mm_ss hms{seconds_since_epoch - day};
  char text[40];
  std::snprintf(text, sizeof text, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  std::string date_time(text);
  return {date_time, date_time.substr(0, 8)};
}

// The query as sent: RFC 3986 encoded, in the caller's order (the signature
// sorts its own copy, so the wire order is free).
std::string wire_query(const std::vector<std::pair<std::string, std::string>>& query) {
  std::string out;
  for (const auto& [name, value] : query) {
    out.push_back(out.empty() ? '?' : '&');
    out += rfc3986_encode(name, false);
    out.push_back('=');
    out += rfc3986_encode(value, false);
  }
  return out;
}

SignedRequest sign(const AwsClientOptions& options, const Endpoint& endpoint,
                   const AwsRequest& request, std::chrono::system_clock::time_point now) {
  std::string path = request.path.empty() ? "/" : request.path;
  AmzTime time = amz_time(now);
  SignedRequest out;
  out.url = endpoint.base_url + path + wire_query(request.query);
  out.headers.emplace_back("Host", endpoint.host);
  out.headers.emplace_back("X-Amz-Date", time.date_time);
  if (!options.credentials.session_token.empty()) {
    out.headers.emplace_back("X-Amz-Security-Token", options.credentials.session_token);
  }
  if (!request.content_type.empty()) out.headers.emplace_back("Content-Type", request.content_type);
  out.headers.insert(out.headers.end(), request.headers.begin(), request.headers.end());

  crypto::CanonicalRequest canonical{request.method, crypto::canonical_uri(path), request.query,
                                     out.headers, crypto::sha256_hex(request.body)};
  crypto::Scope scope{time.date, options.region, options.service};
  out.headers.emplace_back(
      "Authorization",
      crypto::authorization_header(canonical, options.credentials.access_key_id,
                                   options.credentials.secret_access_key, time.date_time, scope));
  return out;
}

// ---------------------------------------------------------------------------
// Pacing and the retry quota

// One token bucket per paced operation, kept in the "generic cell rate"
// form: instead of a token count, `full_at` is when the bucket will be full
// again, and a token is free at time t when full_at - burst <= t. A caller
// reserves its slot under the lock (full_at moves one interval on) and
// sleeps outside it, so concurrent callers end up exactly 1/rate apart.
// Integer nanoseconds keep the spacing exact (11 calls at 5/s: 2 s).
class Pacer {
 public:
  explicit Pacer(const std::map<std::string, double, std::less<>>& rates) {
    for (const auto& [operation, rate] : rates) {
      if (!(rate > 0) || !std::isfinite(rate)) continue;  // unpaced
      Bucket bucket;
      bucket.interval = nanoseconds(std::max<std::int64_t>(1, std::llround(1e9 / rate)));
      // No burst: calls are spaced exactly 1/rate apart, so no one-second
      // window ever holds more than `rate` of them (AWS counts per second).
      bucket.burst = nanoseconds::zero();
      buckets_.emplace(operation, bucket);
    }
  }

  // Takes a token of `operation`; returns how long to wait before using it.
  nanoseconds reserve(std::string_view operation, Ticks now) {
    std::lock_guard lock(mutex_);
    auto it = buckets_.find(operation);
    if (it == buckets_.end()) return nanoseconds::zero();
    Bucket& b = it->second;
    // A new bucket holds a single token, so it is full (capacity - 1) intervals from now.
    if (!b.full_at) b.full_at = now + b.burst;
    *b.full_at = std::max(*b.full_at, now);  // an idle bucket is full, not fuller
    Ticks start = std::max(now, *b.full_at - b.burst);
    *b.full_at += b.interval;
    return start - now;
  }

 private:
  struct Bucket {
    nanoseconds interval{};        // 1 / rate
    nanoseconds burst{};           // (capacity - 1) intervals
    std::optional<Ticks> full_at;  // unset until first used
  };
  std::mutex mutex_;
  std::map<std::string, Bucket, std::less<>> buckets_;
};

// Stops retries when most calls fail: each retry spends tokens, successes
// earn them back (aws-iot.md 7.2).
class RetryQuota {
 public:
  bool take(int cost) {
    std::lock_guard lock(mutex_);
    if (tokens_ < cost) return false;
    tokens_ -= cost;
    return true;
  }
  void refund(int amount) {
    std::lock_guard lock(mutex_);
    tokens_ = std::min(kRetryQuotaCapacity, tokens_ + amount);
  }

 private:
  std::mutex mutex_;
  int tokens_ = kRetryQuotaCapacity;
};

// The outcome of one attempt.
struct Attempt {
  std::optional<AwsResponse> response;  // set on 2xx
  AwsError error;
  bool timed_out = false;
  std::optional<milliseconds> retry_after;
};

std::optional<milliseconds> parse_retry_after(std::string_view text) {
  std::int64_t ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || ms < 0) {
    return std::nullopt;
  }
  return milliseconds(ms);
}

}  // namespace

// ---------------------------------------------------------------------------
// Public free functions

std::string AwsError::describe() const {
  std::string out = (operation.empty() ? std::string("AWS request") : operation) + " failed: ";
  if (transport()) return out + (message.empty() ? "unknown error" : message) + " (no response)";
  out += code.empty() ? std::string("HTTP error") : code;
  out += " (" + std::to_string(status) + ")";
  if (!message.empty()) out += ": " + message;
  return out;
}

void throw_exception_from_error(const AwsError& e, const boost::source_location& loc) {
  throw std::logic_error("unchecked AwsResult error at " + std::string(loc.file_name()) + ":" +
                         std::to_string(loc.line()) + ": " + e.describe());
}

bool is_retryable(const AwsError& error) {
  if (error.transport()) return error.code != kClientErrorCode;
  switch (error.status) {
    case 500:
    case 502:
    case 503:
    case 504:
      return true;
    default:
      return std::find(kRetryableCodes.begin(), kRetryableCodes.end(), error.code) !=
             kRetryableCodes.end();
  }
}

AwsError decode_error(int status, std::string_view error_type_header, std::string_view body) {
  AwsError error;
  error.status = status;
  error.code = normalize_code(error_type_header);
  auto parsed = parse_json(body);
  if (parsed && parsed->is_object()) {
    const auto& object = parsed->get_object();
    if (error.code.empty())
      error.code = normalize_code(string_member(object, {"__type", "code", "Code"}));
    error.message = string_member(object, {"message", "Message"});
  } else if (!parsed) {
    error.message = body_snippet(body);
  }
  return error;
}

milliseconds backoff_delay(int retry, double unit_random) {
  if (!(unit_random >= 0.0)) unit_random = 0.0;  // NaN too
  if (unit_random >= 1.0) unit_random = std::nextafter(1.0, 0.0);
  int exponent = std::clamp(retry - 1, 0, 15);  // 2^15 s is far past the cap
  double cap_ms = std::min(1000.0 * static_cast<double>(1 << exponent), 20000.0);
  return milliseconds(static_cast<std::int64_t>(unit_random * cap_ms));
}

AwsResult<SignedRequest> sign_request(const AwsClientOptions& options, const AwsRequest& request,
                                      std::chrono::system_clock::time_point now) {
  auto endpoint = parse_endpoint(options.endpoint);
  if (!endpoint) return endpoint.error();
  if (auto why = invalid_reason(request); !why.empty()) return client_error(why);
  return sign(options, *endpoint, request, now);
}

// ---------------------------------------------------------------------------
// AwsClient

class AwsClient::Impl {
 public:
  explicit Impl(AwsClientOptions options)
      : options_(std::move(options)),
        endpoint_(parse_endpoint(options_.endpoint)),
        transport_(options_.connect_timeout, options_.request_timeout),
        pacer_(options_.rate_limits),
        rng_(std::random_device{}()) {}

  AwsResult<AwsResponse> call(const AwsRequest& request);
  const AwsClientOptions& options() const { return options_; }

 private:
  using Started = std::chrono::steady_clock::time_point;

  std::optional<AwsError> reject(const AwsRequest& request) const;
  Attempt attempt(const AwsRequest& request);
  bool may_retry(const AwsError& error, int cost);
  void back_off(const Attempt& failed);
  void log_done(const AwsRequest& request, int status, std::string_view code, int attempts,
                Started started) const;
  void wait_for_turn(std::string_view operation);
  void sleep(milliseconds duration);
  std::chrono::system_clock::time_point wall_now() const;
  Ticks pacing_now() const;
  double unit_random();

  AwsClientOptions options_;
  AwsResult<Endpoint> endpoint_;
  HttpTransport transport_;
  Pacer pacer_;
  RetryQuota retry_quota_;
  std::mutex rng_mutex_;
  std::mt19937_64 rng_;
};

AwsResult<AwsResponse> AwsClient::Impl::call(const AwsRequest& request) {
  Started started = std::chrono::steady_clock::now();
  if (auto rejected = reject(request)) {
    rejected->operation = request.operation;
    spdlog::debug("aws {} {}: not sent: {}", options_.service, request.operation,
                  rejected->message);
    return std::move(*rejected);
  }
  int last_retry_cost = 0;
  for (int attempt_no = 1;; ++attempt_no) {
    wait_for_turn(request.operation);
    Attempt outcome = attempt(request);
    if (outcome.response) {
      retry_quota_.refund(last_retry_cost > 0 ? last_retry_cost : kNoRetrySuccessRefund);
      log_done(request, outcome.response->status, "", attempt_no, started);
      return std::move(*outcome.response);
    }
    outcome.error.operation = request.operation;
    outcome.error.attempts = attempt_no;
    int cost = outcome.timed_out ? kTimeoutRetryCost : kRetryCost;
    if (!may_retry(outcome.error, cost)) {
      log_done(request, outcome.error.status, outcome.error.code, attempt_no, started);
      return std::move(outcome.error);
    }
    last_retry_cost = cost;
    back_off(outcome);
  }
}

// The error of a request that cannot be sent (bad endpoint or request).
std::optional<AwsError> AwsClient::Impl::reject(const AwsRequest& request) const {
  if (!endpoint_) return endpoint_.error();
  if (auto why = invalid_reason(request); !why.empty()) return client_error(std::move(why));
  return std::nullopt;
}

Attempt AwsClient::Impl::attempt(const AwsRequest& request) {
  SignedRequest signed_request = sign(options_, *endpoint_, request, wall_now());
  HttpResult http = transport_.send({request.method, std::move(signed_request.url),
                                     std::move(signed_request.headers), request.body});
  Attempt out;
  if (http.status == 0) {
    out.error.message = std::move(http.error);
    out.timed_out = http.timed_out;
  } else if (http.status >= 200 && http.status < 300) {
    out.response = AwsResponse{http.status, std::move(http.body), std::move(http.request_id)};
  } else {
    out.error = decode_error(http.status, http.error_type, http.body);
    out.error.request_id = std::move(http.request_id);
    out.retry_after = parse_retry_after(http.retry_after);
  }
  return out;
}

// Whether `error` (its attempts already counted) gets another attempt; a
// retry spends `cost` from the quota.
bool AwsClient::Impl::may_retry(const AwsError& error, int cost) {
  if (error.attempts >= std::max(1, options_.max_attempts) || !is_retryable(error)) return false;
  if (retry_quota_.take(cost)) return true;
  spdlog::warn("aws {}: retry quota exhausted, not retrying: {}", options_.service,
               error.describe());
  return false;
}

void AwsClient::Impl::back_off(const Attempt& failed) {
  const AwsError& error = failed.error;
  milliseconds delay = backoff_delay(error.attempts, unit_random());
  if (failed.retry_after) {
    delay = std::max(delay, std::min(*failed.retry_after, delay + kMaxRetryAfterExtension));
  }
  spdlog::warn("aws {}: attempt {}: {} [request id {}]; retrying in {} ms", options_.service,
               error.attempts, error.describe(), error.request_id.empty() ? "-" : error.request_id,
               delay.count());
  sleep(delay);
}

void AwsClient::Impl::log_done(const AwsRequest& request, int status, std::string_view code,
                               int attempts, Started started) const {
  auto ms = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
  spdlog::debug("aws {} {}: status {}{}{} after {} attempt(s) in {} ms", options_.service,
                request.operation, status, code.empty() ? "" : " ", code, attempts, ms.count());
}

void AwsClient::Impl::wait_for_turn(std::string_view operation) {
  sleep(std::chrono::ceil<milliseconds>(pacer_.reserve(operation, pacing_now())));
}

void AwsClient::Impl::sleep(milliseconds duration) {
  if (duration <= milliseconds::zero()) return;
  if (options_.sleep) {
    options_.sleep(duration);
  } else {
    std::this_thread::sleep_for(duration);
  }
}

std::chrono::system_clock::time_point AwsClient::Impl::wall_now() const {
  return options_.now ? options_.now() : std::chrono::system_clock::now();
}

// Pacing follows the injected clock in tests, else the steady clock, so a
// wall-clock step cannot stall or unleash requests.
Ticks AwsClient::Impl::pacing_now() const {
  auto since_epoch = options_.now ? options_.now().time_since_epoch()
                                  : std::chrono::steady_clock::now().time_since_epoch();
  return std::chrono::duration_cast<Ticks>(since_epoch);
}

double AwsClient::Impl::unit_random() {
  std::lock_guard lock(rng_mutex_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

AwsClient::AwsClient(AwsClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

AwsClient::~AwsClient() = default;

const AwsClientOptions& AwsClient::options() const {
  return impl_->options();
}

AwsResult<AwsResponse> AwsClient::call(const AwsRequest& request) {
  try {
    return impl_->call(request);
  } catch (const std::exception& e) {
    // Only allocation failures or a throwing injected clock/sleep get here.
    AwsError error = client_error(std::string("unexpected failure: ") + e.what());
    error.operation = request.operation;
    return error;
  }
}

}  // namespace para::iot
