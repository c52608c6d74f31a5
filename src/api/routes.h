// Route matching over path segments. A pattern is a path of literal segments
// and `{name}` placeholders ("/v1/{type}/{id}"). Among the patterns that match
// a path, the one with the most literal segments wins ("/v1/_types" beats
// "/v1/{type}"); then the method picks the route, or the match is a 405.
// HEAD picks the GET route (the caller sends GET's answer without its body).
//
// Thread-safety: pure functions over immutable tables.
// Errors: kNotFound when no pattern matches, kMethodNotAllowed when the best
// pattern has no route for the method (the message lists the allowed ones).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace para {

struct RoutePattern {
  std::string_view method;
  std::string_view path;
};

struct RouteMatch {
  std::size_t index = 0;                 // into the table given to the Router
  std::vector<std::string> path_params;  // values of the placeholders, in order
};

// A route table compiled once (patterns pre-split), matched per request.
class Router {
 public:
  explicit Router(std::span<const RoutePattern> table);

  Result<RouteMatch> match(std::string_view method, const std::vector<std::string>& segments) const;

 private:
  struct Compiled {
    std::string_view method;
    std::vector<std::string> parts;
  };
  int literal_score(const Compiled& route, const std::vector<std::string>& segments) const;

  std::vector<Compiled> routes_;
};

}  // namespace para
