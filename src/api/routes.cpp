#include "api/routes.h"

#include <algorithm>

#include "core/text.h"

namespace para {

Router::Router(std::span<const RoutePattern> table) {
  for (const auto& route : table)
    routes_.push_back({route.method, split_trimmed(route.path, '/')});
}

// Number of literal segments if `route` matches `segments`, else -1.
int Router::literal_score(const Compiled& route, const std::vector<std::string>& segments) const {
  if (route.parts.size() != segments.size()) return -1;
  int literals = 0;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string& part = route.parts[i];
    if (part.front() == '{') {
      if (segments[i].empty()) return -1;
    } else if (part == segments[i]) {
      ++literals;
    } else {
      return -1;
    }
  }
  return literals;
}

Result<RouteMatch> Router::match(std::string_view method,
                                 const std::vector<std::string>& segments) const {
  int best = -1;
  for (const auto& route : routes_)
    best = std::max(best, literal_score(route, segments));
  if (best < 0) {
    std::string path;
    for (const auto& s : segments)
      path += "/" + s;
    return not_found("No such endpoint: " + (path.empty() ? "/" : path));
  }
  std::string allowed;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (literal_score(routes_[i], segments) != best) continue;
    if (routes_[i].method == method || (method == "HEAD" && routes_[i].method == "GET")) {
      RouteMatch match{i, {}};
      for (std::size_t s = 0; s < segments.size(); ++s) {
        if (routes_[i].parts[s].front() == '{') match.path_params.push_back(segments[s]);
      }
      return match;
    }
    allowed += (allowed.empty() ? "" : ", ") + std::string(routes_[i].method);
  }
  return Error{ErrorKind::kMethodNotAllowed,
               "Method " + std::string(method) + " is not allowed here; use " + allowed + "."};
}

}  // namespace para
