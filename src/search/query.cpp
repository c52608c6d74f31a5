#include "search/query.h"

#include <algorithm>
#include <type_traits>
#include <utility>

#include "core/types.h"

namespace para::search {
namespace {

Error syntax_error(std::string_view what, std::size_t pos) {
  return invalid_input(std::string(what) + " at position " + std::to_string(pos) + ".");
}

std::string quoted(std::string_view s) {
  return "'" + std::string(s) + "'";
}

// ---------------------------------------------------------------------------
// Bytes

// Length of the whitespace character at q[i], 0 if there is none. U+3000
// (ideographic space) counts, as in Lucene, so CJK input splits naturally.
std::size_t space_length(std::string_view q, std::size_t i) {
  const auto c = static_cast<unsigned char>(q[i]);
  if (c == ' ' || (c >= '\t' && c <= '\r')) return 1;
  if (c == 0xE3 && q.substr(i, 3) == "\xE3\x80\x80") return 3;
  return 0;
}

// Length of the UTF-8 sequence starting at q[i], 0 if it is invalid (bad
// lead byte, truncated, overlong, surrogate or beyond U+10FFFF).
std::size_t utf8_length(std::string_view q, std::size_t i) {
  const auto at = [&](std::size_t k) -> unsigned {
    return i + k < q.size() ? static_cast<unsigned char>(q[i + k]) : 0u;
  };
  const unsigned c = at(0);
  const auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return at(k) >= lo && at(k) <= hi;
  };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned lo = c == 0xE0 ? 0xA0 : 0x80;
    const unsigned hi = c == 0xED ? 0x9F : 0xBF;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned lo = c == 0xF0 ? 0x90 : 0x80;
    const unsigned hi = c == 0xF4 ? 0x8F : 0xBF;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

// Rejects what no query needs and what would make values unsafe to log or
// to hand to a database as text: oversize input, invalid UTF-8, NUL and the
// other control characters.
std::optional<Error> check_bytes(std::string_view q) {
  if (q.size() > kMaxQueryBytes) {
    return syntax_error("Query longer than " + std::to_string(kMaxQueryBytes) + " bytes",
                        kMaxQueryBytes);
  }
  for (std::size_t i = 0; i < q.size();) {
    const auto c = static_cast<unsigned char>(q[i]);
    if ((c < 0x20 && space_length(q, i) == 0) || c == 0x7F) {
      return syntax_error("Control character", i);
    }
    const std::size_t len = utf8_length(q, i);
    if (len == 0) return syntax_error("Invalid UTF-8", i);
    i += len;
  }
  return std::nullopt;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Characters that end a bare term; '+' and '-' only matter at its start.
bool ends_term(char c) {
  switch (c) {
    case '(':
    case ')':
    case '[':
    case ']':
    case '{':
    case '}':
    case '"':
    case ':':
    case '^':
    case '~':
    case '!':
    case '/':
      return true;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------
// Lexer: the whole input becomes tokens up front (at most one per byte), so
// the parser never has to guess how far a phrase or a range reaches.

enum class Tok {
  kTerm,
  kPhrase,
  kRange,
  kColon,
  kLParen,
  kRParen,
  kAnd,
  kOr,
  kNot,
  kPlus,
  kMinus,
  kBoost,
  kFuzzy,
  kEnd,
};

struct Token {
  Tok kind = Tok::kEnd;
  std::size_t pos = 0;         // first byte
  std::size_t end = 0;         // one past the last byte
  std::string text;            // kTerm, kPhrase: escapes removed
  std::string pattern;         // kTerm: Wildcard syntax ('\' kept before '*', '?', '\')
  std::size_t wildcards = 0;   // kTerm: unescaped '*' and '?'
  bool trailing_star = false;  // kTerm: the last character is an unescaped '*'
  Range range;                 // kRange, without a field
};

class Lexer {
 public:
  explicit Lexer(std::string_view q) : q_(q) {}

  Result<std::vector<Token>> run() {
    std::vector<Token> tokens;
    for (;;) {
      skip_space();
      if (i_ == q_.size()) break;
      const bool after_colon = !tokens.empty() && tokens.back().kind == Tok::kColon;
      auto token = next(after_colon);
      if (!token) return token.error();
      tokens.push_back(std::move(*token));
    }
    Token end;
    end.pos = end.end = q_.size();
    tokens.push_back(std::move(end));
    return tokens;
  }

 private:
  Result<Token> next(bool after_colon) {
    const std::size_t start = i_;
    switch (q_[i_]) {
      case '(':
        return single(Tok::kLParen);
      case ')':
        return single(Tok::kRParen);
      case ':':
        return single(Tok::kColon);
      case '!':
        return single(Tok::kNot);
      case '"':
        return phrase();
      case '[':
      case '{':
        return range();
      case ']':
      case '}':
        return syntax_error("Unexpected " + quoted(q_.substr(i_, 1)), start);
      case '/':
        return syntax_error("Unescaped '/' (regular expressions are not supported)", start);
      case '^':
        return modifier(Tok::kBoost, true);
      case '~':
        return modifier(Tok::kFuzzy, false);
      case '+':
      case '-':
        // A value cannot take a prefix, so `votes:-1` means the number.
        if (after_colon) return term();
        return single(q_[i_] == '+' ? Tok::kPlus : Tok::kMinus);
      default:
        return term();
    }
  }

  void skip_space() {
    while (i_ < q_.size()) {
      const std::size_t len = space_length(q_, i_);
      if (len == 0) return;
      i_ += len;
    }
  }

  Token single(Tok kind) {
    Token t;
    t.kind = kind;
    t.pos = i_;
    t.end = ++i_;
    return t;
  }

  // Appends the character after the backslash at i_ (a whole UTF-8 sequence)
  // to `out` and moves past it. False for a backslash that ends the input.
  bool take_escaped(std::string& out) {
    if (i_ + 1 >= q_.size()) return false;
    const std::size_t len = utf8_length(q_, i_ + 1);
    out.append(q_.substr(i_ + 1, len));
    i_ += 1 + len;
    return true;
  }

  Result<Token> term() {
    Token t;
    t.kind = Tok::kTerm;
    t.pos = i_;
    while (i_ < q_.size() && space_length(q_, i_) == 0 && !ends_term(q_[i_])) {
      const char c = q_[i_];
      t.trailing_star = false;
      if (c == '\\') {
        const std::size_t at = t.text.size();
        if (!take_escaped(t.text)) return syntax_error("Dangling '\\'", i_);
        const char e = t.text[at];
        if (e == '*' || e == '?' || e == '\\') t.pattern += '\\';
        t.pattern.append(t.text, at);
        continue;
      }
      if (c == '*' || c == '?') {
        ++t.wildcards;
        t.trailing_star = c == '*';
      }
      t.text += c;
      t.pattern += c;
      ++i_;
    }
    t.end = i_;
    // Operators are words of their own; an escaped or longer word is a term,
    // and so is a field name (`NOT:x`), which no operator can be followed by.
    const std::string_view raw = q_.substr(t.pos, t.end - t.pos);
    if (i_ < q_.size() && q_[i_] == ':') return t;
    if (raw == "AND" || raw == "&&") t.kind = Tok::kAnd;
    if (raw == "OR" || raw == "||") t.kind = Tok::kOr;
    if (raw == "NOT") t.kind = Tok::kNot;
    return t;
  }

  // A quoted string starting at i_; `open` is where to report it unclosed.
  Result<std::string> quoted_string() {
    const std::size_t open = i_++;
    std::string text;
    for (;;) {
      if (i_ >= q_.size()) return syntax_error("Unbalanced '\"'", open);
      const char c = q_[i_];
      if (c == '"') break;
      if (c == '\\') {
        if (!take_escaped(text)) return syntax_error("Unbalanced '\"'", open);
        continue;
      }
      text += c;
      ++i_;
    }
    ++i_;
    return text;
  }

  Result<Token> phrase() {
    Token t;
    t.kind = Tok::kPhrase;
    t.pos = i_;
    auto text = quoted_string();
    if (!text) return text.error();
    if (text->empty()) return syntax_error("Empty phrase", t.pos);
    t.text = std::move(*text);
    t.end = i_;
    return t;
  }

  // One end of a range: a quoted string, or a bare run of characters up to
  // whitespace, ']' or '}'. An unquoted, unescaped '*' is an open end.
  Result<std::optional<std::string>> bound(std::size_t open, std::string_view which) {
    if (i_ >= q_.size()) return syntax_error("Unbalanced " + quoted(q_.substr(open, 1)), open);
    if (q_[i_] == '"') {
      auto text = quoted_string();
      if (!text) return text.error();
      return std::optional<std::string>(std::move(*text));
    }
    const std::size_t start = i_;
    std::string text;
    while (i_ < q_.size() && space_length(q_, i_) == 0 && q_[i_] != ']' && q_[i_] != '}') {
      if (q_[i_] == '\\') {
        if (!take_escaped(text)) return syntax_error("Dangling '\\'", i_);
        continue;
      }
      text += q_[i_++];
    }
    if (text.empty()) return syntax_error("Missing " + std::string(which) + " bound", start);
    if (q_.substr(start, i_ - start) == "*") return std::optional<std::string>();
    return std::optional<std::string>(std::move(text));
  }

  bool at_word_to() const {
    if (q_.substr(i_, 2) != "TO") return false;
    const std::size_t after = i_ + 2;
    return after == q_.size() || space_length(q_, after) > 0 || q_[after] == ']' ||
           q_[after] == '}';
  }

  Result<Token> range() {
    Token t;
    t.kind = Tok::kRange;
    t.pos = i_;
    const std::string unclosed = "Unbalanced " + quoted(q_.substr(i_, 1));
    t.range.include_lower = q_[i_++] == '[';
    skip_space();
    auto lower = bound(t.pos, "lower");
    if (!lower) return lower.error();
    skip_space();
    if (i_ == q_.size()) return syntax_error(unclosed, t.pos);
    if (!at_word_to()) return syntax_error("Expected 'TO'", i_);
    i_ += 2;
    skip_space();
    auto upper = bound(t.pos, "upper");
    if (!upper) return upper.error();
    skip_space();
    if (i_ == q_.size()) return syntax_error(unclosed, t.pos);
    if (q_[i_] != ']' && q_[i_] != '}') return syntax_error("Expected ']' or '}'", i_);
    t.range.include_upper = q_[i_++] == ']';
    t.range.lower = std::move(*lower);
    t.range.upper = std::move(*upper);
    t.end = i_;
    return t;
  }

  // '^' and '~' with their number (digits, optionally '.' digits), which we
  // check but do not keep.
  Result<Token> modifier(Tok kind, bool number_required) {
    Token t;
    t.kind = kind;
    t.pos = i_++;
    const std::size_t digits = i_;
    while (i_ < q_.size() && is_digit(q_[i_]))
      ++i_;
    if (i_ == digits && number_required) {
      return syntax_error("Expected a number after " + quoted(q_.substr(t.pos, 1)), i_);
    }
    if (i_ > digits && i_ + 1 < q_.size() && q_[i_] == '.' && is_digit(q_[i_ + 1])) {
      ++i_;
      while (i_ < q_.size() && is_digit(q_[i_]))
        ++i_;
    }
    t.end = i_;
    return t;
  }

  std::string_view q_;
  std::size_t i_ = 0;
};

// ---------------------------------------------------------------------------
// Fields

bool is_field_start(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || u >= 0x80;
}

bool is_valid_field_name(std::string_view name) {
  if (name.empty() || !is_field_start(name[0]) || name.back() == '.') return false;
  if (name.find("..") != std::string_view::npos) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!is_field_start(c) && c != '-' && c != '.') return false;
    if (space_length(name, i) > 0) return false;  // U+3000, non-ASCII but a separator
  }
  return true;
}

std::optional<Field> resolve_field(std::string_view name) {
  constexpr std::string_view kProperties = "properties.";
  if (name.starts_with(kProperties)) {
    name.remove_prefix(kProperties.size());
    if (!is_valid_field_name(name)) return std::nullopt;
    return Field{FieldKind::kCustom, std::string(name)};
  }
  if (!is_valid_field_name(name) || name == "properties") return std::nullopt;
  if (is_common_field(name)) return Field{FieldKind::kCommon, std::string(name)};
  return Field{FieldKind::kCustom, std::string(name)};
}

// ---------------------------------------------------------------------------
// Parser: recursive descent over the tokens, one function per precedence
// level. Only parentheses recurse, and parse_group caps their depth.

struct Operand {
  std::optional<Occur> prefix;  // '+', '-', NOT, '!'; none for a plain clause
  Query query;
};

// Applies the Boolean invariants documented in query.h.
Query make_boolean(std::vector<Clause> clauses) {
  bool positive = false;
  for (const auto& c : clauses)
    positive = positive || c.occur != Occur::kMustNot;
  if (!positive) clauses.insert(clauses.begin(), Clause{Occur::kMust, MatchAll{}});
  if (clauses.size() == 1) return std::move(clauses.front().query);
  return Boolean{std::move(clauses)};
}

bool ends_clause_list(Tok kind) {
  return kind == Tok::kEnd || kind == Tok::kRParen || kind == Tok::kAnd || kind == Tok::kOr;
}

class Parser {
 public:
  Parser(std::string_view q, std::vector<Token> tokens) : q_(q), tokens_(std::move(tokens)) {}

  Result<Query> run() {
    if (peek().kind == Tok::kEnd) return MatchAll{};
    return parse_or(Field{}, 0);
  }

 private:
  const Token& peek(std::size_t ahead = 0) const {
    return tokens_[std::min(next_ + ahead, tokens_.size() - 1)];
  }
  const Token& take() {
    const Token& t = peek();
    if (next_ + 1 < tokens_.size()) ++next_;
    return t;
  }
  std::string_view raw(const Token& t) const { return q_.substr(t.pos, t.end - t.pos); }

  // Clauses joined by OR or adjacency, up to ')' or the end.
  Result<Query> parse_or(const Field& field, std::size_t depth) {
    std::vector<Operand> operands;
    for (;;) {
      const Token& t = peek();
      if (t.kind == Tok::kRParen && depth == 0) return syntax_error("Unbalanced ')'", t.pos);
      if (t.kind == Tok::kEnd || t.kind == Tok::kRParen) break;
      if (t.kind == Tok::kAnd || t.kind == Tok::kOr) {
        if (operands.empty()) return syntax_error(quoted(raw(t)) + " must follow a clause", t.pos);
        const Token& op = take();
        if (ends_clause_list(peek().kind)) {
          return syntax_error(quoted(raw(op)) + " must be followed by a clause", op.pos);
        }
      }
      auto operand = parse_and(field, depth);
      if (!operand) return operand.error();
      operands.push_back(std::move(*operand));
    }
    if (operands.size() == 1 && operands.front().prefix != Occur::kMustNot) {
      return std::move(operands.front().query);
    }
    std::vector<Clause> clauses;
    for (auto& o : operands)
      clauses.push_back({o.prefix.value_or(Occur::kShould), std::move(o.query)});
    return make_boolean(std::move(clauses));
  }

  // Clauses joined by AND. A single clause keeps its prefix for the OR level.
  Result<Operand> parse_and(const Field& field, std::size_t depth) {
    std::vector<Operand> operands;
    for (;;) {
      auto operand = parse_unary(field, depth);
      if (!operand) return operand.error();
      operands.push_back(std::move(*operand));
      if (peek().kind != Tok::kAnd) break;
      const Token& op = take();
      if (ends_clause_list(peek().kind)) {
        return syntax_error(quoted(raw(op)) + " must be followed by a clause", op.pos);
      }
    }
    if (operands.size() == 1) return std::move(operands.front());
    std::vector<Clause> clauses;
    for (auto& o : operands) {
      const Occur occur = o.prefix == Occur::kMustNot ? Occur::kMustNot : Occur::kMust;
      clauses.push_back({occur, std::move(o.query)});
    }
    return Operand{std::nullopt, make_boolean(std::move(clauses))};
  }

  Result<Operand> parse_unary(const Field& field, std::size_t depth) {
    Operand operand;
    const Token& t = peek();
    if (t.kind == Tok::kNot || t.kind == Tok::kMinus || t.kind == Tok::kPlus) {
      const Token& op = take();
      operand.prefix = op.kind == Tok::kPlus ? Occur::kMust : Occur::kMustNot;
      const Tok after = peek().kind;
      if (after == Tok::kNot || after == Tok::kMinus || after == Tok::kPlus) {
        return syntax_error("A clause takes at most one prefix", peek().pos);
      }
      if (ends_clause_list(after)) {
        return syntax_error(quoted(raw(op)) + " must be followed by a clause", op.pos);
      }
    }
    auto query = parse_primary(field, depth);
    if (!query) return query.error();
    operand.query = std::move(*query);
    return operand;
  }

  Result<Query> parse_primary(const Field& field, std::size_t depth) {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::kTerm:
        if (peek(1).kind == Tok::kColon && peek(1).pos == t.end) return parse_fielded(depth);
        return parse_value(field, depth);
      case Tok::kPhrase:
      case Tok::kRange:
      case Tok::kLParen:
        return parse_value(field, depth);
      case Tok::kColon:
        return syntax_error("Empty field name", t.pos);
      case Tok::kBoost:
        return syntax_error("'^' must follow a clause", t.pos);
      case Tok::kFuzzy:
        return syntax_error("'~' must follow a term or phrase", t.pos);
      default:
        return syntax_error("Unexpected " + quoted(raw(t)), t.pos);
    }
  }

  // `name:value`, `name:"phrase"`, `name:[a TO b]`, `name:(group)`.
  Result<Query> parse_fielded(std::size_t depth) {
    const Token& name = take();
    take();       // ':'
    Field field;  // `*:x` searches every field, i.e. full text; `*:*` is match-all
    if (raw(name) != "*") {
      if (name.wildcards > 0) return syntax_error("Wildcard in a field name", name.pos);
      auto resolved = resolve_field(name.text);
      if (!resolved) return syntax_error("Invalid field name " + quoted(name.text), name.pos);
      field = std::move(*resolved);
    }
    const Tok value = peek().kind;
    if (value != Tok::kTerm && value != Tok::kPhrase && value != Tok::kRange &&
        value != Tok::kLParen) {
      return syntax_error("Missing value for field " + quoted(raw(name)), peek().pos);
    }
    return parse_value(field, depth);
  }

  // A term, phrase, range or group under `field`, with its '~' and '^'.
  Result<Query> parse_value(const Field& field, std::size_t depth) {
    const Token& t = peek();
    Result<Query> query = MatchAll{};
    bool fuzzy_ok = true;
    if (t.kind == Tok::kLParen) {
      query = parse_group(field, depth);
      fuzzy_ok = false;
    } else {
      query = leaf(field, take());
      fuzzy_ok = t.kind != Tok::kRange;
    }
    if (!query) return query;
    if (t.kind == Tok::kTerm && peek().kind == Tok::kColon && peek().pos == t.end) {
      return syntax_error("Unexpected ':' (escape a literal ':' as '\\:')", peek().pos);
    }
    if (auto status = skip_modifiers(fuzzy_ok); !status) return status.error();
    return query;
  }

  // Boost, fuzziness and slop do not change which objects match.
  Status skip_modifiers(bool fuzzy_ok) {
    bool boost = false;
    bool fuzzy = false;
    for (;;) {
      const Token& t = peek();
      if (t.kind == Tok::kFuzzy) {
        if (!fuzzy_ok) return syntax_error("'~' must follow a term or phrase", t.pos);
        if (fuzzy) return syntax_error("Repeated '~'", t.pos);
        fuzzy = true;
      } else if (t.kind == Tok::kBoost) {
        if (boost) return syntax_error("Repeated '^'", t.pos);
        boost = true;
      } else {
        return {};
      }
      take();
    }
  }

  Result<Query> parse_group(const Field& field, std::size_t depth) {
    const Token& open = take();
    if (depth + 1 > kMaxDepth) {
      return syntax_error("Nesting deeper than " + std::to_string(kMaxDepth), open.pos);
    }
    if (peek().kind == Tok::kRParen) return syntax_error("Empty group", open.pos);
    if (peek().kind == Tok::kEnd) return syntax_error("Unbalanced '('", open.pos);
    auto query = parse_or(field, depth + 1);
    if (!query) return query;
    if (take().kind != Tok::kRParen) return syntax_error("Unbalanced '('", open.pos);
    return query;
  }

  Result<Query> leaf(const Field& field, const Token& t) {
    if (++clauses_ > kMaxClauses) {
      return syntax_error("More than " + std::to_string(kMaxClauses) + " clauses", t.pos);
    }
    if (t.kind == Tok::kPhrase) return Phrase{field, t.text};
    if (t.kind == Tok::kRange) {
      if (field.kind == FieldKind::kText) return syntax_error("Range without a field", t.pos);
      Range range = t.range;
      range.field = field;
      return range;
    }
    if (t.wildcards == 0) return Term{field, t.text};
    if (t.wildcards > 1 || !t.trailing_star) return Wildcard{field, t.pattern};
    if (t.text == "*" && field.kind == FieldKind::kText) return MatchAll{};
    return Prefix{field, t.text.substr(0, t.text.size() - 1)};
  }

  std::string_view q_;
  std::vector<Token> tokens_;  // ends with kEnd
  std::size_t next_ = 0;
  std::size_t clauses_ = 0;
};

// ---------------------------------------------------------------------------
// Printer

void append_field(std::string& out, const Field& field) {
  if (field.kind == FieldKind::kText) return;
  if (field.kind == FieldKind::kCustom) out += "properties.";
  out += field.name;
  out += ':';
}

bool needs_escape(char c) {
  switch (c) {
    case '\\':
    case '+':
    case '-':
    case '&':
    case '|':
    case '*':
    case '?':
      return true;
    default:
      return ends_term(c);
  }
}

// Escapes a term so that it lexes back to itself; `wildcards` keeps '*' and
// '?' live and leaves the pattern's own escapes alone.
void append_escaped(std::string& out, std::string_view text, bool wildcards) {
  if (!wildcards && (text == "AND" || text == "OR" || text == "NOT")) out += '\\';
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (wildcards && c == '\\' && i + 1 < text.size()) {
      out.append(text, i, 2);
      i += 2;
      continue;
    }
    if (wildcards && (c == '*' || c == '?')) {
      out += c;
      ++i;
      continue;
    }
    const std::size_t space = space_length(text, i);
    if (space > 0 || needs_escape(c)) out += '\\';
    const std::size_t len = space > 0 ? space : 1;
    out.append(text, i, len);
    i += len;
  }
}

void append_quoted(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void append_bound(std::string& out, const std::optional<std::string>& bound) {
  if (!bound) {
    out += '*';
    return;
  }
  bool bare = !bound->empty() && *bound != "*" && *bound != "TO";
  for (std::size_t i = 0; i < bound->size() && bare; ++i) {
    const char c = (*bound)[i];
    bare = space_length(*bound, i) == 0 && c != ']' && c != '}' && c != '"' && c != '\\';
  }
  if (bare) {
    out += *bound;
  } else {
    append_quoted(out, *bound);
  }
}

void print(std::string& out, const Query& query);

struct Printer {
  std::string& out;

  void operator()(const MatchAll&) { out += '*'; }
  void operator()(const Term& q) {
    append_field(out, q.field);
    append_escaped(out, q.text, false);
  }
  void operator()(const Phrase& q) {
    append_field(out, q.field);
    append_quoted(out, q.text);
  }
  void operator()(const Prefix& q) {
    append_field(out, q.field);
    append_escaped(out, q.prefix, false);
    out += '*';
  }
  void operator()(const Wildcard& q) {
    append_field(out, q.field);
    append_escaped(out, q.pattern, true);
  }
  void operator()(const Range& q) {
    append_field(out, q.field);
    out += q.include_lower ? '[' : '{';
    append_bound(out, q.lower);
    out += " TO ";
    append_bound(out, q.upper);
    out += q.include_upper ? ']' : '}';
  }
  void operator()(const Boolean& q) {
    out += '(';
    for (std::size_t i = 0; i < q.clauses.size(); ++i) {
      if (i > 0) out += ' ';
      if (q.clauses[i].occur == Occur::kMust) out += '+';
      if (q.clauses[i].occur == Occur::kMustNot) out += '-';
      print(out, q.clauses[i].query);
    }
    out += ')';
  }
};

void print(std::string& out, const Query& query) {
  std::visit(Printer{out}, query);
}

const Field* field_of(const Query& query) {
  return std::visit(
      [](const auto& q) -> const Field* {
        using T = std::decay_t<decltype(q)>;
        if constexpr (std::is_same_v<T, MatchAll> || std::is_same_v<T, Boolean>) {
          return nullptr;
        } else {
          return &q.field;
        }
      },
      query);
}

void collect_fields(const Query& query, std::vector<Field>& fields) {
  if (const auto* b = std::get_if<Boolean>(&query)) {
    for (const auto& c : b->clauses)
      collect_fields(c.query, fields);
    return;
  }
  const Field* field = field_of(query);
  if (field == nullptr || std::find(fields.begin(), fields.end(), *field) != fields.end()) return;
  fields.push_back(*field);
}

}  // namespace

Result<Query> parse_query(std::string_view q) {
  if (auto error = check_bytes(q)) return *error;
  auto tokens = Lexer(q).run();
  if (!tokens) return tokens.error();
  return Parser(q, std::move(*tokens)).run();
}

std::string to_string(const Query& query) {
  std::string out;
  print(out, query);
  return out;
}

std::vector<Field> referenced_fields(const Query& query) {
  std::vector<Field> fields;
  collect_fields(query, fields);
  return fields;
}

}  // namespace para::search
