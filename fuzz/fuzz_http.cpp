// Raw bytes through the HTTP/1.1 parser (as the server configures it) and,
// when they form a request, through the whole API gate and handlers against
// a real store.
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

#include "api/api.h"
#include "core/ids.h"
#include "objects/apps.h"
#include "objects/object_service.h"
#include "store/store.h"

namespace {

struct World {
  para::Config config;
  std::unique_ptr<para::Store> store;
  std::unique_ptr<para::AppDirectory> apps;
  std::unique_ptr<para::IdGenerator> ids;
  std::unique_ptr<para::ObjectService> objects;
  std::unique_ptr<para::Api> api;

  World() {
    auto dir = std::filesystem::temp_directory_path() / "para-fuzz-http";
    std::filesystem::remove_all(dir);
    config.data_dir = dir.string();
    config.root_secret_override = "fuzz";
    store = *para::open_sqlite_store({config.data_dir, false});
    apps = std::make_unique<para::AppDirectory>(*store, config);
    (void)apps->setup_root();
    ids = std::make_unique<para::IdGenerator>(1);
    objects = std::make_unique<para::ObjectService>(*store, *apps, *ids);
    api = std::make_unique<para::Api>(config, *store, *apps, *objects);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(1024 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_done()) return 0;
  auto wire = parser.release();
  para::HttpRequest request;
  request.method = std::string(wire.method_string());
  request.target = std::string(wire.target());
  for (const auto& field : wire) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  request.body = std::move(wire.body());
  auto response = world.api->handle(request);
  if (response.status == 500) __builtin_trap();  // a 500 is a bug
  return 0;
}
