#include "store/sqlite_query.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>

#include "core/json.h"
#include "core/text.h"
#include "core/types.h"

namespace para::sqlite {
namespace {

using search::Field;
using search::FieldKind;

// A value of a field, as SQL sees it: one column, or the values at a JSON
// path (json_each yields the scalar itself, or each element of an array).
using Condition = std::function<SqlFragment(std::string_view value_sql)>;

struct Column {
  const char* name;
  const char* sql;
  bool case_sensitive;
  bool integer;  // else text; never NULL either way ('' for an unset text)
};

constexpr Column kColumns[] = {
    {"id", "o.id", true, false},
    {"type", "o.type", true, false},
    {"parentid", "o.parentid", true, false},
    {"creatorid", "o.creatorid", true, false},
    {"appid", "o.appid", true, false},
    {"name", "o.name", false, false},
    {"timestamp", "o.timestamp", true, true},
    {"updated", "o.updated", true, true},
    {"version", "o.version", true, true},
};

const Column* find_column(std::string_view name) {
  for (const auto& c : kColumns) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

bool is_hidden_field(std::string_view name) {
  for (const auto& type : core_types()) {
    if (const DeclaredField* f = type.find(name); f && f->hidden) return true;
  }
  return false;
}

std::string json_path(std::string_view prefix, std::string_view dotted) {
  std::string path(prefix);
  for (const auto& segment : split_trimmed(dotted, '.'))
    path += ".\"" + segment + "\"";
  return path;
}

bool case_sensitive(const Field& field) {
  const Column* c = field.kind == FieldKind::kCommon ? find_column(field.name) : nullptr;
  return c && c->case_sensitive;
}

std::optional<SqlValue> as_number(std::string_view text) {
  std::int64_t i = 0;
  if (auto [p, e] = std::from_chars(text.data(), text.data() + text.size(), i);
      e == std::errc() && p == text.data() + text.size()) {
    return SqlValue(i);
  }
  double d = 0;
  if (auto [p, e] = std::from_chars(text.data(), text.data() + text.size(), d);
      e == std::errc() && p == text.data() + text.size() && std::isfinite(d)) {
    return SqlValue(d);
  }
  return std::nullopt;
}

std::string like_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string glob_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[') {
      out += std::string("[") + c + "]";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Lucene wildcard -> LIKE (case-insensitive) or GLOB (case-sensitive) pattern.
std::string wildcard_pattern(std::string_view pattern, bool glob) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      std::string_view literal = pattern.substr(++i, 1);
      out += glob ? glob_escape(literal) : like_escape(literal);
    } else if (c == '*') {
      out.push_back(glob ? '*' : '%');
    } else if (c == '?') {
      out.push_back(glob ? '?' : '_');
    } else {
      std::string_view literal(&pattern[i], 1);
      out += glob ? glob_escape(literal) : like_escape(literal);
    }
  }
  return out;
}

SqlFragment join(const std::vector<SqlFragment>& parts, std::string_view op) {
  SqlFragment out{"(", {}};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out.sql += op;
    out.append(parts[i]);
  }
  out.sql += ")";
  return out;
}

// A translated query: the condition on `o`, and for a leaf that one index
// table answers, those postings.
struct Match {
  SqlFragment sql;
  std::optional<Postings> postings;
};

Match plain(SqlFragment sql) {
  return {std::move(sql), std::nullopt};
}

// Turns one query into SQL for one app (and one type, if given). Fields map
// to where their values are: a column, a fixed JSON path (votes, stored...),
// the tag index, or the property index (every custom field and declared
// field of a core type). Tag and property conditions also carry the app and
// the type, so their index alone narrows the matches.
class Translator {
 public:
  // `alias` names the index table in the postings' conditions. Unscoped
  // postings leave out the app and the type: for checks of rows of an
  // object already found, through the (obj, ...) indexes alone.
  Translator(std::string_view appid, std::string_view type, std::string alias = "p",
             bool scoped = true)
      : appid_(appid), type_(type), alias_(std::move(alias)), scoped_(scoped) {}

  Match translate(const search::Query& query) const {
    return std::visit([this](const auto& q) { return leaf(q); }, query);
  }

 private:
  // `alias_` + "." + column.
  std::string col(std::string_view column) const { return alias_ + "." + std::string(column); }

  // Objects whose words match `phrase` (fts_phrase syntax), in this app and type.
  Match full_text(std::string_view phrase) const {
    return plain({"o.rowid IN (SELECT rowid FROM objects_fts WHERE objects_fts MATCH ?)",
                  {scoped_fts_query(appid_, type_, phrase)}});
  }

  Match from_postings(Postings p) const {
    SqlFragment sql{
        "o.rowid IN (SELECT " + col("obj") + " FROM " + p.table + " " + alias_ + " WHERE ", {}};
    sql.append(p.where);
    sql.sql += ")";
    return {std::move(sql), std::move(p)};
  }

  Postings postings(std::string table, SqlFragment where, bool may_repeat) const {
    if (!scoped_) return {std::move(table), std::move(where), may_repeat, {}};
    SqlFragment all{col("appid") + " = ? AND ", {std::string(appid_)}};
    all.append(where);
    if (!type_.empty()) {
      all.sql += " AND " + col("type") + " = ?";
      all.params.emplace_back(std::string(type_));
    }
    return {std::move(table), std::move(all), may_repeat, {}};
  }

  // The names that start with `prefix`, from the name-prefix index, if it
  // holds prefixes of that length.
  std::optional<Postings> name_prefix_postings(std::string_view prefix) const {
    auto key = indexed_name_prefix(prefix);
    if (!key) return std::nullopt;
    Postings named = postings("object_name_prefixes", {col("prefix") + " = ?", {*key}}, false);
    named.counts_table = "object_name_prefix_counts";
    return named;
  }

  // Applies `cond` to every value of `field`. `single` says that one object
  // can match `cond` through at most one of its indexed values.
  Match on_field(const Field& field, const Condition& cond, bool single = false) const {
    if (field.kind == FieldKind::kCommon) {
      if (const Column* c = find_column(field.name)) return plain(cond(c->sql));
      SqlFragment inner = cond("j.value");
      SqlFragment out{"EXISTS (SELECT 1 FROM json_each(o.json, ?) j WHERE " + inner.sql + ")",
                      {json_path("$", field.name)}};
      out.params.insert(out.params.end(), inner.params.begin(), inner.params.end());
      return plain(std::move(out));
    }
    SqlFragment where{col("key") + " = ? AND ", {field.name}};
    where.append(cond(col("value")));
    return from_postings(postings("object_props", std::move(where), !single));
  }

  Match equals(const Field& field, const std::string& text) const {
    if (field.kind == FieldKind::kCommon && field.name == "tags") {
      // Tags are stored once per object (case-sensitive): no repeats.
      Postings tagged = postings("object_tags", {col("tag") + " = ?", {text}}, false);
      tagged.counts_table = "object_tag_counts";
      return from_postings(std::move(tagged));
    }
    // Columns have one type each: compare as that type only, so the
    // comparison can use an index.
    if (const Column* c = field.kind == FieldKind::kCommon ? find_column(field.name) : nullptr) {
      if (!c->integer) {
        return plain(
            {std::string(c->sql) + (c->case_sensitive ? " = ?" : " = ? COLLATE NOCASE"), {text}});
      }
      auto number = as_number(text);
      if (!number) return plain({"0", {}});
      return plain({std::string(c->sql) + " = ?", {*number}});
    }
    auto number = as_number(text);
    // Property values are stored once per object up to case, so a text
    // value matches one row at most; a number matches its text twin too.
    return on_field(
        field,
        [&](std::string_view v) {
          std::string value(v);
          if (number) return SqlFragment{value + " IN (?, ?)", {text, *number}};
          SqlFragment f{value + " = ?", {text}};
          // json_each gives JSON booleans as 1/0 of type 'true'/'false'.
          if (v == "j.value" && (text == "true" || text == "false")) {
            f.sql = "(" + f.sql + " OR j.type = '" + text + "')";
          }
          return f;
        },
        !number);
  }

  Match leaf(const search::Term& t) const {
    if (t.field.kind == FieldKind::kText) return full_text(fts_phrase(t.text));
    return equals(t.field, t.text);
  }

  Match leaf(const search::Phrase& p) const {
    if (p.field.kind == FieldKind::kText) return full_text(fts_phrase(p.text));
    return equals(p.field, p.text);
  }

  Match leaf(const search::Prefix& p) const {
    if (p.field.kind == FieldKind::kText) {
      if (p.prefix.empty()) return plain({"1", {}});
      return full_text(fts_phrase(p.prefix, true));
    }
    if (p.prefix.empty()) {
      return on_field(p.field, [](std::string_view v) {
        return SqlFragment{std::string(v) + " IS NOT NULL AND " + std::string(v) + " <> ''", {}};
      });
    }
    Match match = prefix_condition(p);
    if (p.field.kind == FieldKind::kCommon && p.field.name == "name")
      match.postings = name_prefix_postings(p.prefix);
    return match;
  }

  // The objects whose `field` starts with the non-empty `prefix`.
  Match prefix_condition(const search::Prefix& p) const {
    if (const Column* c = p.field.kind == FieldKind::kCommon ? find_column(p.field.name) : nullptr;
        c && !c->integer) {
      // A range rather than LIKE: a LIKE pattern in a parameter makes SQLite
      // plan the statement again for every new value.
      if (auto upper = prefix_upper_bound(p.prefix, c->case_sensitive)) {
        std::string column(c->sql);
        return plain({column + " >= ? AND " + column + " < ?", {p.prefix, std::move(*upper)}});
      }
    }
    const bool glob = case_sensitive(p.field);
    std::string pattern = glob ? glob_escape(p.prefix) + "*" : like_escape(p.prefix) + "%";
    return on_field(p.field, [&](std::string_view v) {
      return SqlFragment{std::string(v) + (glob ? " GLOB ?" : " LIKE ? ESCAPE '\\'"), {pattern}};
    });
  }

  Match leaf(const search::Wildcard& w) const {
    if (w.field.kind == FieldKind::kText) {
      // No word-level wildcard in FTS5: match the pattern anywhere in the
      // text of the app's (and type's) objects.
      return plain(
          {"o.rowid IN (SELECT rowid FROM objects_fts WHERE objects_fts MATCH ? AND "
           "text LIKE ? ESCAPE '\\')",
           {scoped_fts_query(appid_, type_, ""), "%" + wildcard_pattern(w.pattern, false) + "%"}});
    }
    const bool glob = case_sensitive(w.field);
    std::string pattern = wildcard_pattern(w.pattern, glob);
    return on_field(w.field, [&](std::string_view v) {
      return SqlFragment{std::string(v) + (glob ? " GLOB ?" : " LIKE ? ESCAPE '\\'"), {pattern}};
    });
  }

  Match leaf(const search::Range& r) const {
    // Numeric when every given bound is a number (timestamps, votes, prices);
    // otherwise text (ISO dates, names).
    std::optional<SqlValue> lo = r.lower ? as_number(*r.lower) : std::nullopt;
    std::optional<SqlValue> hi = r.upper ? as_number(*r.upper) : std::nullopt;
    const bool numeric = (!r.lower || lo) && (!r.upper || hi) && (r.lower || r.upper);
    return on_field(r.field, [&](std::string_view v) {
      std::string value(v);
      // [* TO *]: every object that has the field, whatever its type.
      if (!r.lower && !r.upper) return SqlFragment{value + " IS NOT NULL", {}};
      SqlFragment f{numeric ? "typeof(" + value + ") IN ('integer','real')"
                            : "typeof(" + value + ") = 'text'",
                    {}};
      if (r.lower) {
        f.sql += " AND " + value + (r.include_lower ? " >= ?" : " > ?");
        f.params.push_back(numeric ? *lo : SqlValue(*r.lower));
      }
      if (r.upper) {
        f.sql += " AND " + value + (r.include_upper ? " <= ?" : " < ?");
        f.params.push_back(numeric ? *hi : SqlValue(*r.upper));
      }
      return f;
    });
  }

  Match leaf(const search::MatchAll&) const { return plain({"1", {}}); }

  Match leaf(const search::Boolean& b) const {
    std::vector<SqlFragment> must, should, must_not;
    std::vector<std::pair<search::Occur, Match>> translated;
    for (const auto& clause : b.clauses) {
      translated.emplace_back(clause.occur, translate(clause.query));
      SqlFragment f = translated.back().second.sql;
      switch (clause.occur) {
        case search::Occur::kMust:
          must.push_back(std::move(f));
          break;
        case search::Occur::kShould:
          should.push_back(std::move(f));
          break;
        case search::Occur::kMustNot:
          must_not.push_back(std::move(f));
          break;
      }
    }
    // Lucene: with a required clause, optional clauses only score; we do not score.
    std::vector<SqlFragment> all = std::move(must);
    if (all.empty() && !should.empty()) all.push_back(join(should, " OR "));
    for (auto& f : must_not) {
      f.sql = "NOT (" + f.sql + ")";  // a leaf can be several terms (a range)
      all.push_back(std::move(f));
    }
    if (all.empty()) return plain({"1", {}});
    return {join(all, " AND "), conjunction_postings(b, translated)};
  }

  // A conjunction whose required and prohibited clauses are all answered by
  // postings: the first required clause that matches an object through one
  // row at most (else the first) drives, and the others are checked per
  // driving row through the rows of its object (object_*_by_obj).
  std::optional<Postings> conjunction_postings(
      const search::Boolean& b, const std::vector<std::pair<search::Occur, Match>>& clauses) const {
    std::optional<std::size_t> driver;
    for (std::size_t i = 0; i < clauses.size(); ++i) {
      const auto& [occur, match] = clauses[i];
      if (occur == search::Occur::kShould) continue;
      if (!match.postings) return std::nullopt;
      if (occur != search::Occur::kMust) continue;
      if (!driver || (clauses[*driver].second.postings->may_repeat && !match.postings->may_repeat))
        driver = i;
    }
    if (!driver) return std::nullopt;
    Postings out = *clauses[*driver].second.postings;
    out.counts_table.clear();  // the counts are of the driver alone
    const Translator other(appid_, type_, alias_ + "q", false);
    for (std::size_t i = 0; i < clauses.size(); ++i) {
      if (i == *driver || clauses[i].first == search::Occur::kShould) continue;
      Postings check = *other.translate(b.clauses[i].query).postings;
      out.where.sql += clauses[i].first == search::Occur::kMustNot ? " AND NOT " : " AND ";
      out.where.sql += "EXISTS (SELECT 1 FROM " + check.table + " " + other.alias_ + " WHERE " +
                       other.col("obj") + " = " + col("obj") + " AND ";
      out.where.append(check.where);
      out.where.sql += ")";
    }
    return out;
  }

  std::string_view appid_;
  std::string_view type_;
  std::string alias_;
  bool scoped_;
};

void collect_text(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::string:
      out.append(v.get_string().data(), v.get_string().size());
      out.push_back('\n');
      break;
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      append_json(out, v);
      out.push_back('\n');
      break;
    case json::kind::array:
      for (const auto& item : v.get_array())
        collect_text(item, out);
      break;
    case json::kind::object:
      for (const auto& [k, item] : v.get_object())
        collect_text(item, out);
      break;
    default:
      break;
  }
}

}  // namespace

void SqlFragment::append(const SqlFragment& other) {
  sql += other.sql;
  params.insert(params.end(), other.params.begin(), other.params.end());
}

namespace {

// `query` as an FTS5 expression over the words of the text, if it is one.
std::optional<std::string> fts_expression(const search::Query& query) {
  using search::FieldKind;
  if (const auto* t = std::get_if<search::Term>(&query); t && t->field.kind == FieldKind::kText)
    return fts_phrase(t->text);
  if (const auto* p = std::get_if<search::Phrase>(&query); p && p->field.kind == FieldKind::kText)
    return fts_phrase(p->text);
  if (const auto* p = std::get_if<search::Prefix>(&query);
      p && p->field.kind == FieldKind::kText && !p->prefix.empty())
    return fts_phrase(p->prefix, true);
  const auto* b = std::get_if<search::Boolean>(&query);
  if (!b) return std::nullopt;
  std::vector<std::string> must, should, must_not;
  for (const auto& clause : b->clauses) {
    auto e = fts_expression(clause.query);
    if (!e) return std::nullopt;
    auto& list = clause.occur == search::Occur::kMust     ? must
                 : clause.occur == search::Occur::kShould ? should
                                                          : must_not;
    list.push_back("(" + *e + ")");
  }
  // As the SQL translation: with a required clause, optional ones only score.
  auto joined = [](const std::vector<std::string>& parts, std::string_view op) {
    std::string out;
    for (const auto& part : parts)
      out += (out.empty() ? "" : std::string(op)) + part;
    return out;
  };
  std::string positive = !must.empty() ? joined(must, " AND ") : joined(should, " OR ");
  if (positive.empty()) return std::nullopt;  // FTS5 has no NOT without a left side
  for (const auto& part : must_not)
    positive = "(" + positive + ") NOT " + part;
  return positive;
}

}  // namespace

Translation translate(const search::Query& query, std::string_view appid, std::string_view type) {
  Match match = Translator(appid, type).translate(query);
  Translation t{std::move(match.sql), std::move(match.postings), std::nullopt};
  if (auto e = fts_expression(query)) t.text_only = scoped_fts_query(appid, type, "(" + *e + ")");
  return t;
}

SqlFragment where_clause(const search::Query& query, std::string_view appid,
                         std::string_view type) {
  return translate(query, appid, type).where;
}

std::optional<Postings> postings(const search::Query& query, std::string_view appid,
                                 std::string_view type) {
  return translate(query, appid, type).postings;
}

std::optional<std::string> property_key(std::string_view type, std::string_view fullkey) {
  // fullkey: $.a.b[0]."c d" -> segments a, b, c d (array indices dropped).
  if (!fullkey.starts_with("$")) return std::nullopt;
  std::vector<std::string> segments;
  std::size_t i = 1;
  while (i < fullkey.size()) {
    if (fullkey[i] == '[') {
      i = fullkey.find(']', i);
      if (i == std::string_view::npos) return std::nullopt;
      ++i;
    } else if (fullkey[i] == '.') {
      ++i;
      std::string segment;
      if (i < fullkey.size() && fullkey[i] == '"') {
        auto end = fullkey.find('"', i + 1);
        if (end == std::string_view::npos) return std::nullopt;
        segment = fullkey.substr(i + 1, end - i - 1);
        i = end + 1;
      } else {
        auto end = fullkey.find_first_of(".[", i);
        segment = fullkey.substr(i, end == std::string_view::npos ? end : end - i);
        i = end == std::string_view::npos ? fullkey.size() : end;
      }
      segments.push_back(std::move(segment));
    } else {
      return std::nullopt;
    }
  }
  if (segments.empty()) return std::nullopt;
  std::size_t from = 0;
  if (segments.front() == "properties") {
    from = 1;
  } else {
    // A declared, visible field of the core type (a Thing's deviceState).
    const TypeSchema* schema = find_core_type(type);
    const DeclaredField* f = schema ? schema->find(segments.front()) : nullptr;
    if (!f || f->hidden) return std::nullopt;
  }
  if (from >= segments.size()) return std::nullopt;
  std::string key = segments[from];
  for (std::size_t k = from + 1; k < segments.size(); ++k)
    key += "." + segments[k];
  return key;
}

std::optional<std::string> prefix_upper_bound(std::string_view prefix, bool case_sensitive) {
  if (prefix.empty()) return std::nullopt;
  std::string upper(prefix);
  auto last = static_cast<unsigned char>(upper.back());
  // NOCASE folds A-Z to a-z before comparing: raise the folded byte, and
  // not '@', whose successor 'A' would fold to 'a' and widen the range.
  if (!case_sensitive && last >= 'A' && last <= 'Z') last = static_cast<unsigned char>(last + 32);
  if (last == 0xFF || (!case_sensitive && last == '@')) return std::nullopt;
  upper.back() = static_cast<char>(last + 1);
  return upper;
}

namespace {
// Characters as SQLite counts them in UTF-8 text: every byte that does not
// continue a multi-byte sequence starts one.
bool starts_character(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
}
}  // namespace

std::optional<std::string> name_prefix(std::string_view name, int chars) {
  if (chars <= 0) return std::nullopt;
  std::string out;
  int seen = 0;
  for (char c : name) {
    if (starts_character(c) && seen++ == chars) break;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c);
  }
  if (seen < chars) return std::nullopt;
  return out;
}

std::optional<std::string> indexed_name_prefix(std::string_view prefix) {
  const auto chars = std::count_if(prefix.begin(), prefix.end(), starts_character);
  if (chars == 0 || chars > kIndexedNamePrefix) return std::nullopt;
  return name_prefix(prefix, static_cast<int>(chars));
}

bool sorts_by_integer_column(std::string_view field) {
  const Column* c = find_column(field.empty() ? "timestamp" : field);
  return c && c->integer;
}

Result<SqlFragment> sort_expression(std::string_view field) {
  if (field.empty()) field = "timestamp";
  if (const Column* c = find_column(field)) return SqlFragment{c->sql, {}};
  if (is_common_field(field))
    return SqlFragment{"json_extract(o.json, ?)", {json_path("$", field)}};
  bool valid = !field.empty() && field.size() <= 256;
  for (char ch : field) {
    auto u = static_cast<unsigned char>(ch);
    valid = valid && (std::isalnum(u) || ch == '_' || ch == '-' || ch == '.' || u >= 0x80);
  }
  std::string name(field.starts_with("properties.") ? field.substr(11) : field);
  if (!valid || name.empty() || name.front() == '.' || name.back() == '.' ||
      name.find("..") != std::string::npos) {
    return invalid_input("Cannot sort by '" + std::string(field) + "'.");
  }
  SqlFragment custom{"json_extract(o.json, ?)", {json_path("$.\"properties\"", name)}};
  // Declared fields of core types sit at the top level; hidden ones (secrets)
  // must not sort anything, but a custom property of the same name may.
  std::string_view first = std::string_view(name).substr(0, name.find('.'));
  if (is_hidden_field(first)) return custom;
  return SqlFragment{"coalesce(" + custom.sql + ", json_extract(o.json, ?))",
                     {std::move(custom.params.front()), json_path("$", name)}};
}

std::string fts_phrase(std::string_view text, bool prefix) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out.push_back('"');  // FTS5 escapes a quote by doubling it
    out.push_back(c);
  }
  out += "\"";
  if (prefix) out += " *";
  return out;
}

namespace {
std::string fts_scope_word(char kind, std::string_view text) {
  std::uint64_t hash = 14695981039346656037ull;  // FNV-1a, 64 bits
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string word(1, kind);
  for (int shift = 60; shift >= 0; shift -= 4)
    word.push_back(kHex[(hash >> shift) & 0xF]);
  return word;
}

std::string app_and_type(std::string_view appid, std::string_view type) {
  std::string both(appid);
  both.push_back('\x1f');  // never in an app id
  both.append(type);
  return both;
}
}  // namespace

std::string fts_scope(std::string_view appid, std::string_view type) {
  return fts_scope_word('a', appid) + " " + fts_scope_word('t', app_and_type(appid, type));
}

std::string scoped_fts_query(std::string_view appid, std::string_view type,
                             std::string_view phrase) {
  std::string query = "scope : ";
  query +=
      type.empty() ? fts_scope_word('a', appid) : fts_scope_word('t', app_and_type(appid, type));
  if (!phrase.empty()) {
    query += " AND text : ";
    query += phrase;
  }
  return query;
}

std::string indexed_text(std::string_view storage_json) {
  auto parsed = parse_json(storage_json);
  if (!parsed || !parsed->is_object()) return {};
  const auto& o = parsed->get_object();
  std::string out;
  const TypeSchema* schema = nullptr;
  if (auto t = o.find("type"); t != o.end() && t->value().is_string()) {
    schema = find_core_type(t->value().get_string());
  }
  for (const auto& [key, value] : o) {
    if (key == "name" || key == "tags" || key == "properties") {
      collect_text(value, out);
    } else if (const DeclaredField* f = schema ? schema->find(key) : nullptr; f && !f->hidden) {
      collect_text(value, out);
    }
  }
  return out;
}

namespace {
constexpr double kEarthRadiusKm = 6371.0088;
constexpr double kRad = M_PI / 180.0;
}  // namespace

std::optional<LatLng> parse_latlng(std::string_view latlng) {
  auto comma = latlng.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  auto parse = [](std::string_view s, double& out) {
    s = trim(s);
    auto [p, e] = std::from_chars(s.data(), s.data() + s.size(), out);
    return e == std::errc() && p == s.data() + s.size() && std::isfinite(out);
  };
  LatLng at{};
  if (!parse(latlng.substr(0, comma), at.lat) || !parse(latlng.substr(comma + 1), at.lng))
    return std::nullopt;
  if (std::abs(at.lat) > 90 || std::abs(at.lng) > 180) return std::nullopt;
  return at;
}

double distance_km(LatLng a, LatLng b) {
  double dlat = (b.lat - a.lat) * kRad, dlng = (b.lng - a.lng) * kRad;
  double h = std::sin(dlat / 2) * std::sin(dlat / 2) + std::cos(a.lat * kRad) *
                                                           std::cos(b.lat * kRad) *
                                                           std::sin(dlng / 2) * std::sin(dlng / 2);
  return 2 * kEarthRadiusKm * std::asin(std::min(1.0, std::sqrt(h)));
}

std::int64_t place_units(double degrees) {
  return std::llround(degrees * kPlaceUnitsPerDegree);
}

std::int64_t place_key(std::string_view text) {
  std::uint32_t hash = 2166136261u;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619u;
  }
  return static_cast<std::int64_t>(hash & 0x3FFFFFFFu);
}

std::vector<GeoBox> bounding_boxes(double lat, double lng, double radius_km) {
  // A hair wider than the exact bounds, so rounding never loses a point on
  // the circle; distance_km() filters the box anyway.
  constexpr double kMarginDeg = 1e-6;
  const double angle = radius_km / kEarthRadiusKm;  // radians along the surface
  const double dlat = angle / kRad + kMarginDeg;
  GeoBox box{std::max(-90.0, lat - dlat), std::min(90.0, lat + dlat), -180, 180};
  if (lat - dlat <= -90 || lat + dlat >= 90) return {box};  // a pole inside: every longitude
  // The widest longitude span of a circle that reaches no pole (then
  // |lat| + angle < 90 degrees, so the ratio is below 1); Matuschek,
  // "Finding Points Within a Distance of a Latitude/Longitude Using
  // Bounding Coordinates".
  const double dlng = std::asin(std::sin(angle) / std::cos(lat * kRad)) / kRad + kMarginDeg;
  box.min_lng = lng - dlng;
  box.max_lng = lng + dlng;
  if (box.min_lng < -180) {
    GeoBox east = box;
    east.min_lng = box.min_lng + 360;
    east.max_lng = 180;
    box.min_lng = -180;
    return {box, east};
  }
  if (box.max_lng > 180) {
    GeoBox west = box;
    west.min_lng = -180;
    west.max_lng = box.max_lng - 360;
    box.max_lng = 180;
    return {box, west};
  }
  return {box};
}

}  // namespace para::sqlite
