// para-server: wires the subsystems together and runs until SIGTERM/SIGINT.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "api/api.h"
#include "cli/startup.h"
#include "core/ids.h"
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

  auto store = para::open_sqlite_store({config->data_dir, config->sqlite_synchronous == "full"});
  if (!store) {
    spdlog::critical("cannot open the store: {}", store.error().message);
    return 1;
  }
  para::AppDirectory apps(**store, *config);
  para::IdGenerator ids(static_cast<int>(config->worker_id));
  para::ObjectService objects(**store, apps, ids, *config);

  // Things: every write path goes through the hooks, which use the brokers.
  para::iot::ThingHooks thing_hooks(*config);
  std::unique_ptr<para::iot::LocalBroker> local_broker;
  if (config->iot_local_enabled) {
    local_broker = std::make_unique<para::iot::LocalBroker>(**store, *config);
    (void)local_broker->start();  // on failure it says why; Things get a 503, the rest works
    thing_hooks.add_broker(local_broker.get());
  }
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
  spdlog::info("para-server stopped");
  spdlog::shutdown();
  return 0;
}
