// Para's search parameters (para-api.md 5.3) -> a store SearchRequest.
//
//   querytype  parameters
//   (default)  q (Lucene syntax, default *)
//   id         id
//   ids        ids (repeated)
//   nested     field, q: q applied inside the object at `field`
//   nearby     latlng ("lat,lng"), radius (km, default 10), q
//   prefix     field, prefix
//   similar    fields (repeated), filterid, like: objects sharing words with `like`
//   tagged     tags (repeated): objects with every tag
//   in         field, terms (repeated): field equals any of them
//   terms      terms (repeated "field:value"; "field >:v", "<", ">=", "<=" for
//              ranges), matchall (default true)
//   wildcard   field, q (with * and ?)
//   count      q: only totalHits
// and for all: type, sort, desc, limit, page, lastKey.
//
// Thread-safety: pure function.
// Errors: kInvalidInput, naming the parameter (a bad q: "Invalid query string
// syntax q=... in request GET ...").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "api/request.h"
#include "core/config.h"
#include "store/store.h"

namespace para {

struct SearchParams {
  SearchRequest request;
  std::int64_t page = 0;  // as the client asked (0 and 1 are the first page)
};

// `request_line` ("GET /v1/cats/search") is quoted in query-syntax errors.
Result<SearchParams> build_search(std::string_view querytype, const ParsedTarget& target,
                                  const Config& config, std::string_view request_line);

}  // namespace para
