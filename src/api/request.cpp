#include "api/request.h"

#include <boost/url/parse.hpp>

#include "api/http.h"
#include "core/text.h"

namespace para {

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

std::string_view ParsedTarget::param(std::string_view name, std::string_view fallback) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return fallback;
}

bool ParsedTarget::has_param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return true;
  }
  return false;
}

std::vector<std::string> ParsedTarget::params_named(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [k, v] : params) {
    if (k == name) values.push_back(v);
  }
  return values;
}

Result<ParsedTarget> parse_target(std::string_view target) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return invalid_input("Malformed request target: " + url.error().message() + ".");
  ParsedTarget parsed;
  parsed.raw_path = url->encoded_path();
  for (auto segment : url->segments())
    parsed.segments.push_back(segment);
  if (!parsed.segments.empty() && parsed.segments.back().empty()) parsed.segments.pop_back();
  boost::urls::encoding_opts plus_is_space(true);
  for (auto param : url->params(plus_is_space)) {
    parsed.params.emplace_back(param.key, param.has_value ? param.value : std::string());
  }
  return parsed;
}

}  // namespace para
