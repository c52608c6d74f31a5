#include "iot/aws/aws_client.h"

#include "support/ports.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/text.h"
#include "crypto/digest.h"
#include "crypto/sigv4.h"

namespace para::iot {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kAccessKey = "AKIDEXAMPLE";
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

// 20150830T123600Z, the time of the SigV4 suite and of aws-iot.md 6.5.
std::chrono::system_clock::time_point suite_time() {
  using namespace std::chrono;
  return sys_days{year{2015} / 8 / 30} + 12h + 36min;
}

// ---------------------------------------------------------------------------
// decode_error

TEST(DecodeError, AwsStyleHeaderWithColonAndTraceId) {
  AwsError e = decode_error(
      404, "ResourceNotFoundException:", R"({"message":"Not Found","traceId":"4b18b9cd-5df0"})");
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.code, "ResourceNotFoundException");
  EXPECT_EQ(e.message, "Not Found");
  EXPECT_FALSE(e.transport());
}

TEST(DecodeError, MotoStyleTypeInBodyAndHeader) {
  AwsError e =
      decode_error(404, "ResourceNotFoundException",
                   R"({"__type":"ResourceNotFoundException","message":"Thing t1 missing"})");
  EXPECT_EQ(e.code, "ResourceNotFoundException");
  EXPECT_EQ(e.message, "Thing t1 missing");
}

TEST(DecodeError, HeaderWinsOverBody) {
  AwsError e = decode_error(409, "ConflictException:", R"({"__type":"Other","message":"m"})");
  EXPECT_EQ(e.code, "ConflictException");
}

TEST(DecodeError, HeaderlessBodiesGiveTheCode) {
  EXPECT_EQ(decode_error(400, "", R"({"__type":"InvalidRequestException","message":"x"})").code,
            "InvalidRequestException");
  EXPECT_EQ(decode_error(400, "", R"({"code":"InvalidRequestException"})").code,
            "InvalidRequestException");
  EXPECT_EQ(decode_error(400, "", R"({"Code":"InvalidRequestException"})").code,
            "InvalidRequestException");
  EXPECT_EQ(decode_error(400, "", R"({"Message":"capital M"})").message, "capital M");
  AwsError prefixed =
      decode_error(400, "", R"({"__type":"com.amazon.coral.validate#ValidationException"})");
  EXPECT_EQ(prefixed.code, "ValidationException");
  // An empty header (after cutting) falls back to the body.
  EXPECT_EQ(decode_error(400, ":", R"({"__type":"X"})").code, "X");
}

TEST(DecodeError, PrefixedHeaderCodes) {
  EXPECT_EQ(decode_error(400, "aws.protocols#ThrottlingException:", "{}").code,
            "ThrottlingException");
  EXPECT_EQ(decode_error(400,
                         "ThrottlingException:http://internal.amazon.com/coral/"
                         "com.amazon.coral.service/",
                         "{}")
                .code,
            "ThrottlingException");
  EXPECT_EQ(decode_error(400, "  aws.protocols#ThrottlingException  ", "").code,
            "ThrottlingException");
}

TEST(DecodeError, GarbageBodies) {
  AwsError html = decode_error(502, "", "<html>\r\n<body>502 Bad   Gateway</body>\n</html>");
  EXPECT_EQ(html.code, "");
  EXPECT_EQ(html.message, "<html> <body>502 Bad Gateway</body> </html>");
  EXPECT_EQ(decode_error(500, "", "").message, "");
  EXPECT_EQ(decode_error(500, "", "[1,2]").message, "");  // JSON, but not an object
  AwsError numeric = decode_error(404, "", R"({"code":404,"message":"No shadow exists"})");
  EXPECT_EQ(numeric.code, "");  // only string codes count
  EXPECT_EQ(numeric.message, "No shadow exists");
  AwsError huge = decode_error(500, "", std::string(5000, 'x'));
  EXPECT_EQ(huge.message, std::string(200, 'x') + "...");
  EXPECT_EQ(decode_error(500, "", std::string("\x01\x02\xff ok", 6)).message, "ok");
  EXPECT_EQ(decode_error(400, "X", R"({"message":)").message, R"({"message":)");
}

// ---------------------------------------------------------------------------
// is_retryable, backoff_delay, describe

TEST(IsRetryable, Table) {
  struct Case {
    int status;
    std::string code;
    bool retryable;
  };
  const Case cases[] = {
      {0, "", true},  // connection refused, timeout
      {0, std::string(kClientErrorCode), false},
      {500, "InternalFailureException", true},
      {502, "", true},
      {503, "ServiceUnavailableException", true},
      {504, "GatewayTimeoutException", true},
      {501, "", false},
      {400, "ThrottlingException", true},  // IoT control plane
      {429, "ThrottlingException", true},  // IoT data plane
      {400, "Throttling", true},
      {400, "ThrottledException", true},
      {400, "RequestThrottledException", true},
      {429, "TooManyRequestsException", true},
      {400, "ProvisionedThroughputExceededException", true},
      {400, "TransactionInProgressException", true},
      {400, "RequestLimitExceeded", true},
      {400, "BandwidthLimitExceeded", true},
      {400, "RequestThrottled", true},
      {503, "SlowDown", true},
      {400, "PriorRequestNotComplete", true},
      {400, "EC2ThrottledException", true},
      {408, "RequestTimeout", true},
      {400, "RequestTimeoutException", true},
      {410, "LimitExceededException", false},  // a real IoT limit
      {400, "InvalidRequestException", false},
      {401, "UnauthorizedException", false},
      {403, "InvalidSignatureException", false},
      {404, "ResourceNotFoundException", false},
      {409, "ConflictException", false},
      {409, "DeleteConflictException", false},
      {413, "RequestEntityTooLargeException", false},
      {429, "", false},  // no code: nothing says it is throttling
  };
  for (const auto& c : cases) {
    AwsError e;
    e.status = c.status;
    e.code = c.code;
    EXPECT_EQ(is_retryable(e), c.retryable) << c.status << " " << c.code;
  }
}

TEST(BackoffDelay, StaysWithinTheExponentialCap) {
  for (int retry = 1; retry <= 40; ++retry) {
    std::int64_t cap = std::min<std::int64_t>(1000LL << std::min(retry - 1, 20), 20000);
    for (double u : {0.0, 0.1, 0.5, 0.9, 0.999999, 0.9999999999999999}) {
      auto d = backoff_delay(retry, u).count();
      EXPECT_GE(d, 0) << retry << " " << u;
      EXPECT_LT(d, cap) << retry << " " << u;
    }
  }
}

TEST(BackoffDelay, ExactValues) {
  EXPECT_EQ(backoff_delay(1, 0.0), 0ms);
  EXPECT_EQ(backoff_delay(1, 0.5), 500ms);
  EXPECT_EQ(backoff_delay(2, 0.5), 1000ms);
  EXPECT_EQ(backoff_delay(3, 0.5), 2000ms);
  EXPECT_EQ(backoff_delay(5, 0.5), 8000ms);
  EXPECT_EQ(backoff_delay(6, 0.5), 10000ms);  // 16 s -> capped at 20 s
  EXPECT_EQ(backoff_delay(100, 0.5), 10000ms);
  // Out-of-range inputs are clamped, never negative or over the cap.
  EXPECT_EQ(backoff_delay(0, 0.5), 500ms);
  EXPECT_EQ(backoff_delay(1, -1.0), 0ms);
  EXPECT_LT(backoff_delay(1, 1.0), 1000ms);
  EXPECT_EQ(backoff_delay(1, std::nan("")), 0ms);
}

TEST(AwsErrorDescribe, Formats) {
  AwsError http{404, "ResourceNotFoundException", "Not Found", "CreateThing", 1};
  EXPECT_EQ(http.describe(), "CreateThing failed: ResourceNotFoundException (404): Not Found");
  AwsError wire{0, "", "Connection refused", "DescribeThing", 3};
  EXPECT_EQ(wire.describe(), "DescribeThing failed: Connection refused (no response)");
  AwsError bare{502, "", "", "ListThings", 3};
  EXPECT_EQ(bare.describe(), "ListThings failed: HTTP error (502)");
}

TEST(AwsResultValue, ThrowsOnUncheckedError) {
  AwsResult<AwsResponse> r = AwsError{404, "ResourceNotFoundException", "Not Found", "X", 1};
  EXPECT_THROW(r.value(), std::logic_error);
}

// ---------------------------------------------------------------------------
// sign_request against aws-iot.md 6.5

AwsClientOptions suite_options(std::string service, std::string endpoint) {
  AwsClientOptions o;
  o.credentials = {std::string(kAccessKey), std::string(kSecret), ""};
  o.region = "us-east-1";
  o.service = std::move(service);
  o.endpoint = std::move(endpoint);
  return o;
}

std::string header(const Headers& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return {};
}

bool has_header(const Headers& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return true;
  }
  return false;
}

struct Vector {
  std::string service;
  std::string endpoint;
  AwsRequest request;
  std::string url;
  std::string signed_headers;
  std::string signature;
};

TEST(SignRequest, IotVectorsFromTheReference) {
  const Vector vectors[] = {
      {"service",
       "https://example.amazonaws.com",
       {"GetVanilla", "GET", "/", {}, {}, "", ""},
       "https://example.amazonaws.com/",
       "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"iot",
       "https://iot.us-east-1.amazonaws.com",
       {"DescribeEndpoint", "GET", "/endpoint", {{"endpointType", "iot:Data-ATS"}}, {}, "", ""},
       "https://iot.us-east-1.amazonaws.com/endpoint?endpointType=iot%3AData-ATS",
       "host;x-amz-date",
       "4cbb1ecc454eef276f80bacdf9d8e85e7b2eec69048bebf22976fecb1754b02e"},
      {"iotdata",
       "https://data-ats.iot.us-east-1.amazonaws.com",
       {"GetThingShadow", "GET", "/things/my%3Athing/shadow", {{"name", "cfg"}}, {}, "", ""},
       "https://data-ats.iot.us-east-1.amazonaws.com/things/my%3Athing/shadow?name=cfg",
       "host;x-amz-date",
       "357a312b526900a20b373bf38f090bdd4c3b11ffa59752dde19c27486a43dd0c"},
      {"iotdata",
       "https://data-ats.iot.us-east-1.amazonaws.com",
       {"Publish", "POST", "/topics/a%2Fb%20c", {{"qos", "1"}}, {}, "{}", ""},
       "https://data-ats.iot.us-east-1.amazonaws.com/topics/a%2Fb%20c?qos=1",
       "host;x-amz-date",
       "3e2624fb60a25d5f8871d85a514857df7743bf682377f05b3c95df5633a3d8bd"},
      {"iot",
       "https://iot.us-east-1.amazonaws.com",
       {"AttachThingPrincipal",
        "PUT",
        "/things/t1/principals",
        {},
        {{"x-amzn-principal", "arn:aws:iot:us-east-1:123456789012:cert/abc"}},
        "",
        ""},
       "https://iot.us-east-1.amazonaws.com/things/t1/principals",
       "host;x-amz-date;x-amzn-principal",
       "ddca1e6f85fe92be64ffffa7c78bfd54ddb78ca32de9ba9a4def004153296b8a"},
  };
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.request.operation);
    auto signed_request =
        sign_request(suite_options(v.service, v.endpoint), v.request, suite_time());
    ASSERT_TRUE(signed_request) << signed_request.error().describe();
    EXPECT_EQ(signed_request->url, v.url);
    EXPECT_EQ(header(signed_request->headers, "x-amz-date"), "20150830T123600Z");
    EXPECT_EQ(header(signed_request->headers, "authorization"),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/" + v.service +
                  "/aws4_request, SignedHeaders=" + v.signed_headers +
                  ", Signature=" + v.signature);
    EXPECT_FALSE(has_header(signed_request->headers, "content-type"));
    EXPECT_FALSE(has_header(signed_request->headers, "x-amz-security-token"));
  }
}

TEST(SignRequest, SignsSessionTokenAndContentType) {
  auto options = suite_options("iot", "https://iot.us-east-1.amazonaws.com");
  options.credentials.session_token = "FQoGZXIvYXdzEXAMPLE";
  AwsRequest request{"CreateThing", "POST", "/things/t1", {}, {}, "{}", "application/json"};
  auto signed_request = sign_request(options, request, suite_time());
  ASSERT_TRUE(signed_request);
  EXPECT_EQ(header(signed_request->headers, "x-amz-security-token"), "FQoGZXIvYXdzEXAMPLE");
  EXPECT_EQ(header(signed_request->headers, "content-type"), "application/json");
  // The same signature a verifier gets from the same headers.
  crypto::CanonicalRequest canonical{"POST",
                                     "/things/t1",
                                     {},
                                     {{"content-type", "application/json"},
                                      {"host", "iot.us-east-1.amazonaws.com"},
                                      {"x-amz-date", "20150830T123600Z"},
                                      {"x-amz-security-token", "FQoGZXIvYXdzEXAMPLE"}},
                                     crypto::sha256_hex("{}")};
  EXPECT_EQ(header(signed_request->headers, "authorization"),
            crypto::authorization_header(canonical, kAccessKey, kSecret, "20150830T123600Z",
                                         {"20150830", "us-east-1", "iot"}));
  EXPECT_NE(header(signed_request->headers, "authorization")
                .find("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"),
            std::string::npos);
}

TEST(SignRequest, HostHeaderKeepsOnlyNonDefaultPorts) {
  const std::pair<std::string, std::string> cases[] = {
      {"http://127.0.0.1:5000", "127.0.0.1:5000"},
      {"https://iot.us-east-1.amazonaws.com:443", "iot.us-east-1.amazonaws.com"},
      {"http://localhost:80/", "localhost"},
      {"https://localhost:80", "localhost:80"},
      {"HTTPS://IOT.Example.COM", "iot.example.com"},
      {"http://[::1]:5000", "[::1]:5000"},
      {"http://[::1]", "[::1]"},
  };
  AwsRequest request{"GetVanilla", "GET", "", {}, {}, "", ""};
  for (const auto& [endpoint, host] : cases) {
    auto signed_request = sign_request(suite_options("iot", endpoint), request, suite_time());
    ASSERT_TRUE(signed_request) << endpoint;
    EXPECT_EQ(header(signed_request->headers, "host"), host) << endpoint;
    EXPECT_TRUE(signed_request->url.ends_with("/")) << signed_request->url;
  }
}

TEST(SignRequest, WireQueryIsRfc3986EncodedInCallerOrder) {
  AwsRequest request{
      "ListThings", "GET", "/things", {{"z", "a b/c=d"}, {"nextToken", "x+y~"}, {"e", ""}},
      {},           "",    ""};
  auto signed_request =
      sign_request(suite_options("iot", "http://127.0.0.1:5000"), request, suite_time());
  ASSERT_TRUE(signed_request);
  EXPECT_EQ(signed_request->url,
            "http://127.0.0.1:5000/things?z=a%20b%2Fc%3Dd&nextToken=x%2By~&e=");
}

TEST(SignRequest, FormatsAmzDateInUtc) {
  using namespace std::chrono;
  AwsRequest request{"GetVanilla", "GET", "/", {}, {}, "", ""};
  auto options = suite_options("iot", "https://iot.us-east-1.amazonaws.com");
  auto leap = sys_days{year{2024} / 2 / 29} + 23h + 59min + 59s + 999ms;
  auto signed_request = sign_request(options, request, leap);
  ASSERT_TRUE(signed_request);
  EXPECT_EQ(header(signed_request->headers, "x-amz-date"), "20240229T235959Z");
  EXPECT_NE(header(signed_request->headers, "authorization").find("/20240229/us-east-1/iot/"),
            std::string::npos);
}

TEST(SignRequest, RejectsWhatCannotBeSentSafely) {
  AwsRequest good{"DescribeThing", "GET", "/things/t1", {}, {}, "", ""};
  for (std::string endpoint : {"", "iot.amazonaws.com", "ftp://host", "https://", "https://h/path",
                               "https://h?x=1", "https://user@h", "https://h:0", "https://h:65536",
                               "https://h:", "https://h:8x", "http://[::1", "http://::1:5000"}) {
    auto r = sign_request(suite_options("iot", endpoint), good, suite_time());
    ASSERT_FALSE(r) << endpoint;
    EXPECT_EQ(r.error().code, kClientErrorCode) << endpoint;
    EXPECT_NE(r.error().message.find("invalid endpoint"), std::string::npos);
  }
  auto options = suite_options("iot", "https://iot.us-east-1.amazonaws.com");
  auto rejected = [&](AwsRequest request) { return !sign_request(options, request, suite_time()); };
  EXPECT_TRUE(rejected({"X", "GET", "things/t1", {}, {}, "", ""}));
  EXPECT_TRUE(rejected({"X", "GET", "/things/a b", {}, {}, "", ""}));
  EXPECT_TRUE(rejected({"X", "GET", "/things?x=1", {}, {}, "", ""}));
  EXPECT_TRUE(rejected({"X", "GET", "/things#frag", {}, {}, "", ""}));
  EXPECT_TRUE(rejected({"X", "G T", "/", {}, {}, "", ""}));
  EXPECT_TRUE(rejected({"X", "", "/", {}, {}, "", ""}));
  EXPECT_TRUE(rejected({"X", "GET", "/", {}, {{"x-a", "v\r\nInjected: 1"}}, "", ""}));
  EXPECT_TRUE(rejected({"X", "GET", "/", {}, {{"bad name", "v"}}, "", ""}));
  EXPECT_TRUE(rejected({"X", "POST", "/", {}, {}, "", "text/plain\nX: y"}));
  EXPECT_FALSE(rejected({"X", "GET", "/things/my%3Athing/shadow", {}, {{"x-a", ""}}, "", ""}));
}

// ---------------------------------------------------------------------------
// A real HTTP server on 127.0.0.1 for call(): single-threaded (poll over
// the listener and every open connection), keep-alive, answering scripted
// replies in order and recording each request as received.

class ScriptedServer {
 public:
  struct Reply {
    int status = 200;
    Headers headers;
    std::string body = "{}";
    bool hang = false;  // read the request, never answer
  };
  struct Seen {
    int connection = 0;  // 1, 2, ... in accept order
    std::string method;
    std::string target;
    Headers headers;
    std::string body;
  };

  ScriptedServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (::pipe2(wake_, O_CLOEXEC) != 0) ADD_FAILURE() << "pipe2";
    thread_ = std::thread([this] { run(); });
  }

  ~ScriptedServer() {
    (void)!::write(wake_[1], "x", 1);
    thread_.join();
    for (auto& c : connections_)
      ::close(c.fd);
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  void script(std::vector<Reply> replies) {
    std::lock_guard lock(mutex_);
    for (auto& r : replies)
      script_.push_back(std::move(r));
  }
  // The reply once the script is used up.
  void set_fallback(Reply reply) {
    std::lock_guard lock(mutex_);
    fallback_ = std::move(reply);
  }
  std::vector<Seen> seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  int accepted() const { return accepted_.load(); }

 private:
  struct Connection {
    int fd;
    int id;
    std::string buffer;
    bool hanging = false;
  };

  void run() {
    while (true) {
      std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      for (auto& c : connections_)
        fds.push_back({c.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents != 0) return;
      if (fds[1].revents & POLLIN) accept_one();
      for (std::size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents != 0) read_from(fds[i].fd);
      }
      std::erase_if(connections_, [](const Connection& c) { return c.fd < 0; });
    }
  }

  void accept_one() {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) connections_.push_back({fd, ++accepted_, {}, false});
  }

  void read_from(int fd) {
    auto it = std::find_if(connections_.begin(), connections_.end(),
                           [fd](const Connection& c) { return c.fd == fd; });
    char data[65536];
    ssize_t n = ::recv(fd, data, sizeof data, 0);
    if (n <= 0) {
      ::close(fd);
      it->fd = -1;
      return;
    }
    it->buffer.append(data, static_cast<std::size_t>(n));
    while (answer_one(*it)) {
    }
  }

  // Handles one complete request from the buffer, if there is one.
  bool answer_one(Connection& c) {
    auto head_end = c.buffer.find("\r\n\r\n");
    if (head_end == std::string::npos) return false;
    Seen seen = parse_head(c.buffer.substr(0, head_end));
    std::size_t length = 0;
    for (const auto& [n, v] : seen.headers) {
      if (iequals(n, "content-length")) length = std::stoul(v);
    }
    if (c.buffer.size() < head_end + 4 + length) return false;
    seen.body = c.buffer.substr(head_end + 4, length);
    seen.connection = c.id;
    c.buffer.erase(0, head_end + 4 + length);
    Reply reply = record(std::move(seen));
    if (c.hanging || reply.hang) {
      c.hanging = true;
      return true;
    }
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " Scripted\r\n";
    out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
    for (const auto& [n, v] : reply.headers)
      out += n + ": " + v + "\r\n";
    out += "\r\n" + reply.body;
    send_all(c.fd, out);
    return true;
  }

  static Seen parse_head(const std::string& head) {
    Seen seen;
    std::size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    auto sp1 = request_line.find(' ');
    auto sp2 = request_line.find(' ', sp1 + 1);
    seen.method = request_line.substr(0, sp1);
    seen.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    while (line_end != std::string::npos) {
      std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      std::string line = head.substr(start, line_end - start);
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      seen.headers.emplace_back(line.substr(0, colon), std::string(trim(line.substr(colon + 1))));
    }
    return seen;
  }

  Reply record(Seen seen) {
    std::lock_guard lock(mutex_);
    seen_.push_back(std::move(seen));
    if (script_.empty()) return fallback_;
    Reply reply = std::move(script_.front());
    script_.pop_front();
    return reply;
  }

  static void send_all(int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::thread thread_;
  std::vector<Connection> connections_;  // server thread only
  std::atomic<int> accepted_{0};
  mutable std::mutex mutex_;
  std::deque<Reply> script_;
  Reply fallback_;
  std::vector<Seen> seen_;
};

// A port nobody listens on.
int closed_port() {
  return test::unused_loopback_port();
}

// A clock that only moves when the client sleeps: sleeps are recorded, not
// slept, so the tests measure requested waits, never real time.
class FakeClock {
 public:
  void install(AwsClientOptions& options) {
    options.now = [this] {
      std::lock_guard lock(mutex_);
      return now_;
    };
    options.sleep = [this](milliseconds d) {
      std::lock_guard lock(mutex_);
      sleeps_.push_back(d);
      now_ += d;
    };
  }
  void advance(milliseconds d) {
    std::lock_guard lock(mutex_);
    now_ += d;
  }
  std::vector<milliseconds> sleeps() const {
    std::lock_guard lock(mutex_);
    return sleeps_;
  }
  milliseconds total_slept() const {
    milliseconds total{0};
    for (auto d : sleeps())
      total += d;
    return total;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    sleeps_.clear();
  }

 private:
  mutable std::mutex mutex_;
  std::chrono::system_clock::time_point now_ = suite_time();
  std::vector<milliseconds> sleeps_;
};

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// What AWS computes from the request it received: the Authorization header
// a valid signer would have sent, rebuilt from the raw target, the headers
// named in SignedHeaders and the body.
std::string authorization_as_verified(const ScriptedServer::Seen& seen, std::string_view region,
                                      std::string_view service) {
  auto parsed = crypto::parse_authorization(header(seen.headers, "authorization"));
  if (!parsed) return "unparsable Authorization";
  std::string_view target = seen.target;
  auto question = target.find('?');
  crypto::CanonicalRequest canonical;
  canonical.method = seen.method;
  canonical.uri = crypto::canonical_uri(target.substr(0, question));
  if (question != std::string_view::npos) {
    for (const auto& pair : split_trimmed(target.substr(question + 1), '&')) {
      auto eq = pair.find('=');
      canonical.query.emplace_back(percent_decode(pair.substr(0, eq)),
                                   percent_decode(pair.substr(eq + 1)));
    }
  }
  for (const auto& name : parsed->signed_headers) {
    canonical.headers.emplace_back(name, header(seen.headers, name));
  }
  canonical.payload_hash = crypto::sha256_hex(seen.body);
  std::string amz_date = header(seen.headers, "x-amz-date");
  return crypto::authorization_header(
      canonical, parsed->access_key, kSecret, amz_date,
      {amz_date.substr(0, 8), std::string(region), std::string(service)});
}

class AwsClientCall : public ::testing::Test {
 protected:
  AwsClientOptions options(std::string endpoint = "") {
    AwsClientOptions o = suite_options("iot", endpoint.empty() ? server_.endpoint() : endpoint);
    o.connect_timeout = 2000ms;
    o.request_timeout = 5000ms;
    clock_.install(o);
    return o;
  }
  static AwsRequest describe_thing() {
    return {"DescribeThing", "GET", "/things/t1", {}, {}, "", ""};
  }

  ScriptedServer server_;
  FakeClock clock_;
};

TEST_F(AwsClientCall, ReturnsTheSuccessfulResponse) {
  server_.script({{200, {{"x-amzn-RequestId", "req-1"}}, R"({"thingName":"t1"})"}});
  AwsClient client(options());
  auto r = client.call(describe_thing());
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"thingName":"t1"})");
  EXPECT_EQ(r->request_id, "req-1");
  ASSERT_EQ(server_.seen().size(), 1u);
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST_F(AwsClientCall, SendsASignatureTheServerCanVerify) {
  auto o = options();
  o.service = "iotdata";
  o.credentials.session_token = "session-token-1";
  AwsClient client(o);
  AwsRequest request{"UpdateThingShadow",
                     "POST",
                     "/things/my%3Athing/shadow",
                     {{"name", "cfg"}, {"a b", "c/d"}},
                     {{"x-amzn-principal", "arn:aws:iot:us-east-1:123456789012:cert/abc"}},
                     R"({"state":{"desired":{"on":true}}})",
                     "application/json"};
  ASSERT_TRUE(client.call(request));
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 1u);
  const auto& s = seen[0];
  EXPECT_EQ(s.method, "POST");
  EXPECT_EQ(s.target, "/things/my%3Athing/shadow?name=cfg&a%20b=c%2Fd");
  EXPECT_EQ(s.body, request.body);
  EXPECT_EQ(header(s.headers, "host"), "127.0.0.1:" + std::to_string(server_.port()));
  EXPECT_EQ(header(s.headers, "x-amz-date"), "20150830T123600Z");
  EXPECT_EQ(header(s.headers, "x-amz-security-token"), "session-token-1");
  EXPECT_EQ(header(s.headers, "content-type"), "application/json");
  EXPECT_FALSE(has_header(s.headers, "expect"));
  std::string auth = header(s.headers, "authorization");
  EXPECT_TRUE(auth.starts_with(
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iotdata/aws4_request, "
      "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amzn-principal, "
      "Signature="))
      << auth;
  EXPECT_EQ(auth, authorization_as_verified(s, "us-east-1", "iotdata"));
}

TEST_F(AwsClientCall, BodilessMethodsAndBlobPayloads) {
  AwsClient client(options());
  std::string big(200 * 1024, 'b');  // large enough for libcurl to want Expect: 100-continue
  ASSERT_TRUE(client.call(
      {"UpdateCertificate", "PUT", "/certificates/abc", {{"newStatus", "INACTIVE"}}, {}, "", ""}));
  ASSERT_TRUE(client.call({"DeleteThing", "DELETE", "/things/t1", {}, {}, "", ""}));
  ASSERT_TRUE(client.call({"Publish", "POST", "/topics/a%2Fb", {{"qos", "1"}}, {}, big, ""}));
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].method, "PUT");
  EXPECT_EQ(header(seen[0].headers, "content-length"), "0");
  EXPECT_EQ(seen[1].method, "DELETE");
  EXPECT_EQ(header(seen[1].headers, "content-length"), "0");
  EXPECT_EQ(seen[2].body, big);
  for (const auto& s : seen) {
    EXPECT_FALSE(has_header(s.headers, "content-type")) << s.method;
    EXPECT_FALSE(has_header(s.headers, "expect")) << s.method;
    EXPECT_EQ(header(s.headers, "authorization"), authorization_as_verified(s, "us-east-1", "iot"));
  }
}

TEST_F(AwsClientCall, RetriesControlPlaneThrottling) {
  server_.script(
      {{400, {{"x-amzn-ErrorType", "ThrottlingException:"}}, R"({"message":"Rate exceeded"})"},
       {200, {}, "{}"}});
  AwsClient client(options());
  auto r = client.call(describe_thing());
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(server_.seen().size(), 2u);
  // One backoff in [0, 1 s) (a drawn 0 ms is not slept at all).
  auto sleeps = clock_.sleeps();
  EXPECT_LE(sleeps.size(), 1u);
  for (auto d : sleeps)
    EXPECT_LT(d, 1000ms);
  // Each attempt is signed afresh (the fake clock moved by the backoff).
  auto seen = server_.seen();
  EXPECT_EQ(header(seen[1].headers, "authorization"),
            authorization_as_verified(seen[1], "us-east-1", "iot"));
}

TEST_F(AwsClientCall, DoesNotRetryLimitExceeded) {
  server_.script({{410,
                   {{"x-amzn-ErrorType", "LimitExceededException:"}, {"x-amzn-RequestId", "rq"}},
                   R"({"message":"Too many policies"})"}});
  AwsClient client(options());
  auto r =
      client.call({"AttachPolicy", "PUT", "/target-policies/p", {}, {}, "{}", "application/json"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 410);
  EXPECT_EQ(r.error().code, "LimitExceededException");
  EXPECT_EQ(r.error().message, "Too many policies");
  EXPECT_EQ(r.error().operation, "AttachPolicy");
  EXPECT_EQ(r.error().attempts, 1);
  EXPECT_EQ(r.error().request_id, "rq");
  EXPECT_EQ(server_.seen().size(), 1u);
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST_F(AwsClientCall, GivesUpAfterMaxAttemptsOfServerErrors) {
  ScriptedServer::Reply unavailable{503,
                                    {{"X-AMZN-ERRORTYPE", "ServiceUnavailableException"}},
                                    R"({"__type":"ServiceUnavailableException","message":"busy"})"};
  server_.script({unavailable, unavailable, unavailable, {200, {}, "{}"}});
  AwsClient client(options());
  auto r = client.call(describe_thing());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 503);
  EXPECT_EQ(r.error().code, "ServiceUnavailableException");
  EXPECT_EQ(r.error().attempts, 3);
  EXPECT_EQ(r.error().describe(), "DescribeThing failed: ServiceUnavailableException (503): busy");
  EXPECT_EQ(server_.seen().size(), 3u);
  // Two backoffs, below 1 s then 2 s (a drawn 0 ms is not slept at all).
  auto sleeps = clock_.sleeps();
  EXPECT_LE(sleeps.size(), 2u);
  EXPECT_LT(clock_.total_slept(), 3000ms);
}

TEST_F(AwsClientCall, HonoursRetryAfterWithinFiveSecondsOfTheBackoff) {
  server_.script({{503, {{"x-amz-retry-after", "3000"}}, "{}"},
                  {503, {{"x-amz-retry-after", "60000"}}, "{}"},
                  {200, {}, "{}"}});
  AwsClient client(options());
  ASSERT_TRUE(client.call(describe_thing()));
  auto sleeps = clock_.sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_EQ(sleeps[0], 3000ms);  // above any first backoff (< 1 s), within +5 s
  EXPECT_GE(sleeps[1], 5000ms);  // 60 s asked: backoff (< 2 s) + 5 s at most
  EXPECT_LT(sleeps[1], 7000ms);
}

TEST_F(AwsClientCall, RetryQuotaStopsRetryStorms) {
  server_.set_fallback({503, {}, "{}"});
  auto o = options();
  o.max_attempts = 1000;
  AwsClient client(o);
  auto r = client.call(describe_thing());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().attempts, 101);  // 500 tokens / 5 per retry
  auto again = client.call(describe_thing());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().attempts, 1);  // quota empty: no retry at all
  // A success earns a token back, but a retry costs 5.
  server_.script({{200, {}, "{}"}});
  ASSERT_TRUE(client.call(describe_thing()));
  EXPECT_EQ(client.call(describe_thing()).error().attempts, 1);
}

TEST_F(AwsClientCall, ConnectionRefusedIsARetriedTransportError) {
  AwsClient client(options("http://127.0.0.1:" + std::to_string(closed_port())));
  auto r = client.call(describe_thing());
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().transport());
  EXPECT_EQ(r.error().status, 0);
  EXPECT_EQ(r.error().code, "");
  EXPECT_EQ(r.error().attempts, 3);
  EXPECT_FALSE(r.error().message.empty());
  EXPECT_TRUE(r.error().describe().starts_with("DescribeThing failed: "));
  EXPECT_TRUE(r.error().describe().ends_with(" (no response)")) << r.error().describe();
  EXPECT_LE(clock_.sleeps().size(), 2u);
}

TEST_F(AwsClientCall, TimesOutWhenTheServerNeverAnswers) {
  server_.set_fallback({200, {}, "{}", /*hang=*/true});
  auto o = options();
  o.request_timeout = 300ms;
  o.max_attempts = 1;
  AwsClient client(o);
  auto started = std::chrono::steady_clock::now();
  auto r = client.call(describe_thing());
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().transport());
  EXPECT_EQ(r.error().attempts, 1);
  EXPECT_NE(r.error().message.find("timed out"), std::string::npos) << r.error().message;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 5000ms);  // the timeout, plus generous slack for sanitizers
  EXPECT_EQ(server_.seen().size(), 1u);
}

TEST_F(AwsClientCall, RefusesAnOversizedResponseBody) {
  server_.set_fallback({200, {}, std::string(16 * 1024 * 1024 + 1, 'x')});
  auto o = options();
  o.max_attempts = 1;
  AwsClient client(o);
  auto r = client.call(describe_thing());
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().transport());
  EXPECT_NE(r.error().message.find("larger than"), std::string::npos) << r.error().message;
  server_.set_fallback({200, {}, std::string(16 * 1024 * 1024, 'x')});
  auto at_limit = client.call(describe_thing());
  ASSERT_TRUE(at_limit);
  EXPECT_EQ(at_limit->body.size(), 16u * 1024 * 1024);
}

TEST_F(AwsClientCall, ReusesTheConnection) {
  AwsClient client(options());
  ASSERT_TRUE(client.call(describe_thing()));
  ASSERT_TRUE(client.call({"ListThings", "GET", "/things", {}, {}, "", ""}));
  server_.script({{404, {{"x-amzn-ErrorType", "ResourceNotFoundException:"}}, "{}"}});
  ASSERT_FALSE(client.call(describe_thing()));  // an error response keeps it too
  ASSERT_TRUE(client.call(describe_thing()));
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(server_.accepted(), 1);
  for (const auto& s : seen)
    EXPECT_EQ(s.connection, 1);
}

TEST_F(AwsClientCall, RejectsABadEndpointWithoutSending) {
  AwsClient client(options("https://iot.us-east-1.amazonaws.com/prefix"));
  auto r = client.call(describe_thing());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, kClientErrorCode);
  EXPECT_EQ(r.error().attempts, 0);
  EXPECT_EQ(r.error().operation, "DescribeThing");
  EXPECT_FALSE(is_retryable(r.error()));
  AwsClient good(options());
  auto bad_path = good.call({"DescribeThing", "GET", "/things/a b", {}, {}, "", ""});
  ASSERT_FALSE(bad_path);
  EXPECT_EQ(bad_path.error().code, kClientErrorCode);
  EXPECT_TRUE(server_.seen().empty());
}

TEST_F(AwsClientCall, PacesEachOperationToItsRate) {
  auto o = options();
  o.rate_limits = {{"CreateThing", 5.0}};
  AwsClient client(o);
  AwsRequest create{"CreateThing", "POST", "/things/t", {}, {}, "{}", "application/json"};
  for (int i = 0; i < 11; ++i)
    ASSERT_TRUE(client.call(create));
  // A fresh bucket holds one token: 10 more at 5/s take 2 s.
  EXPECT_EQ(clock_.total_slept(), 2000ms);
  EXPECT_EQ(clock_.sleeps().size(), 10u);
  // Unlisted operations are not paced.
  clock_.clear();
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(client.call(describe_thing()));
  EXPECT_TRUE(clock_.sleeps().empty());
  // After a pause there is still no burst: AWS counts per second, so calls
  // stay 1/rate apart and no one-second window holds more than 5.
  clock_.advance(10s);
  for (int i = 0; i < 7; ++i)
    ASSERT_TRUE(client.call(create));
  EXPECT_EQ(clock_.total_slept(), 1200ms);
}

TEST_F(AwsClientCall, PacesRetriesToo) {
  ScriptedServer::Reply throttled{400, {{"x-amzn-ErrorType", "ThrottlingException"}}, "{}"};
  server_.script({throttled, throttled, {200, {}, "{}"}});
  auto o = options();
  o.rate_limits = {{"DescribeThing", 1.0}};
  AwsClient client(o);
  ASSERT_TRUE(client.call(describe_thing()));
  EXPECT_EQ(server_.seen().size(), 3u);
  // Three attempts at 1/s span at least 2 s, backoff included.
  EXPECT_GE(clock_.total_slept(), 2000ms);
}

TEST(AwsClientConcurrency, CallsFromManyThreads) {
  ScriptedServer server;
  AwsClient client(suite_options("iot", server.endpoint()));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&client, &ok] {
      for (int i = 0; i < 10; ++i) {
        if (client.call({"DescribeThing", "GET", "/things/t1", {}, {}, "", ""})) ++ok;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_EQ(server.seen().size(), 40u);
  EXPECT_LE(server.accepted(), 8);  // handles (and their connections) are reused
}

}  // namespace
}  // namespace para::iot
