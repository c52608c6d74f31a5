#include "cli/startup.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

extern char** environ;

namespace para {

Result<Config> load_config(const std::optional<std::string>& config_path) {
  std::string path = config_path.value_or("application.conf");
  std::string text;
  if (std::filesystem::exists(path)) {
    std::ifstream in(path);
    if (!in) return invalid_input("Cannot read config file " + path + ".");
    std::ostringstream content;
    content << in.rdbuf();
    text = content.str();
  } else if (config_path) {
    return invalid_input("Config file " + path + " does not exist.");
  }
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string_view::npos && entry.starts_with("para_")) {
      env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
  }
  return Config::load(text, path, env);
}

void init_logging(const Config& config) {
  auto logger = spdlog::stderr_logger_mt("para");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%t] %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(config.log_level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace para
