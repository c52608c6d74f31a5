// A request target split into what the router and the handlers need.
//
// Thread-safety: value type.
// Errors: parse_target returns kInvalidInput for a target that is not an
// origin-form URI or has broken percent-encoding.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace para {

struct ParsedTarget {
  std::string raw_path;                                     // as received, still percent-encoded
  std::vector<std::string> segments;                        // decoded; no empty trailing segment
  std::vector<std::pair<std::string, std::string>> params;  // decoded ('+' is a space), in order

  // The first value of query parameter `name`, or `fallback`.
  std::string_view param(std::string_view name, std::string_view fallback = {}) const;
  bool has_param(std::string_view name) const;
  // Every value of `name`, in order.
  std::vector<std::string> params_named(std::string_view name) const;
};

Result<ParsedTarget> parse_target(std::string_view target);

}  // namespace para
