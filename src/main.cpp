// para-server: wires the subsystems together and runs until SIGTERM/SIGINT.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "api/api.h"
#include "cli/startup.h"
#include "core/ids.h"
#include "iot/aws/aws_broker.h"
#include "iot/local/local_broker.h"
#include "iot/thing_hooks.h"
#include "objects/apps.h"
#include "objects/object_service.h"
#include "server/http_server.h"
#include "store/store.h"

namespace {

void print_config_keys() {
  for (const auto& key : para::config_keys()) {
    std::cout << "para." << key.key << " = " << key.default_value << "\n    " << key.help << "\n";
  }
}

std::string env_or(const char* name, const std::string& configured) {
  if (!configured.empty()) return configured;
  const char* value = std::getenv(name);
  return value ? value : "";
}

// The AWS broker, when credentials are configured (para.aws_* or the
// standard AWS_* environment variables).
std::unique_ptr<para::iot::AwsBroker> make_aws_broker(para::Store& store,
                                                      const para::Config& config) {
  para::iot::AwsCredentials credentials{env_or("AWS_ACCESS_KEY_ID", config.aws_access_key),
                                        env_or("AWS_SECRET_ACCESS_KEY", config.aws_secret_key),
                                        env_or("AWS_SESSION_TOKEN", "")};
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    spdlog::info("iot: no AWS credentials configured; Things with serviceBroker AWS get 503");
    return nullptr;
  }
  std::string region = env_or("AWS_REGION", config.aws_region);
  if (region.empty()) region = "us-east-1";
  spdlog::info("iot: AWS IoT broker enabled (region {}, access key {}...)", region,
               credentials.access_key_id.substr(0, 4));
  auto broker = std::make_unique<para::iot::AwsBroker>(store, config, credentials, region);
  broker->start();
  return broker;
}

// On a fresh data directory the operator needs to know how to get keys.
void bootstrap_root_app(para::AppDirectory& apps, const para::Config& config) {
  auto root = apps.find(apps.root_identifier());
  if (root) return;
  if (!config.root_secret_override.empty()) {
    if (auto created = apps.setup_root(); created && *created) {
      spdlog::info("root app 'app:{}' created with the secret from para.root_secret_override",
                   apps.root_identifier());
    }
    return;
  }
  spdlog::info(
      "the root app is not set up yet: GET http://localhost:{}/v1/_setup returns its access and "
      "secret keys once (keep them safe)",
      config.port);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"para-server: the Para REST API with IoT Things, in C++"};
  std::optional<std::string> config_path;
  bool show_keys = false;
  bool show_version = false;
  cli.add_option("-c,--config", config_path,
                 "Config file (default: ./application.conf if present)");
  cli.add_flag("--config-keys", show_keys, "List every configuration key with its default");
  cli.add_flag("--version", show_version, "Print the version");
  CLI11_PARSE(cli, argc, argv);
  if (show_version) {
    std::cout << "para-server " << para::server_version() << "\n";
    return 0;
  }
  if (show_keys) {
    print_config_keys();
    return 0;
  }

  auto config = para::load_config(config_path);
  if (!config) {
    std::cerr << "para-server: " << config.error().message << "\n";
    return 2;
  }
  para::init_logging(*config);
  for (const auto& warning : config->warnings)
    spdlog::warn("config: {}", warning);

  para::StoreOptions store_options{config->data_dir, config->sqlite_synchronous == "full",
                                   static_cast<int>(config->sqlite_cache_mb)};
  store_options.object_cache_mb = static_cast<int>(config->sqlite_object_cache_mb);
  store_options.mmap_mb = static_cast<int>(config->sqlite_mmap_mb);
  store_options.search_timeout_ms = static_cast<int>(config->search_timeout_ms);
  auto store = para::open_sqlite_store(store_options);
  if (!store) {
    spdlog::critical("cannot open the store: {}", store.error().message);
    return 1;
  }
  para::AppDirectory apps(**store, *config);
  para::IdGenerator ids(static_cast<int>(config->worker_id));
  para::ObjectService objects(**store, apps, ids);

  // Things: every write path goes through the hooks, which use the brokers.
  para::iot::ThingHooks thing_hooks(*config);
  std::unique_ptr<para::iot::LocalBroker> local_broker;
  if (config->iot_local_enabled) {
    local_broker = std::make_unique<para::iot::LocalBroker>(**store, *config);
    (void)local_broker->start();  // on failure it says why; Things get a 503, the rest works
    thing_hooks.add_broker(local_broker.get());
  }
  std::unique_ptr<para::iot::AwsBroker> aws_broker = make_aws_broker(**store, *config);
  if (aws_broker) thing_hooks.add_broker(aws_broker.get());
  objects.set_hooks("thing", &thing_hooks);

  para::Api api(*config, **store, apps, objects);
  bootstrap_root_app(apps, *config);

  para::HttpServer server(*config, api);
  if (auto st = server.start(); !st) {
    spdlog::critical("{}", st.error().message);
    return 1;
  }
  server.run();
  if (local_broker) local_broker->stop();
  if (aws_broker) aws_broker->stop();
  spdlog::info("para-server stopped");
  spdlog::shutdown();
  return 0;
}
