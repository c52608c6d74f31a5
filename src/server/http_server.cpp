#include "server/http_server.h"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "api/cors.h"
#include "api/errors.h"

namespace para {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using std::chrono::seconds;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kHeaderLimit = 16 * 1024;

struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  std::string remote;
  // True while waiting for the first byte of a request. Only touched on the
  // connection's strand.
  bool idle = true;
};

HttpRequest to_api_request(http::request<http::string_body>&& wire, const std::string& remote) {
  HttpRequest request;
  request.method = std::string(wire.method_string());
  request.target = std::string(wire.target());
  request.headers.reserve(8);
  for (const auto& field : wire) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  request.body = std::move(wire.body());
  request.remote_address = remote;
  return request;
}

http::response<http::string_body> to_wire(HttpResponse&& response, bool keep_alive) {
  http::response<http::string_body> wire{static_cast<http::status>(response.status), 11};
  wire.set(http::field::server, "para-cpp");
  if (!response.content_type.empty()) wire.set(http::field::content_type, response.content_type);
  for (auto& [name, value] : response.headers)
    wire.set(name, value);
  wire.keep_alive(keep_alive);
  if (response.head_only) {
    wire.content_length(response.body.size());
    return wire;
  }
  wire.body() = std::move(response.body);
  wire.prepare_payload();
  return wire;
}

// RFC 9112 3.2: an HTTP/1.1 request has exactly one Host header (the
// signature covers it, so two would leave open which one was meant).
Status check_host(const http::request_header<>& header) {
  const auto [first, last] = header.equal_range(http::field::host);
  const auto hosts = std::distance(first, last);
  if (hosts > 1) {
    return invalid_input("A request must carry one Host header, not " + std::to_string(hosts) +
                         ".");
  }
  if (hosts == 0 && header.version() >= 11) {
    return invalid_input("An HTTP/1.1 request must carry a Host header.");
  }
  return {};
}

// The Para error for a request the HTTP parser refused.
Error wire_error(const beast::error_code& ec, std::uint64_t body_limit) {
  if (ec == http::error::body_limit) {
    return invalid_input("Request is too large - the maximum is " +
                         std::to_string(body_limit / 1024) + " KB.");
  }
  if (ec == http::error::header_limit) {
    return invalid_input("Request headers are too large - the maximum is " +
                         std::to_string(kHeaderLimit / 1024) + " KB.");
  }
  return invalid_input("Malformed HTTP request: " + ec.message() + ".");
}

bool is_disconnect(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == beast::error::timeout ||
         ec == asio::error::operation_aborted || ec == asio::error::broken_pipe ||
         ec == http::error::partial_message;
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(const Config& c, Api& a)
      : config(c),
        api(a),
        ioc(static_cast<int>(io_thread_count())),
        workers(worker_thread_count()),
        control(asio::make_strand(ioc)),
        acceptor(control),
        grace_timer(control),
        signals(control, SIGINT, SIGTERM) {}

  std::size_t io_thread_count() const {
    if (config.io_threads > 0) return static_cast<std::size_t>(config.io_threads);
    return std::max(1u, std::thread::hardware_concurrency());
  }

  std::size_t worker_thread_count() const {
    if (config.worker_threads > 0) return static_cast<std::size_t>(config.worker_threads);
    return std::max(8u, 4 * std::thread::hardware_concurrency());
  }

  Status start() {
    beast::error_code ec;
    auto address = asio::ip::make_address(config.bind_address, ec);
    if (ec)
      return invalid_input("para.bind_address '" + config.bind_address + "' is not an IP address.");
    tcp::endpoint endpoint(address, static_cast<unsigned short>(config.port));
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return unavailable("Cannot listen on " + config.bind_address + ":" +
                         std::to_string(config.port) + ": " + ec.message());
    }
    return {};
  }

  void run() {
    auto self = shared_from_this();
    signals.async_wait([self](const beast::error_code& ec, int signal) {
      if (ec) return;
      spdlog::info("signal {} received: shutting down gracefully", signal);
      self->stop();
    });
    asio::co_spawn(control, accept_loop(), asio::detached);
    spdlog::info("listening on {}:{} ({} network threads, {} handler threads)", config.bind_address,
                 acceptor.local_endpoint().port(), io_thread_count(), worker_thread_count());
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < io_thread_count(); ++i)
      threads.emplace_back([this] { ioc.run(); });
    ioc.run();
    for (auto& t : threads)
      t.join();
    workers.join();
    spdlog::info("HTTP server stopped");
  }

  void stop() {
    asio::post(control, [self = shared_from_this()] { self->begin_shutdown(); });
  }

  void begin_shutdown() {
    if (stopping.exchange(true)) return;
    beast::error_code ignored;
    acceptor.close(ignored);
    signals.cancel(ignored);
    std::lock_guard lock(connections_mutex);
    for (const auto& conn : connections) {
      asio::post(conn->stream.get_executor(), [conn] {
        if (conn->idle) conn->stream.socket().close();
      });
    }
    if (connections.empty()) return;
    spdlog::info("waiting up to {} s for {} connection(s) to finish", config.shutdown_grace_sec,
                 connections.size());
    grace_timer.expires_after(seconds(config.shutdown_grace_sec));
    grace_timer.async_wait([self = shared_from_this()](const beast::error_code& ec) {
      if (!ec) self->force_close();
    });
  }

  void force_close() {
    std::lock_guard lock(connections_mutex);
    if (!connections.empty()) {
      spdlog::warn("shutdown grace period over: closing {} connection(s)", connections.size());
    }
    for (const auto& conn : connections) {
      asio::post(conn->stream.get_executor(), [conn] { conn->stream.socket().close(); });
    }
  }

  void forget(const std::shared_ptr<Connection>& conn) {
    std::lock_guard lock(connections_mutex);
    connections.erase(conn);
    if (stopping && connections.empty()) {
      asio::post(control, [self = shared_from_this()] { self->grace_timer.cancel(); });
    }
  }

  asio::awaitable<void> accept_loop() {
    while (!stopping) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kNoThrow);
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted) break;
        // Out of file descriptors or similar: back off instead of spinning.
        spdlog::warn("accept failed: {}", ec.message());
        asio::steady_timer pause(control, std::chrono::milliseconds(100));
        co_await pause.async_wait(kNoThrow);
        continue;
      }
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto conn = std::make_shared<Connection>(std::move(socket));
      auto peer = conn->stream.socket().remote_endpoint(ignored);
      conn->remote = peer.address().to_string() + ":" + std::to_string(peer.port());
      {
        std::lock_guard lock(connections_mutex);
        connections.insert(conn);
      }
      asio::co_spawn(conn->stream.get_executor(), serve(conn),
                     [self = shared_from_this(), conn](std::exception_ptr e) {
                       if (e) {
                         try {
                           std::rethrow_exception(e);
                         } catch (const std::exception& ex) {
                           spdlog::error("connection {} failed: {}", conn->remote, ex.what());
                         }
                       }
                       self->forget(conn);
                     });
    }
  }

  asio::awaitable<void> write(Connection& conn, HttpResponse&& response, bool keep_alive) {
    auto wire = to_wire(std::move(response), keep_alive);
    conn.stream.expires_after(seconds(config.http_idle_timeout_sec));
    auto [ec, n] = co_await http::async_write(conn.stream, wire, kNoThrow);
    if (ec && !is_disconnect(ec))
      spdlog::debug("write to {} failed: {}", conn.remote, ec.message());
  }

  // Answers a request the parser refused, then closes without resetting the
  // connection under the client: it may still be sending a large body.
  // `header` is what the parser read of the request, if anything.
  asio::awaitable<void> reject(Connection& conn, beast::flat_buffer& buffer, const Error& error,
                               const http::request_header<>& header) {
    HttpResponse response = error_response(error);
    if (config.cors_enabled && header.count(http::field::origin) > 0) allow_any_origin(response);
    co_await write(conn, std::move(response), false);
    beast::error_code ignored;
    conn.stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    conn.stream.expires_after(seconds(2));
    std::size_t drained = 0;
    while (drained < 8 * 1024 * 1024) {
      buffer.clear();
      auto [ec, n] = co_await conn.stream.async_read_some(buffer.prepare(64 * 1024), kNoThrow);
      if (ec) break;
      drained += n;
    }
  }

  asio::awaitable<HttpResponse> handle(HttpRequest& request) {
    co_return co_await asio::co_spawn(
        workers, [&]() -> asio::awaitable<HttpResponse> { co_return api.handle(request); },
        asio::use_awaitable);
  }

  asio::awaitable<void> serve(std::shared_ptr<Connection> conn) {
    auto& stream = conn->stream;
    beast::flat_buffer buffer(static_cast<std::size_t>(config.max_entity_size_bytes) +
                              kHeaderLimit + 64 * 1024);
    for (;;) {
      if (buffer.size() == 0) {
        conn->idle = true;
        if (stopping) break;
        stream.expires_after(seconds(config.http_idle_timeout_sec));
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), kNoThrow);
        if (ec) break;  // closed, idle too long, or shutting down
        buffer.commit(n);
      }
      conn->idle = false;
      stream.expires_after(seconds(config.http_read_timeout_sec));
      http::request_parser<http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(batch_body_limit());
      auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, kNoThrow);
      if (hec) {
        if (!is_disconnect(hec))
          co_await reject(*conn, buffer, wire_error(hec, batch_body_limit()), parser.get());
        break;
      }
      if (auto host = check_host(parser.get()); !host) {
        co_await reject(*conn, buffer, host.error(), parser.get());
        break;
      }
      // Batches may be 100 times larger than one object; everything else
      // gets the per-object limit, checked before a byte of body is read.
      const std::uint64_t limit = body_limit_of(parser.get());
      if (parser.content_length() && *parser.content_length() > limit) {
        co_await reject(*conn, buffer, wire_error(http::error::body_limit, limit), parser.get());
        break;
      }
      parser.body_limit(limit);
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> go_on{http::status::continue_, 11};
        auto [cec, cn] = co_await http::async_write(stream, go_on, kNoThrow);
        if (cec) break;
      }
      auto [bec, bn] = co_await http::async_read(stream, buffer, parser, kNoThrow);
      if (bec) {
        if (!is_disconnect(bec))
          co_await reject(*conn, buffer, wire_error(bec, limit), parser.get());
        break;
      }
      const bool keep_alive = parser.get().keep_alive();
      auto started = std::chrono::steady_clock::now();
      HttpRequest request = to_api_request(parser.release(), conn->remote);
      HttpResponse response = co_await handle(request);
      log_access(request, response, started);
      const bool again = keep_alive && !stopping;
      co_await write(*conn, std::move(response), again);
      if (!again) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.socket().close(ignored);
  }

  std::uint64_t batch_body_limit() const {
    return static_cast<std::uint64_t>(config.max_entity_size_bytes) * 100;
  }

  std::uint64_t body_limit_of(const http::request<http::string_body>& header) const {
    std::string_view target = header.target();
    return target.starts_with("/v1/_batch")
               ? batch_body_limit()
               : static_cast<std::uint64_t>(config.max_entity_size_bytes);
  }

  static void log_access(const HttpRequest& request, const HttpResponse& response,
                         std::chrono::steady_clock::time_point started) {
    auto level = response.status == 500   ? spdlog::level::err
                 : response.status >= 500 ? spdlog::level::warn
                                          : spdlog::level::debug;
    if (!spdlog::should_log(level)) return;
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
    // The path only: a query string can carry a token.
    std::string_view path(request.target);
    path = path.substr(0, path.find('?'));
    spdlog::log(level, "{} {} {} -> {} ({} us)", request.remote_address, request.method, path,
                response.status, micros);
  }

  const Config& config;
  Api& api;
  asio::io_context ioc;
  asio::thread_pool workers;
  asio::strand<asio::io_context::executor_type> control;  // acceptor, timer, signals
  tcp::acceptor acceptor;
  asio::steady_timer grace_timer;
  asio::signal_set signals;
  std::atomic<bool> stopping{false};
  std::mutex connections_mutex;
  std::unordered_set<std::shared_ptr<Connection>> connections;  // guarded by connections_mutex
};

HttpServer::HttpServer(const Config& config, Api& api)
    : impl_(std::make_shared<Impl>(config, api)) {}

HttpServer::~HttpServer() = default;

Status HttpServer::start() {
  return impl_->start();
}

unsigned short HttpServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void HttpServer::run() {
  impl_->run();
}

void HttpServer::stop() {
  impl_->stop();
}

}  // namespace para
