// Translation of a search request into SQLite SQL over the `objects` table
// (alias `o`), its full-text index `objects_fts`, its tag index `object_tags`,
// its property index `object_props` and its name-prefix index
// `object_name_prefixes`. Private to the store: the SQL dialect stays in this
// folder.
//
// User text never becomes SQL: every value is a bound parameter, and field
// names (already restricted by the query parser to letters, digits, '_', '-',
// '.' and non-ASCII) only ever appear inside bound JSON-path parameters.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.h"
#include "search/query.h"

namespace para::sqlite {

using SqlValue = std::variant<std::int64_t, double, std::string>;

// A SQL fragment with `?` placeholders and their values, in order.
struct SqlFragment {
  std::string sql;
  std::vector<SqlValue> params;

  void append(const SqlFragment& other);
};

// A boolean SQL expression true for the objects of app `appid` (and of
// `type`, unless empty) that `query` matches. The caller also restricts
// o.appid and o.type; inside, they narrow the tag and property lookups.
SqlFragment where_clause(const search::Query& query, std::string_view appid,
                         std::string_view type = {});

// The rows of one index table (alias `p`) that hold the matches of a query
// made of one leaf that table indexes: a tag, one condition on a custom
// field, or a short name prefix. Each row carries the object's rowid `p.obj` and its `p.appid`,
// `p.type`, `p.timestamp` and `p.id`, so counting the matches or finding a
// page of them in timestamp order needs no access to the objects.
struct Postings {
  std::string table;  // object_tags, object_props or object_name_prefixes
  SqlFragment where;  // on alias p; the app and the type included
  bool may_repeat;    // one object can match through several rows
  // A table with the columns `where` uses and `n`, the number of postings
  // with those values, so that sum(n) counts the matches; empty: none.
  std::string counts_table;
};

// The postings of `query` in app `appid` (and `type`, unless empty), or
// nullopt when no single index table answers the query.
std::optional<Postings> postings(const search::Query& query, std::string_view appid,
                                 std::string_view type = {});

// Both of the above from one translation.
struct Translation {
  SqlFragment where;
  std::optional<Postings> postings;
  // The FTS5 query for objects_fts (scope included) when the whole query is
  // words in the text (terms, phrases, word prefixes, combined by AND, OR
  // and NOT), which FTS5 then answers alone; else nullopt.
  std::optional<std::string> text_only;
};
Translation translate(const search::Query& query, std::string_view appid,
                      std::string_view type = {});

// The key under which object_props indexes a leaf of an object's storage
// JSON, from json_tree's fullkey: "$.properties.a.b[2]" -> "a.b"; a declared,
// non-hidden field of the core type `type` keeps its name ("$.deviceState.t"
// -> "deviceState.t"); nullopt for everything else (common fields, hidden
// fields). Registered as the SQL function para_prop_key(type, fullkey).
std::optional<std::string> property_key(std::string_view type, std::string_view fullkey);

// The exclusive upper end of the strings that start with `prefix`, under
// the BINARY collation or (not case_sensitive) NOCASE: `prefix` <= s < the
// result exactly when s starts with `prefix`. nullopt when no such string
// exists (the last byte is 0xFF, or '@' under NOCASE).
std::optional<std::string> prefix_upper_bound(std::string_view prefix, bool case_sensitive);

// Names are also indexed by their first 1 to kIndexedNamePrefix characters
// (code points, counted as starts of UTF-8 sequences), folded as the name
// column's NOCASE collation folds (ASCII letters only): object_name_prefixes,
// with counts per app, prefix and type beside it. A prefix search of up to
// that many characters then reads its page and its total like a tag search,
// instead of visiting every name that starts with the prefix (Elasticsearch's
// index_prefixes does the same, for 2 to 5 characters). Why 3: the shortest
// prefixes match the most names, and each further character divides them;
// every indexed length costs each new or renamed object one more row in a
// random place of the index (on 100k objects, 16 writers and an fsync per
// commit: POST throughput -20% with 3, -29% with 5). Stored in databases:
// changing it takes a migration that rebuilds the index.
constexpr int kIndexedNamePrefix = 3;

// The first `chars` characters of `name`, folded, or nullopt if `name` has
// fewer characters than that. Registered as para_name_prefix(name, chars).
std::optional<std::string> name_prefix(std::string_view name, int chars);

// The key under which object_name_prefixes holds the names that start with
// `prefix` (in NOCASE terms), or nullopt if `prefix` is empty or longer than
// kIndexedNamePrefix characters.
std::optional<std::string> indexed_name_prefix(std::string_view prefix);

// Whether sorting by `field` (empty: timestamp) sorts by an integer column
// that is never NULL (timestamp, updated, version).
bool sorts_by_integer_column(std::string_view field);

// The expression to sort by for `field` (empty: timestamp).
// kInvalidInput for a field that cannot be sorted on (a hidden field).
Result<SqlFragment> sort_expression(std::string_view field);

// FTS5 query text matching the words of `text` as a phrase, or (prefix) a
// phrase whose last word is a prefix. Every word is quoted, so FTS5 syntax in
// user text is inert.
std::string fts_phrase(std::string_view text, bool prefix = false);

// The full-text index (objects_fts) has two columns: `text`, the words of an
// object, and `scope`, two words naming its app and its app and type. A
// search matches its words in `text` and its scope in `scope`, so FTS5
// returns only the app's (and type's) matches; user words never reach
// `scope`. The words are hashes: stored in databases, never change them.
// Registered as the SQL function para_fts_scope(appid, type).
std::string fts_scope(std::string_view appid, std::string_view type);

// The FTS5 query for `phrase` (from fts_phrase; empty: every object) in app
// `appid` and, unless empty, type `type`.
std::string scoped_fts_query(std::string_view appid, std::string_view type,
                             std::string_view phrase);

// The words para_text() indexes for an object, from its storage JSON: name,
// tags, and every string and number inside properties and the declared
// fields that are not hidden. Registered as the SQL function para_text().
std::string indexed_text(std::string_view storage_json);

struct LatLng {
  double lat;
  double lng;
};

// A "lat,lng" pair in degrees (spaces allowed around each number), or
// nullopt if it is not one: two finite numbers, |lat| <= 90, |lng| <= 180.
std::optional<LatLng> parse_latlng(std::string_view latlng);

// Great-circle distance in km between two points (haversine, mean Earth
// radius). Registered as para_distance_km(lat1, lng1, lat2, lng2).
double distance_km(LatLng a, LatLng b);

// The places index keeps positions as integers of 1e-7 degree (about 1 cm,
// like Lucene's LatLonPoint), and an object's app and type as 30-bit keys
// beside them (stored as [key, key + 1], which must fit the tree's 32-bit
// integers), so one R*Tree lookup narrows by place, app and type at once.
// Stored in databases: never change either mapping.
constexpr double kPlaceUnitsPerDegree = 1e7;
std::int64_t place_units(double degrees);       // rounded to the nearest unit
std::int64_t place_key(std::string_view text);  // FNV-1a, low 30 bits

// A latitude/longitude rectangle in degrees, min <= max on both axes.
struct GeoBox {
  double min_lat;
  double max_lat;
  double min_lng;
  double max_lng;
};

// Rectangles that together hold every point within `radius_km` of (lat, lng)
// on the sphere distance_km() measures: one, or two where the circle
// crosses the antimeridian; every longitude where it reaches a pole. They
// may hold farther points too (corners): distance_km() decides.
std::vector<GeoBox> bounding_boxes(double lat, double lng, double radius_km);

}  // namespace para::sqlite
