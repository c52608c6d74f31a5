// The query string `q` of Para's search API: the part of Lucene's classic
// query syntax that Para users write, parsed into a small AST.
//
// The parser is pure (no I/O). The AST carries values, never SQL: the store
// translates it to parameterised SQL, so user text only ever reaches a
// database as a bound parameter.
//
// Supported syntax (Lucene's, unless noted):
//   *  *:*  or a blank q          match all
//   word                          full-text term (Term with a kText field)
//   field:word                    a common field (id, type, name, tags, ...) or
//   properties.x:word  x:word     a custom field; both spellings give Field{kCustom, "x"}
//   "a b"  field:"a b"            phrase
//   nam*  name:Tom*               prefix (one unescaped '*', at the end)
//   t?m  n*e  *son                wildcard ('*' any run, '?' one character)
//   name:*                        Prefix with an empty prefix: the field has a value
//   field:[a TO b]  {a TO b}      ranges, inclusive '[' ']' / exclusive '{' '}',
//   field:[a TO *}                mixable; an unquoted '*' is an open end
//   field:(a OR b)                field grouping: the field applies inside the group
//                                 unless a clause names its own (`name:(a type:b)`)
//   *:word                        full text, like a bare word
//   a AND b  a && b               conjunction
//   a OR b   a || b   a b         disjunction; adjacency is an implicit OR
//   NOT a  !a  -a                 prohibited clause (MUST_NOT)
//   +a                            required clause (MUST)
//   ( ... )                       grouping
//   \x                            any character x taken literally (`\:` `\(` `\*`)
//   a^2  a~  a~1  "a b"~3         boost, fuzzy and proximity: accepted and ignored,
//                                 because the store does not score; a fuzzy term is
//                                 matched exactly and a proximity phrase as a phrase
//
// Precedence: NOT (and the '-', '+' and '!' prefixes) binds tightest, then AND,
// then OR, so `a OR b AND NOT c` is `a OR (b AND (NOT c))`. Each OR level and
// each AND level becomes one Boolean, the way Lucene builds a BooleanQuery:
//   a OR b        (a b)          a AND b       (+a +b)
//   a -b +c       (a -b +c)      a AND NOT b   (+a -b)
//   a OR NOT b    (a -b)         (Lucene: NOT is MUST_NOT in the enclosing
//                                 Boolean, not a complement; so this means
//                                 "a but not b", exactly as in Lucene)
// A clause takes at most one prefix: `NOT -a` and `--a` are syntax errors.
// Operators are case-sensitive whole words: `and`, `ANDROID`, `a&&b`, `\AND`
// and a word followed by ':' (`NOT:x`, a field name) are terms.
//
// Differences from Lucene, chosen for a store without an analyser or scoring:
//   - A purely negative Boolean (`-a`, `NOT a AND NOT b`) gets an explicit
//     `+*` clause and so matches everything except the prohibited clauses (as
//     Elasticsearch and Solr do; bare Lucene would match nothing).
//   - Directly after `field:`, a leading '-' or '+' is part of the value
//     (`votes:-1`); Lucene rejects it.
//   - Ranges need a field (directly or from a field group) and the word TO.
//   - Regular expressions (`/re/`) are not supported: an unescaped '/' is an
//     error. `\uXXXX` escapes are not decoded (`\u` is a literal 'u').
//   - Leading wildcards (`*son`) are accepted.
//   - Empty phrases (`""`) are rejected.
//   - Field names are ASCII letters, digits, '_', '-', '.' and non-ASCII
//     characters but U+3000 (a space), not starting with '-' or '.', with no empty
//     '.'-separated part. The store may treat '.' in a custom name as a path
//     into nested property objects.
//   - Text is bytes of UTF-8: invalid UTF-8 and control characters other than
//     whitespace are rejected.
//
// Values are kept verbatim (case and all): the parser does not tokenise or
// fold case. A Term's text may hold several words (`foo-bar`, `a\ b`); the
// store's full-text tokeniser decides. Whether a field compares exactly,
// case-insensitively or numerically (timestamp, votes) is the store's choice.
//
// Limits, so that hostile input costs little: at most kMaxQueryBytes bytes,
// kMaxClauses leaf clauses and kMaxDepth nested parentheses. The parser and
// the functions below never throw (short of std::bad_alloc) and never recurse
// deeper than the AST, whose depth the parser bounds (at most 2 * (kMaxDepth + 1)
// nested Booleans).
//
// Thread-safety: plain value types; functions are pure.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.h"

namespace para::search {

inline constexpr std::size_t kMaxQueryBytes = 4096;
inline constexpr std::size_t kMaxClauses = 256;  // leaf queries (terms, phrases, ranges, ...)
inline constexpr std::size_t kMaxDepth = 32;     // nested parentheses

enum class FieldKind {
  kText,    // no field: full text over the object's text fields; name is empty
  kCommon,  // a column every object has (core/types.h is_common_field)
  kCustom,  // anything else: a user property or a declared field of a core type
};

struct Field {
  FieldKind kind = FieldKind::kText;
  std::string name;  // without any "properties." prefix

  bool operator==(const Field&) const = default;
};

// Matches every object (of the app and type the request selects).
struct MatchAll {
  bool operator==(const MatchAll&) const = default;
};

// The field holds the word (kText: the object's text contains the word).
struct Term {
  Field field;
  std::string text;

  bool operator==(const Term&) const = default;
};

// The field holds the words of `text` in order.
struct Phrase {
  Field field;
  std::string text;

  bool operator==(const Phrase&) const = default;
};

// The field holds a word starting with `prefix`; an empty prefix means the
// field has any value.
struct Prefix {
  Field field;
  std::string prefix;

  bool operator==(const Prefix&) const = default;
};

// The field holds a word matching `pattern`: '*' matches any run of
// characters, '?' one character, and '\' makes the next character ('*', '?'
// or '\') literal. No other character is escaped.
struct Wildcard {
  Field field;
  std::string pattern;

  bool operator==(const Wildcard&) const = default;
};

// lower <= value <= upper, each end inclusive or exclusive; nullopt is open.
struct Range {
  Field field;
  std::optional<std::string> lower;
  std::optional<std::string> upper;
  bool include_lower = true;
  bool include_upper = true;

  bool operator==(const Range&) const = default;
};

enum class Occur {
  kMust,     // '+', AND: the clause must match
  kShould,   // OR, adjacency: see Boolean
  kMustNot,  // '-', NOT, '!': the clause must not match
};

struct Clause;

// Lucene's BooleanQuery: an object matches when it matches every kMust
// clause, no kMustNot clause, and, if there is no kMust clause, at least one
// kShould clause. The parser never produces a Boolean without a kMust or a
// kShould clause, nor one with a single kMust or kShould clause and nothing else.
struct Boolean {
  std::vector<Clause> clauses;

  bool operator==(const Boolean&) const = default;
};

using Query = std::variant<MatchAll, Term, Phrase, Prefix, Wildcard, Range, Boolean>;

struct Clause {
  Occur occur = Occur::kShould;
  Query query;

  bool operator==(const Clause&) const = default;
};

// Parses a query string. A blank `q` gives MatchAll.
// Returns kInvalidInput on any syntax error or exceeded limit, with a message
// "<what is wrong> at position <N>." where N is the 0-based byte offset of
// the offending character: the unclosed '(', '"', '[' or '{', the operator
// without an operand, or q.size() for a value missing at the end. Among them:
// unbalanced '(' ')' '"' '[' '{', an operator without an operand (`a AND`,
// `OR b`), an empty field name (`:x`), a field without a value (`name:`), an
// invalid field name, a range without a field, an empty group or phrase, a
// dangling '\', invalid UTF-8, a control character, nesting deeper than
// kMaxDepth, more than kMaxClauses clauses, a q longer than kMaxQueryBytes.
Result<Query> parse_query(std::string_view q);

// Canonical Lucene-syntax form of `query`, for tests and logs. Booleans are
// parenthesised with '+' for kMust and '-' for kMustNot; custom fields are
// spelled "properties.x"; special characters are escaped. For a parsed query,
// parse_query(to_string(q)) gives back q, unless the printout (longer: more
// escapes and parentheses) runs into one of the limits.
std::string to_string(const Query& query);

// The distinct fields `query` references, in order of first appearance.
// Full-text clauses appear as a single Field with kind kText. MatchAll
// references nothing.
std::vector<Field> referenced_fields(const Query& query);

}  // namespace para::search
