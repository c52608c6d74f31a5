#include "iot/aws/http_transport.h"

#include <curl/curl.h>

#include <mutex>

#include "core/text.h"

namespace para::iot {
namespace {

// Idle handles kept per transport; more concurrent calls still work, their
// extra handles (and connections) are closed when they finish.
constexpr std::size_t kMaxIdleHandles = 8;

constexpr const char* kUserAgent = "para-cpp";

struct EasyDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

// curl_global_init is not thread-safe and must run before any other libcurl
// call; once per process, never cleaned up (other users may share libcurl).
CURLcode global_init() {
  static std::once_flag once;
  static CURLcode code = CURLE_OK;
  std::call_once(once, [] { code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return code;
}

// What the libcurl callbacks write into during one transfer.
struct Receiver {
  HttpResult* result;
  bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* receiver = static_cast<Receiver*>(user);
  std::size_t n = size * count;
  if (receiver->result->body.size() + n > HttpTransport::kMaxResponseBody) {
    receiver->too_large = true;
    return 0;  // makes libcurl abort with CURLE_WRITE_ERROR
  }
  try {
    receiver->result->body.append(data, n);
  } catch (...) {  // no exception may cross libcurl's C frames
    return 0;
  }
  return n;
}

// Keeps the response headers AwsClient needs from one header line (status
// lines included).
void keep_header(std::string_view line, HttpResult* result) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n'))
    line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    // A new response begins (e.g. after an interim 1xx): forget the old one's.
    result->request_id.clear();
    result->error_type.clear();
    result->retry_after.clear();
    return;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return;
  auto name = trim(line.substr(0, colon));
  auto value = std::string(trim(line.substr(colon + 1)));
  if (iequals(name, "x-amzn-RequestId")) {
    result->request_id = std::move(value);
  } else if (iequals(name, "x-amzn-ErrorType")) {
    result->error_type = std::move(value);
  } else if (iequals(name, "x-amz-retry-after")) {
    result->retry_after = std::move(value);
  }
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  std::size_t n = size * count;
  try {
    keep_header(std::string_view(data, n), static_cast<Receiver*>(user)->result);
  } catch (...) {  // no exception may cross libcurl's C frames
    return 0;
  }
  return n;
}

// Request headers as libcurl wants them. An empty value needs "Name;"
// (libcurl drops "Name:"), and "Name:" removes a header libcurl would add.
HeaderList header_list(const HttpRequest& request) {
  curl_slist* list = nullptr;
  auto add = [&list](const std::string& line) {
    if (curl_slist* grown = curl_slist_append(list, line.c_str())) list = grown;
  };
  bool has_content_type = false;
  for (const auto& [name, value] : request.headers) {
    has_content_type = has_content_type || iequals(name, "Content-Type");
    add(value.empty() ? name + ";" : name + ": " + value);
  }
  // POSTFIELDS would add a form Content-Type: blob payloads must have none.
  if (!has_content_type) add("Content-Type:");
  // Expect: 100-continue costs a round trip (or a 1 s stall) per large body.
  add("Expect:");
  return HeaderList(list);
}

// Applies setopt calls and remembers the first failure.
class OptionSetter {
 public:
  explicit OptionSetter(CURL* handle) : handle_(handle) {}
  template <class T>
  void set(CURLoption option, T value) {
    if (code_ == CURLE_OK) code_ = curl_easy_setopt(handle_, option, value);
  }
  CURLcode code() const { return code_; }

 private:
  CURL* handle_;
  CURLcode code_ = CURLE_OK;
};

void set_method_and_body(OptionSetter& opt, const HttpRequest& request) {
  if (request.method == "GET" && request.body.empty()) {
    opt.set(CURLOPT_HTTPGET, 1L);
    return;
  }
  if (request.method == "HEAD") {
    opt.set(CURLOPT_NOBODY, 1L);
    return;
  }
  // POST semantics for every method with a body, so PUT/DELETE without one
  // still send "Content-Length: 0" as the SDKs do.
  opt.set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  opt.set(CURLOPT_POSTFIELDS, request.body.empty() ? "" : request.body.data());
  if (request.method != "POST") opt.set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
}

}  // namespace

// The most recently returned handle is lent first, as its connection is the
// likeliest to be alive.
class HttpTransport::HandlePool {
 public:
  // A borrowed handle, given back when the lease ends.
  class Lease {
   public:
    explicit Lease(HandlePool& pool) : pool_(pool), handle_(pool.borrow()) {}
    ~Lease() {
      if (handle_) pool_.give_back(std::move(handle_));
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    CURL* get() const { return handle_.get(); }

   private:
    HandlePool& pool_;
    EasyHandle handle_;
  };

  EasyHandle borrow() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        EasyHandle handle = std::move(idle_.back());
        idle_.pop_back();
        return handle;
      }
    }
    return EasyHandle(curl_easy_init());
  }

  void give_back(EasyHandle handle) {
    // Reset drops every option (and so every pointer into the finished
    // transfer's buffers) but keeps the live connections and DNS cache.
    curl_easy_reset(handle.get());
    std::lock_guard lock(mutex_);
    if (idle_.size() < kMaxIdleHandles) idle_.push_back(std::move(handle));
  }

 private:
  std::mutex mutex_;
  std::vector<EasyHandle> idle_;
};

HttpTransport::HttpTransport(std::chrono::milliseconds connect_timeout,
                             std::chrono::milliseconds request_timeout)
    : connect_timeout_(connect_timeout),
      request_timeout_(request_timeout),
      pool_(std::make_unique<HandlePool>()) {
  global_init();
}

HttpTransport::~HttpTransport() = default;

HttpResult HttpTransport::send(const HttpRequest& request) {
  HttpResult result;
  if (CURLcode init = global_init(); init != CURLE_OK) {
    result.error = std::string("libcurl initialisation failed: ") + curl_easy_strerror(init);
    return result;
  }
  // Declared before the lease: the handle points at them until it is reset.
  HeaderList headers = header_list(request);
  Receiver receiver{&result};
  char error_buffer[CURL_ERROR_SIZE] = {};
  HandlePool::Lease lease(*pool_);
  if (lease.get() == nullptr) {
    result.error = "libcurl could not create a handle";
    return result;
  }

  OptionSetter opt(lease.get());
  opt.set(CURLOPT_URL, request.url.c_str());
  opt.set(CURLOPT_PROTOCOLS_STR, "http,https");
  opt.set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  opt.set(CURLOPT_NOSIGNAL, 1L);
  opt.set(CURLOPT_TCP_NODELAY, 1L);
  opt.set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout_.count()));
  opt.set(CURLOPT_TIMEOUT_MS, static_cast<long>(request_timeout_.count()));
  opt.set(CURLOPT_SSL_VERIFYPEER, 1L);
  opt.set(CURLOPT_SSL_VERIFYHOST, 2L);
  opt.set(CURLOPT_USERAGENT, kUserAgent);
  opt.set(CURLOPT_HTTPHEADER, headers.get());
  opt.set(CURLOPT_WRITEFUNCTION, &on_body);
  opt.set(CURLOPT_WRITEDATA, static_cast<void*>(&receiver));
  opt.set(CURLOPT_HEADERFUNCTION, &on_header);
  opt.set(CURLOPT_HEADERDATA, static_cast<void*>(&receiver));
  opt.set(CURLOPT_ERRORBUFFER, error_buffer);
  set_method_and_body(opt, request);
  if (opt.code() != CURLE_OK) {
    result.error = std::string("libcurl rejected an option: ") + curl_easy_strerror(opt.code());
    return result;
  }

  CURLcode code = curl_easy_perform(lease.get());
  if (code != CURLE_OK) {
    result.status = 0;
    result.body.clear();
    result.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    if (receiver.too_large) {
      result.error = "response body larger than " + std::to_string(kMaxResponseBody) + " bytes";
    } else {
      result.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    }
    return result;
  }
  long status = 0;
  curl_easy_getinfo(lease.get(), CURLINFO_RESPONSE_CODE, &status);
  result.status = static_cast<int>(status);
  return result;
}

}  // namespace para::iot
