#include "core/config.h"

#include <charconv>
#include <limits>
#include <set>
#include <variant>

#include "core/text.h"

namespace para {
namespace {

struct IntRange {
  std::int64_t min = 0;
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
};

using Field = std::variant<std::int64_t Config::*, std::string Config::*, bool Config::*>;

struct KeyDef {
  std::string_view key;  // without the "para." prefix
  Field field;
  std::string_view help;
  IntRange range = {};
  std::initializer_list<std::string_view> choices = {};  // for enumerated strings
};

// The configuration surface, as data. Defaults come from Config's initialisers.
const KeyDef kKeys[] = {
    {"port", &Config::port, "HTTP port (0: any free port).", {0, 65535}},
    {"bind_address", &Config::bind_address, "Address the HTTP server listens on."},
    {"io_threads", &Config::io_threads, "Network threads (0: one per core).", {0, 256}},
    {"worker_threads",
     &Config::worker_threads,
     "Request handler threads (0: 4 per core, at least 8).",
     {0, 1024}},
    {"max_entity_size_bytes",
     &Config::max_entity_size_bytes,
     "Largest request body accepted, in bytes.",
     {1024, 1LL << 31}},
    {"http.read_timeout",
     &Config::http_read_timeout_sec,
     "Seconds a client has to send a complete request once it started one.",
     {1, 3600}},
    {"http.idle_timeout",
     &Config::http_idle_timeout_sec,
     "Seconds an idle keep-alive connection stays open.",
     {1, 86400}},
    {"shutdown_grace",
     &Config::shutdown_grace_sec,
     "Seconds in-flight requests get to finish on SIGTERM.",
     {0, 3600}},
    {"app_name", &Config::app_name, "Identifier of the root app (access key app:<name>)."},
    {"root_secret_override", &Config::root_secret_override,
     "Fixed secret key for the root app (otherwise random, shown once by /v1/_setup)."},
    {"request_expires_after",
     &Config::request_expires_after,
     "Seconds a signed request stays valid.",
     {1, 604800}},
    {"max_items_per_page", &Config::max_items_per_page, "Default page size of lists.", {1, 10000}},
    {"max_page_limit",
     &Config::max_page_limit,
     "Largest page size a client may ask for.",
     {1, 10000}},
    {"max_pages", &Config::max_pages, "Largest page number a client may ask for.", {1, 1000000}},
    {"max_datatypes_per_app",
     &Config::max_datatypes_per_app,
     "Custom types an app may create.",
     {1, 100000}},
    {"worker_id", &Config::worker_id, "Snowflake worker id; must differ per node.", {0, 31}},
    {"print_version", &Config::print_version, "Show the version in GET /v1/."},
    {"cors_enabled", &Config::cors_enabled,
     "CORS for browser clients: preflights answered, any origin allowed (credentials are "
     "signatures, not cookies)."},
    {"debug_request_signatures", &Config::debug_request_signatures,
     "Log the expected and received signature of rejected requests (never the secret)."},
    {"data_dir", &Config::data_dir, "Directory of the embedded database and broker files."},
    {"sqlite.synchronous",
     &Config::sqlite_synchronous,
     "SQLite durability: full (fsync per commit, survives power loss) or normal (survives a "
     "crashed process).",
     {},
     {"full", "normal"}},
    {"sqlite.cache_mb",
     &Config::sqlite_cache_mb,
     "Page cache of each SQLite connection (one writer, 2 readers per core, at least 4), in MiB.",
     {1, 4096}},
    {"sqlite.mmap_mb",
     &Config::sqlite_mmap_mb,
     "How much of the database file each connection maps into memory instead of copying it "
     "page by page into its cache, in MiB (0: none).",
     {0, 65536}},
    {"search.timeout_ms",
     &Config::search_timeout_ms,
     "A search (or count) running longer is stopped and answered 400, so one costly query "
     "cannot hold a reader for long; in ms (0: no limit).",
     {0, 3600000}},
    {"sqlite.object_cache_mb",
     &Config::sqlite_object_cache_mb,
     "Clients' JSON of objects search pages showed, kept in memory for all readers, in MiB "
     "(0: none).",
     {0, 65536}},
    {"iot.default_broker",
     &Config::iot_default_broker,
     "IoT broker of a Thing created without serviceBroker: local or AWS.",
     {},
     {"local", "AWS"}},
    {"iot.local.enabled", &Config::iot_local_enabled,
     "Run the built-in IoT broker (own CA, Mosquitto, shadows)."},
    {"iot.local.host", &Config::iot_local_host,
     "Host name or address devices are told to connect to (also in the broker's TLS certificate)."},
    {"iot.local.port",
     &Config::iot_local_port,
     "MQTT/TLS port of the built-in broker for devices.",
     {1, 65535}},
    {"iot.local.bind_address", &Config::iot_local_bind_address,
     "Address the built-in broker listens on for devices."},
    {"iot.local.mosquitto", &Config::iot_local_mosquitto, "Path of the mosquitto executable."},
    {"iot.local.service_port",
     &Config::iot_local_service_port,
     "Loopback port of the broker listener para-server itself uses (0: any free port).",
     {0, 65535}},
    {"iot.local.cert_lifetime_days",
     &Config::iot_local_cert_lifetime_days,
     "Lifetime of device certificates issued by the built-in CA, in days.",
     {1, 36500}},
    {"iot.local.rsa_key_pool",
     &Config::iot_local_rsa_key_pool,
     "RSA-2048 device keys kept ready for Things created with keyType RSA (0: none).",
     {0, 64}},
    {"iot.shadow.max_size",
     &Config::iot_shadow_max_size,
     "Largest shadow state document (desired + reported), in bytes; AWS's default is 8192.",
     {1024, 1048576}},
    {"iot.shadow.workers",
     &Config::iot_shadow_workers,
     "Threads applying shadow updates (0: half the cores, at least 1); one thing's updates always "
     "run in order.",
     {0, 256}},
    {"aws_access_key", &Config::aws_access_key,
     "AWS access key id for Things with serviceBroker AWS (default: $AWS_ACCESS_KEY_ID)."},
    {"aws_secret_key", &Config::aws_secret_key,
     "AWS secret access key (default: $AWS_SECRET_ACCESS_KEY; $AWS_SESSION_TOKEN is used with "
     "it)."},
    {"aws_region", &Config::aws_region, "AWS region (default: $AWS_REGION, then us-east-1)."},
    {"iot.aws.endpoint", &Config::iot_aws_endpoint,
     "AWS IoT control-plane URL (default https://iot.<region>.amazonaws.com)."},
    {"iot.aws.data_endpoint", &Config::iot_aws_data_endpoint,
     "AWS IoT data-plane URL for shadows (default: the account's iot:Data-ATS endpoint)."},
    {"iot.aws.max_attempts",
     &Config::iot_aws_max_attempts,
     "Attempts per AWS call (standard retry mode: first try plus retries).",
     {1, 10}},
    {"iot.aws.timeout",
     &Config::iot_aws_timeout_ms,
     "Milliseconds one AWS call may take (connect and answer) before it counts as failed.",
     {100, 600000}},
    {"iot.aws.reconcile_interval",
     &Config::iot_aws_reconcile_interval_sec,
     "Seconds between runs of the job that finishes interrupted AWS provisioning and deletes.",
     {1, 86400}},
    {"log_level",
     &Config::log_level,
     "Log level.",
     {},
     {"trace", "debug", "info", "warn", "error", "critical", "off"}},
};

const KeyDef* find_key(std::string_view key) {
  for (const auto& def : kKeys) {
    if (def.key == key) return &def;
  }
  return nullptr;
}

std::string env_name(std::string_view key) {
  std::string name = "para_";
  for (char c : key)
    name.push_back(c == '.' ? '_' : c);
  return name;
}

Status assign(Config& config, const KeyDef& def, std::string_view value, const std::string& where) {
  auto bad = [&](std::string_view expected) {
    return invalid_input(where + ": para." + std::string(def.key) + " must be " +
                         std::string(expected) + ", got \"" + std::string(value) + "\".");
  };
  if (auto* member = std::get_if<std::int64_t Config::*>(&def.field)) {
    std::int64_t n = 0;
    auto [ptr, err] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (err != std::errc() || ptr != value.data() + value.size()) return bad("an integer");
    if (n < def.range.min || n > def.range.max) {
      return bad("between " + std::to_string(def.range.min) + " and " +
                 std::to_string(def.range.max));
    }
    config.*(*member) = n;
  } else if (auto* member = std::get_if<bool Config::*>(&def.field)) {
    std::string v = to_lower(value);
    if (v == "true" || v == "on" || v == "yes") {
      config.*(*member) = true;
    } else if (v == "false" || v == "off" || v == "no") {
      config.*(*member) = false;
    } else {
      return bad("true or false");
    }
  } else {
    if (def.choices.size() > 0) {
      bool ok = false;
      std::string list;
      for (auto choice : def.choices) {
        ok = ok || choice == value;
        list += (list.empty() ? "" : ", ") + std::string(choice);
      }
      if (!ok) return bad("one of " + list);
    }
    config.*std::get<std::string Config::*>(def.field) = std::string(value);
  }
  return {};
}

// Strips a `#` or `//` comment that is not inside a quoted string.
std::string_view strip_comment(std::string_view line) {
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\\' && quoted) {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && (c == '#' || (c == '/' && i + 1 < line.size() && line[i + 1] == '/'))) {
      return line.substr(0, i);
    }
  }
  return line;
}

// A HOCON value: a quoted string (with escapes) or the bare trimmed text.
Result<std::string> parse_value(std::string_view raw) {
  raw = trim(raw);
  if (raw.empty() || raw.front() != '"') return std::string(raw);
  std::string out;
  for (std::size_t i = 1; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '"') {
      if (!trim(raw.substr(i + 1)).empty()) return invalid_input("text after a quoted value");
      return out;
    }
    if (c == '\\' && i + 1 < raw.size()) {
      char e = raw[++i];
      out.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
    } else {
      out.push_back(c);
    }
  }
  return invalid_input("unterminated quoted value");
}

struct Entry {
  std::string key;  // full path, e.g. "para.port"
  std::string value;
  int line = 0;
};

Result<std::vector<Entry>> parse_file(std::string_view text, std::string_view file_name) {
  std::vector<Entry> entries;
  std::vector<std::string> prefixes;  // open `name {` blocks
  int line_no = 0;
  auto fail = [&](std::string_view why) {
    return invalid_input(std::string(file_name) + ":" + std::to_string(line_no) + ": " +
                         std::string(why) + ".");
  };
  while (!text.empty()) {
    auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    ++line_no;
    line = trim(strip_comment(line));
    if (!line.empty() && line.back() == '\r') line = trim(line.substr(0, line.size() - 1));
    if (line.empty()) continue;
    if (line == "}") {
      if (prefixes.empty()) return fail("'}' without a block to close");
      prefixes.pop_back();
      continue;
    }
    std::string scope;
    for (const auto& p : prefixes)
      scope += p + ".";
    if (line.back() == '{') {
      auto name = trim(line.substr(0, line.size() - 1));
      if (!name.empty() && (name.back() == '=' || name.back() == ':'))
        name = trim(name.substr(0, name.size() - 1));
      if (name.empty()) return fail("a block needs a name");
      prefixes.emplace_back(name);
      continue;
    }
    auto sep = line.find_first_of("=:");
    if (sep == std::string_view::npos) return fail("expected 'key = value'");
    auto key = trim(line.substr(0, sep));
    if (key.empty()) return fail("missing key before '='");
    auto value = parse_value(line.substr(sep + 1));
    if (!value) return fail(value.error().message);
    entries.push_back({scope + std::string(key), std::move(*value), line_no});
  }
  if (!prefixes.empty()) return fail("block '" + prefixes.back() + "' is not closed");
  return entries;
}

}  // namespace

Result<Config> Config::load(std::string_view file_text, std::string_view file_name,
                            const std::map<std::string, std::string>& env) {
  Config config;
  auto entries = parse_file(file_text, file_name);
  if (!entries) return entries.error();
  for (const auto& e : *entries) {
    std::string where = std::string(file_name) + ":" + std::to_string(e.line);
    const KeyDef* def = e.key.starts_with("para.") ? find_key(e.key.substr(5)) : nullptr;
    if (!def) {
      config.warnings.push_back(where + ": unknown key '" + e.key + "' is ignored.");
      continue;
    }
    if (auto st = assign(config, *def, e.value, where); !st) return st.error();
  }
  std::set<std::string> known_env;
  for (const auto& def : kKeys) {
    std::string name = env_name(def.key);
    known_env.insert(name);
    if (auto it = env.find(name); it != env.end()) {
      if (auto st = assign(config, def, it->second, "environment " + name); !st) return st.error();
    }
  }
  for (const auto& [name, value] : env) {
    if (name.starts_with("para_") && !known_env.contains(name)) {
      config.warnings.push_back("environment: unknown variable '" + name + "' is ignored.");
    }
  }
  return config;
}

std::vector<ConfigKeyInfo> config_keys() {
  const Config defaults;
  std::vector<ConfigKeyInfo> out;
  for (const auto& def : kKeys) {
    std::string value = std::visit(
        [&](auto member) -> std::string {
          const auto& v = defaults.*member;
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, bool>) {
            return v ? "true" : "false";
          } else if constexpr (std::is_same_v<T, std::string>) {
            return v;
          } else {
            return std::to_string(v);
          }
        },
        def.field);
    out.push_back({def.key, std::move(value), def.help});
  }
  return out;
}

}  // namespace para
