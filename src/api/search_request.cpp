#include "api/search_request.h"

#include <charconv>
#include <cmath>

#include "core/text.h"
#include "core/types.h"

namespace para {
namespace {

using search::Clause;
using search::Field;
using search::FieldKind;
using search::Occur;

constexpr std::size_t kMaxSimilarWords = 32;

Error missing(std::string_view name, std::string_view querytype) {
  return invalid_input("Parameter '" + std::string(name) + "' is required for '" +
                       std::string(querytype) + "' queries.");
}

// A field named in a parameter, with the query parser's rules for names.
Result<Field> field_param(const ParsedTarget& target, std::string_view param,
                          std::string_view querytype) {
  std::string name(trim(target.param(param)));
  if (name.empty()) return missing(param, querytype);
  if (name.starts_with("properties.")) name.erase(0, 11);
  bool valid = !name.empty() && name.size() <= 256 && name.front() != '.' && name.back() != '.' &&
               name.front() != '-' && name.find("..") == std::string::npos;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    valid = valid && (std::isalnum(u) || c == '_' || c == '-' || c == '.' || u >= 0x80);
  }
  if (!valid)
    return invalid_input("Parameter '" + std::string(param) + "' is not a valid field name.");
  return Field{is_common_field(name) ? FieldKind::kCommon : FieldKind::kCustom, name};
}

search::Query any_of(std::vector<search::Query> queries, Occur occur) {
  if (queries.size() == 1) return std::move(queries[0]);
  search::Boolean b;
  for (auto& q : queries)
    b.clauses.push_back(Clause{occur, std::move(q)});
  return b;
}

Result<search::Query> parse_q(std::string_view q, std::string_view request_line) {
  auto query = search::parse_query(q);
  if (!query) {
    return invalid_input("Invalid query string syntax q=" + std::string(q) + " in request " +
                         std::string(request_line) + ": " + query.error().message);
  }
  return query;
}

Result<std::int64_t> int_param(const ParsedTarget& target, std::string_view name,
                               std::int64_t fallback) {
  std::string_view text = target.param(name);
  if (text.empty()) return fallback;
  std::int64_t value = 0;
  auto [ptr, err] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (err != std::errc() || ptr != text.data() + text.size() || value < 0) {
    return invalid_input("Parameter '" + std::string(name) + "' must be a non-negative integer.");
  }
  return value;
}

Result<double> number_param(std::string_view text, std::string_view name) {
  double value = 0;
  text = trim(text);
  auto [ptr, err] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (err != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value)) {
    return invalid_input("Parameter '" + std::string(name) + "' must be a number.");
  }
  return value;
}

// Rewrites every field of `q` to live inside the object at `path`.
void nest(search::Query& q, const std::string& path) {
  std::visit(
      [&](auto& node) {
        using T = std::decay_t<decltype(node)>;
        if constexpr (std::is_same_v<T, search::Boolean>) {
          for (auto& c : node.clauses)
            nest(c.query, path);
        } else if constexpr (!std::is_same_v<T, search::MatchAll>) {
          node.field = Field{FieldKind::kCustom,
                             node.field.name.empty() ? path : path + "." + node.field.name};
        }
      },
      q);
}

Result<search::Query> terms_query(const ParsedTarget& target) {
  std::vector<search::Query> parts;
  for (const auto& pair : target.params_named("terms")) {
    auto colon = pair.find(':');
    if (colon == std::string::npos || colon == 0) {
      return invalid_input("Parameter 'terms' must be 'field:value' pairs, got '" + pair + "'.");
    }
    std::string key(trim(std::string_view(pair).substr(0, colon)));
    std::string value = pair.substr(colon + 1);
    std::string op;
    for (const char* suffix : {">=", "<=", ">", "<"}) {
      if (key.ends_with(suffix)) {
        op = suffix;
        key = std::string(trim(std::string_view(key).substr(0, key.size() - op.size())));
        break;
      }
    }
    ParsedTarget one;
    one.params.emplace_back("field", key);
    auto field = field_param(one, "field", "terms");
    if (!field) return field.error();
    if (op.empty()) {
      parts.push_back(search::Term{*field, value});
    } else {
      // Only the given end is bounded; '>' and '<' exclude it.
      search::Range range{*field, std::nullopt, std::nullopt, op != ">", op != "<"};
      if (op[0] == '>') {
        range.lower = value;
      } else {
        range.upper = value;
      }
      parts.push_back(range);
    }
  }
  if (parts.empty()) return missing("terms", "terms");
  const bool all = target.param("matchall", "true") != "false";
  return any_of(std::move(parts), all ? Occur::kMust : Occur::kShould);
}

// Words of `text` as full-text terms (for "more like this").
search::Query similar_words(std::string_view text) {
  std::vector<search::Query> words;
  std::string word;
  auto flush = [&] {
    if (word.size() > 1 && words.size() < kMaxSimilarWords) {
      words.push_back(search::Term{Field{}, to_lower(word)});
    }
    word.clear();
  };
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || u >= 0x80) {
      word.push_back(c);
    } else {
      flush();
    }
  }
  flush();
  if (words.empty())
    return search::Boolean{
        {Clause{Occur::kMustNot, search::MatchAll{}}, Clause{Occur::kMust, search::MatchAll{}}}};
  return any_of(std::move(words), Occur::kShould);
}

Result<search::Query> query_for(std::string_view querytype, const ParsedTarget& t,
                                SearchRequest& request, std::string_view request_line) {
  if (querytype == "id") {
    if (!t.has_param("id")) return missing("id", querytype);
    return search::Query(search::Term{Field{FieldKind::kCommon, "id"}, std::string(t.param("id"))});
  }
  if (querytype == "ids") {
    std::vector<search::Query> ids;
    for (auto& id : t.params_named("ids"))
      ids.push_back(search::Term{Field{FieldKind::kCommon, "id"}, id});
    if (ids.empty()) return missing("ids", querytype);
    return any_of(std::move(ids), Occur::kShould);
  }
  if (querytype == "prefix") {
    auto field = field_param(t, "field", querytype);
    if (!field) return field.error();
    return search::Query(search::Prefix{*field, std::string(t.param("prefix"))});
  }
  if (querytype == "wildcard") {
    auto field = field_param(t, "field", querytype);
    if (!field) return field.error();
    return search::Query(search::Wildcard{*field, std::string(t.param("q", "*"))});
  }
  if (querytype == "tagged") {
    std::vector<search::Query> tags;
    for (auto& tag : t.params_named("tags"))
      tags.push_back(search::Term{Field{FieldKind::kCommon, "tags"}, tag});
    if (tags.empty()) return missing("tags", querytype);
    return any_of(std::move(tags), Occur::kMust);
  }
  if (querytype == "in") {
    auto field = field_param(t, "field", querytype);
    if (!field) return field.error();
    std::vector<search::Query> values;
    for (auto& v : t.params_named("terms"))
      values.push_back(search::Term{*field, v});
    if (values.empty()) return missing("terms", querytype);
    return any_of(std::move(values), Occur::kShould);
  }
  if (querytype == "terms") return terms_query(t);
  if (querytype == "nested") {
    auto field = field_param(t, "field", querytype);
    if (!field) return field.error();
    auto q = parse_q(t.param("q", "*"), request_line);
    if (!q) return q;
    nest(*q, field->name);
    return q;
  }
  if (querytype == "similar") {
    if (auto id = t.param("filterid"); !id.empty()) request.exclude_ids.emplace_back(id);
    return similar_words(t.param("like"));
  }
  if (querytype == "nearby") {
    std::string_view latlng = t.param("latlng");
    auto comma = latlng.find(',');
    if (comma == std::string_view::npos) {
      return invalid_input("Parameter 'latlng' must be \"lat,lng\".");
    }
    auto lat = number_param(latlng.substr(0, comma), "latlng");
    auto lng = number_param(latlng.substr(comma + 1), "latlng");
    auto radius = number_param(t.param("radius", "10"), "radius");
    if (!lat || !lng || std::abs(*lat) > 90 || std::abs(*lng) > 180) {
      return invalid_input("Parameter 'latlng' must be \"lat,lng\" in degrees.");
    }
    if (!radius || *radius <= 0)
      return invalid_input("Parameter 'radius' must be a positive number (km).");
    request.near = GeoFilter{*lat, *lng, *radius};
    return parse_q(t.param("q", "*"), request_line);
  }
  if (querytype == "count") request.count_only = true;
  return parse_q(t.param("q", "*"), request_line);
}

}  // namespace

Result<SearchParams> build_search(std::string_view querytype, const ParsedTarget& target,
                                  const Config& config, std::string_view request_line) {
  SearchParams params;
  SearchRequest& r = params.request;
  auto query = query_for(querytype, target, r, request_line);
  if (!query) return query.error();
  r.query = std::move(*query);
  auto limit = int_param(target, "limit", config.max_items_per_page);
  if (!limit) return limit.error();
  auto page = int_param(target, "page", 0);
  if (!page) return page.error();
  r.limit = std::clamp<std::int64_t>(*limit, 1, config.max_page_limit);
  params.page = *page > config.max_pages ? 0 : *page;  // Para: beyond max_pages is the first page
  r.offset = params.page > 1 ? (params.page - 1) * r.limit : 0;
  r.sort_field = std::string(target.param("sort"));
  // Para: Boolean.parseBoolean, so only "true" (any case) is descending.
  r.descending = iequals(target.param("desc", "true"), "true");
  r.after = std::string(target.param("lastKey"));
  if (!r.after.empty() && params.page > 1) r.after.clear();  // Para: a cursor only from page 1
  return params;
}

}  // namespace para
