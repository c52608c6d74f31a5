// Server configuration: Para's `application.conf` keys plus para-cpp's own.
//
// Sources, lowest precedence first:
//   1. the defaults in the key table (config.cpp, one line per key);
//   2. the config file: `para.key = value` lines, the subset of HOCON that
//      Para's docs use (`=` or `:`, quoted or bare values, `#` and `//`
//      comments, `para { key = value }` blocks);
//   3. environment variables: `para_` + the key with dots replaced by
//      underscores (`para.iot.local.port` -> `para_iot_local_port`).
//
// Thread-safety: a loaded Config is immutable; share it freely.
// Errors: load() fails (kInvalidInput) on a malformed line or a value of the
// wrong type or range, naming the source and line. Unknown keys do not fail
// the load; they are listed in `warnings` so the operator sees them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace para {

struct Config {
  // HTTP server
  std::int64_t port = 8080;
  std::string bind_address = "0.0.0.0";
  std::int64_t io_threads = 0;      // 0: one per core
  std::int64_t worker_threads = 0;  // request handlers; 0: 4 per core, at least 8
  std::int64_t max_entity_size_bytes = 1048576;
  std::int64_t http_read_timeout_sec = 30;
  std::int64_t http_idle_timeout_sec = 60;
  std::int64_t shutdown_grace_sec = 10;

  // Para
  std::string app_name = "para";
  std::string root_secret_override;
  std::int64_t request_expires_after = 900;
  std::int64_t max_items_per_page = 30;
  std::int64_t max_page_limit = 256;
  std::int64_t max_pages = 1000;
  std::int64_t max_datatypes_per_app = 256;
  std::int64_t worker_id = 1;
  bool print_version = true;
  bool debug_request_signatures = false;
  bool cors_enabled = true;

  // Storage
  std::string data_dir = "./data";
  std::string sqlite_synchronous = "full";
  std::int64_t sqlite_cache_mb = 16;
  std::int64_t sqlite_mmap_mb = 0;
  std::int64_t search_timeout_ms = 5000;
  std::int64_t sqlite_object_cache_mb = 32;

  // IoT
  std::string iot_default_broker = "local";
  bool iot_local_enabled = true;
  std::string iot_local_host = "localhost";
  std::int64_t iot_local_port = 8883;
  std::string iot_local_bind_address = "0.0.0.0";
  std::string iot_local_mosquitto = "/usr/sbin/mosquitto";
  std::int64_t iot_local_service_port = 0;
  std::int64_t iot_local_cert_lifetime_days = 365;
  std::int64_t iot_local_rsa_key_pool = 4;
  std::int64_t iot_shadow_max_size = 8192;
  std::int64_t iot_shadow_workers = 0;  // 0: half the cores, at least 1
  std::string aws_access_key;           // empty: AWS_ACCESS_KEY_ID
  std::string aws_secret_key;           // empty: AWS_SECRET_ACCESS_KEY
  std::string aws_region;               // empty: AWS_REGION, then us-east-1
  std::string iot_aws_endpoint;         // empty: https://iot.<region>.amazonaws.com
  std::string iot_aws_data_endpoint;    // empty: https://<DescribeEndpoint iot:Data-ATS>
  std::int64_t iot_aws_max_attempts = 3;
  std::int64_t iot_aws_timeout_ms = 10000;
  std::int64_t iot_aws_reconcile_interval_sec = 30;

  // Operations
  std::string log_level = "info";

  // Messages about the sources that did not stop the load (unknown keys).
  std::vector<std::string> warnings;

  // Reads `file_text` (may be empty) then `env` over the defaults.
  // `file_name` is only used in messages.
  static Result<Config> load(std::string_view file_text, std::string_view file_name,
                             const std::map<std::string, std::string>& env);
};

// One documented key: for `para-server --help-config` and the README.
struct ConfigKeyInfo {
  std::string_view key;
  std::string default_value;
  std::string_view help;
};
std::vector<ConfigKeyInfo> config_keys();

}  // namespace para
