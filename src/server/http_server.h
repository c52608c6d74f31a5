// HttpServer: HTTP/1.1 with keep-alive on Boost.Beast, feeding the Api.
//
// Network I/O runs on `io_threads` threads (one strand per connection, C++20
// coroutines); request handlers run on a separate pool of `worker_threads`
// so a slow store or upstream call never stalls the network threads.
//
// Every connection is bounded: the whole request must arrive within
// http.read_timeout once it started, an idle keep-alive connection closes
// after http.idle_timeout, the body is limited to max_entity_size_bytes
// (400 "Request is too large - ...") and the headers to 16 KiB; requests are
// served one at a time, so a pipelining client cannot grow server memory.
//
// Shutdown (stop(), e.g. on SIGTERM): the listener closes, idle connections
// close, requests in flight finish and get their response with
// `Connection: close`; after shutdown_grace seconds whatever is left is cut.
//
// Thread-safety: start() then run() from one thread; stop() from any thread.
// Errors: start() returns kUnavailable if the address cannot be bound.
#pragma once

#include <memory>

#include "api/api.h"
#include "core/config.h"

namespace para {

class HttpServer {
 public:
  HttpServer(const Config& config, Api& api);
  ~HttpServer();

  // Binds the listening socket.
  Status start();

  // The bound port (useful with port 0).
  unsigned short port() const;

  // Serves until stop() has drained every connection. Blocks.
  void run();

  // Begins a graceful shutdown; returns at once.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace para
