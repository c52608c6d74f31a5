// Process start-up helpers for para-server: reading the configuration from
// its file and the environment, and setting up logging.
#pragma once

#include <optional>
#include <string>

#include "core/config.h"

namespace para {

// Loads `config_path` (must exist if given) or ./application.conf (optional),
// then the para_* environment variables.
// Errors: kInvalidInput for a missing explicit file or a bad value.
Result<Config> load_config(const std::optional<std::string>& config_path);

// Logs to stderr at config.log_level: UTC time, level, thread, message.
void init_logging(const Config& config);

}  // namespace para
