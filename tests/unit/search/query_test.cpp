#include "search/query.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <random>
#include <string>
#include <vector>

namespace para::search {
namespace {

using namespace std::string_literals;

struct ValidCase {
  std::string q;
  std::string canonical;
};

// clang-format off
const std::vector<ValidCase> kValid = {
    // Match all.
    {"", "*"},
    {"   \t\n", "*"},
    {"*", "*"},
    {"*:*", "*"},
    {" * ", "*"},
    {"(*)", "*"},
    // Bare terms: full text, verbatim.
    {"hello", "hello"},
    {"Hello", "Hello"},
    {"and", "and"},
    {"ANDROID", "ANDROID"},
    {"ORACLE NOTE", "(ORACLE NOTE)"},
    {"foo-bar", "foo\\-bar"},
    {"a+b", "a\\+b"},
    {"a&&b", "a\\&\\&b"},
    {"12.5", "12.5"},
    {"*:foo", "foo"},
    // Common fields.
    {"name:tom", "name:tom"},
    {"name: tom", "name:tom"},
    {"type:user", "type:user"},
    {"id:1234567890", "id:1234567890"},
    {"parentid:p1", "parentid:p1"},
    {"creatorid:u1", "creatorid:u1"},
    {"tags:red", "tags:red"},
    {"timestamp:1700000000000", "timestamp:1700000000000"},
    {"updated:1", "updated:1"},
    {"votes:5", "votes:5"},
    {"votes:-1", "votes:\\-1"},
    {"votes:+1", "votes:\\+1"},
    {"appid:myapp", "appid:myapp"},
    {"version:2", "version:2"},
    // Custom fields: `properties.x` and bare `x` are the same field.
    {"properties.color:red", "properties.color:red"},
    {"color:red", "properties.color:red"},
    {"Name:x", "properties.Name:x"},
    {"properties.name:x", "properties.name:x"},
    {"properties.properties.x:1", "properties.properties.x:1"},
    {"address.city:Sofia", "properties.address.city:Sofia"},
    {"properties.address.city:Sofia", "properties.address.city:Sofia"},
    {"_private:1", "properties._private:1"},
    {"my-field:1", "properties.my-field:1"},
    {"x1:y", "properties.x1:y"},
    {"-x:1", "(+* -properties.x:1)"},
    {"NOT:x", "properties.NOT:x"},
    {"AND:x OR:y", "(properties.AND:x properties.OR:y)"},
    // Phrases and escapes inside them.
    {"\"hello world\"", "\"hello world\""},
    {"name:\"Tom Smith\"", "name:\"Tom Smith\""},
    {"\"say \\\"hi\\\"\"", "\"say \\\"hi\\\"\""},
    {"\"back\\\\slash\"", "\"back\\\\slash\""},
    {"\"a*b? (c)\"", "\"a*b? (c)\""},
    {"\"\\q\"", "\"q\""},
    {"color:\"dark red\"", "properties.color:\"dark red\""},
    // AND, OR, NOT and their symbols.
    {"a AND b", "(+a +b)"},
    {"a && b", "(+a +b)"},
    {"a OR b", "(a b)"},
    {"a || b", "(a b)"},
    {"a b", "(a b)"},
    {"a b c", "(a b c)"},
    {"a\tb\nc\r\nd", "(a b c d)"},
    {"a AND b AND c", "(+a +b +c)"},
    {"a OR b OR c", "(a b c)"},
    {"NOT a", "(+* -a)"},
    {"!a", "(+* -a)"},
    {"! a", "(+* -a)"},
    {"a!b", "(a -b)"},
    {"-a", "(+* -a)"},
    {"- a", "(+* -a)"},
    {"+a", "a"},
    {"+a +b", "(+a +b)"},
    {"a -b", "(a -b)"},
    {"a - b", "(a -b)"},
    {"+a -b c", "(+a -b c)"},
    {"-a -b", "(+* -a -b)"},
    {"a NOT b", "(a -b)"},
    {"a AND NOT b", "(+a -b)"},
    {"a AND !b", "(+a -b)"},
    {"a AND -b", "(+a -b)"},
    {"a AND +b", "(+a +b)"},
    {"+a AND -b", "(+a -b)"},
    {"a OR NOT b", "(a -b)"},
    {"-a OR b", "(-a b)"},
    {"+a OR b", "(+a b)"},
    {"NOT a AND b", "(-a +b)"},
    {"NOT a AND NOT b", "(+* -a -b)"},
    {"* AND -type:user", "(+* -type:user)"},
    {"* -type:user", "(* -type:user)"},
    // Precedence: NOT > AND > OR.
    {"a AND b OR c", "((+a +b) c)"},
    {"a OR b AND c", "(a (+b +c))"},
    {"a OR b AND NOT c", "(a (+b -c))"},
    {"a && b || c", "((+a +b) c)"},
    {"a AND b c", "((+a +b) c)"},
    {"a b AND c d", "(a (+b +c) d)"},
    {"a OR b AND c OR d AND e", "(a (+b +c) (+d +e))"},
    {"-a AND b OR +c", "((-a +b) +c)"},
    // Groups.
    {"(a)", "a"},
    {"((a))", "a"},
    {"(+a)", "a"},
    {"(-a)", "(+* -a)"},
    {"-(-a)", "(+* -(+* -a))"},
    {"(a OR b) AND c", "(+(a b) +c)"},
    {"(a b) (c d)", "((a b) (c d))"},
    {"-(a b)", "(+* -(a b))"},
    {"NOT (a AND b)", "(+* -(+a +b))"},
    {"+(a b) -(c d)", "(+(a b) -(c d))"},
    {"(a AND (b OR (c AND NOT d)))", "(+a +(b (+c -d)))"},
    {"name:tom AND (type:user OR -tags:admin)", "(+name:tom +(type:user -tags:admin))"},
    {"( a )", "a"},
    // Field groups.
    {"name:(a OR b)", "(name:a name:b)"},
    {"name:(a AND b)", "(+name:a +name:b)"},
    {"name:(a type:b)", "(name:a type:b)"},
    {"name:(a \"b c\" d*)", "(name:a name:\"b c\" name:d*)"},
    {"tags:(+red -blue)", "(+tags:red -tags:blue)"},
    {"name:(a (b c))", "(name:a (name:b name:c))"},
    {"name:(*)", "name:*"},
    {"name:([a TO b] c)", "(name:[a TO b] name:c)"},
    {"color:(red blue)", "(properties.color:red properties.color:blue)"},
    {"-tags:(a b)", "(+* -(tags:a tags:b))"},
    {"*:(a b)", "(a b)"},
    // Prefix and wildcards.
    {"nam*", "nam*"},
    {"name:Tom*", "name:Tom*"},
    {"name:*", "name:*"},
    {"color:*", "properties.color:*"},
    {"t?m", "t?m"},
    {"n*e", "n*e"},
    {"*son", "*son"},
    {"?", "?"},
    {"**", "**"},
    {"name:T*m*", "name:T*m*"},
    {"name:To?*", "name:To?*"},
    {"a\\*", "a\\*"},
    {"a\\**", "a\\**"},
    {"a\\?b*", "a\\?b*"},
    {"a\\*b?", "a\\*b?"},
    {"a\\\\*", "a\\\\*"},
    {"-nam*", "(+* -nam*)"},
    // Ranges.
    {"timestamp:[1 TO 2]", "timestamp:[1 TO 2]"},
    {"timestamp:{1 TO 2}", "timestamp:{1 TO 2}"},
    {"timestamp:[1 TO 2}", "timestamp:[1 TO 2}"},
    {"timestamp:{1 TO 2]", "timestamp:{1 TO 2]"},
    {"votes:{* TO 5]", "votes:{* TO 5]"},
    {"votes:[5 TO *]", "votes:[5 TO *]"},
    {"votes:[* TO *]", "votes:[* TO *]"},
    {"votes:[ -5   TO\t5 ]", "votes:[-5 TO 5]"},
    {"name:[\"a b\" TO \"*\"]", "name:[\"a b\" TO \"*\"]"},
    {"name:[a\\ b TO c\\]]", "name:[\"a b\" TO \"c]\"]"},
    {"name:[\\* TO z]", "name:[\"*\" TO z]"},
    {"name:[\"\" TO z]", "name:[\"\" TO z]"},
    {"name:[TO TO z]", "name:[\"TO\" TO z]"},
    {"name:[a(b TO c:d]", "name:[a(b TO c:d]"},
    {"properties.price:[10 TO 20]", "properties.price:[10 TO 20]"},
    {"price:[10 TO 20] AND type:item", "(+properties.price:[10 TO 20] +type:item)"},
    {"-updated:[* TO 5]", "(+* -updated:[* TO 5])"},
    // Escaped special characters.
    {"a\\:b", "a\\:b"},
    {"\\(a\\)", "\\(a\\)"},
    {"a\\ b", "a\\ b"},
    {"\\AND", "\\AND"},
    {"\\-1", "\\-1"},
    {"\\+\\-\\!\\(\\)\\{\\}\\[\\]\\^\\\"\\~\\*\\?\\:\\\\\\/",
     "\\+\\-\\!\\(\\)\\{\\}\\[\\]\\^\\\"\\~\\*\\?\\:\\\\\\/"},
    {"name:a\\/b", "name:a\\/b"},
    {"url:http\\:\\/\\/x.org\\/", "properties.url:http\\:\\/\\/x.org\\/"},
    {"\\q", "q"},
    {"\\é", "é"},
    // Boost, fuzzy and proximity are ignored.
    {"a^2", "a"},
    {"a^0.5", "a"},
    {"a ^2", "a"},
    {"a~", "a"},
    {"a~1", "a"},
    {"a~0.8^2", "a"},
    {"a^2~1", "a"},
    {"a~b", "(a b)"},
    {"\"a b\"~3", "\"a b\""},
    {"\"a b\"~3^2", "\"a b\""},
    {"(a b)^2", "(a b)"},
    {"name:tom~2^3", "name:tom"},
    {"name:[a TO b]^3", "name:[a TO b]"},
    {"nam*~", "nam*"},
    {"a^2 AND b~", "(+a +b)"},
    // Unicode.
    {"café", "café"},
    {"日本語", "日本語"},
    {"name:Ελληνικά", "name:Ελληνικά"},
    {"名前:値", "properties.名前:値"},
    {"日本\u3000語", "(日本 語)"},
    {"\\\u3000", "\\\u3000"},
    {"\"日本\u3000語\"", "\"日本\u3000語\""},
    {"emoji:😀*", "properties.emoji:😀*"},
};
// clang-format on

TEST(ParseQuery, ValidQueriesHaveTheirCanonicalForm) {
  for (const auto& c : kValid) {
    auto q = parse_query(c.q);
    ASSERT_TRUE(q) << "q=" << c.q << ": " << q.error().message;
    EXPECT_EQ(to_string(*q), c.canonical) << "q=" << c.q;
  }
}

TEST(ParseQuery, CanonicalFormParsesBackToTheSameQuery) {
  for (const auto& c : kValid) {
    auto q = parse_query(c.q);
    ASSERT_TRUE(q) << c.q;
    auto again = parse_query(to_string(*q));
    ASSERT_TRUE(again) << "q=" << c.q << ": " << again.error().message;
    EXPECT_TRUE(*again == *q) << "q=" << c.q << " reparsed as " << to_string(*again);
  }
}

TEST(ParseQuery, TermsCarryTheirFieldKindAndVerbatimValue) {
  auto q = parse_query("a\\ b");
  ASSERT_TRUE(q);
  EXPECT_TRUE(*q == Query(Term{Field{FieldKind::kText, ""}, "a b"}));

  q = parse_query("properties.color:Red");
  ASSERT_TRUE(q);
  EXPECT_TRUE(*q == Query(Term{Field{FieldKind::kCustom, "color"}, "Red"}));

  q = parse_query("color:Red");
  ASSERT_TRUE(q);
  EXPECT_TRUE(*q == Query(Term{Field{FieldKind::kCustom, "color"}, "Red"}));

  q = parse_query("tags:Red");
  ASSERT_TRUE(q);
  EXPECT_TRUE(*q == Query(Term{Field{FieldKind::kCommon, "tags"}, "Red"}));

  q = parse_query("\"x \\\" y\"");
  ASSERT_TRUE(q);
  EXPECT_TRUE(*q == Query(Phrase{Field{}, "x \" y"}));
}

TEST(ParseQuery, PrefixAndWildcardAreDistinct) {
  auto q = parse_query("name:Tom*");
  ASSERT_TRUE(q);
  EXPECT_TRUE(*q == Query(Prefix{Field{FieldKind::kCommon, "name"}, "Tom"}));

  q = parse_query("name:*");
  ASSERT_TRUE(q);
  EXPECT_TRUE(*q == Query(Prefix{Field{FieldKind::kCommon, "name"}, ""}));

  q = parse_query("T*m");
  ASSERT_TRUE(q);
  EXPECT_TRUE(*q == Query(Wildcard{Field{}, "T*m"}));

  // An escaped wildcard stays escaped in the pattern and literal in a prefix.
  q = parse_query("a\\*b*");
  ASSERT_TRUE(q);
  EXPECT_TRUE(*q == Query(Prefix{Field{}, "a*b"}));
  q = parse_query("a\\*b*c");
  ASSERT_TRUE(q);
  EXPECT_TRUE(*q == Query(Wildcard{Field{}, "a\\*b*c"}));
  q = parse_query("a\\*");
  ASSERT_TRUE(q);
  EXPECT_TRUE(*q == Query(Term{Field{}, "a*"}));
}

TEST(ParseQuery, RangesKeepOpenEndsAndInclusiveness) {
  auto q = parse_query("votes:{* TO 10]");
  ASSERT_TRUE(q);
  const auto* r = std::get_if<Range>(&*q);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->field, (Field{FieldKind::kCommon, "votes"}));
  EXPECT_FALSE(r->lower.has_value());
  EXPECT_EQ(r->upper, "10");
  EXPECT_FALSE(r->include_lower);
  EXPECT_TRUE(r->include_upper);

  q = parse_query("votes:[\"*\" TO *}");
  ASSERT_TRUE(q);
  r = std::get_if<Range>(&*q);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->lower, "*") << "a quoted star is a value, not an open end";
  EXPECT_FALSE(r->upper.has_value());
  EXPECT_TRUE(r->include_lower);
  EXPECT_FALSE(r->include_upper);
}

TEST(ParseQuery, BooleanClausesHaveLuceneOccurs) {
  auto q = parse_query("+a -b c");
  ASSERT_TRUE(q);
  const auto* b = std::get_if<Boolean>(&*q);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->clauses.size(), 3u);
  EXPECT_EQ(b->clauses[0].occur, Occur::kMust);
  EXPECT_EQ(b->clauses[1].occur, Occur::kMustNot);
  EXPECT_EQ(b->clauses[2].occur, Occur::kShould);
  EXPECT_TRUE(b->clauses[2].query == Query(Term{Field{}, "c"}));
}

struct InvalidCase {
  std::string q;
  std::size_t position;
  std::string what;  // a part of the message
};

// clang-format off
const std::vector<InvalidCase> kInvalid = {
    // Unbalanced parentheses, quotes and brackets.
    {"(", 0, "Unbalanced '('"},
    {"(a", 0, "Unbalanced '('"},
    {"((a)", 0, "Unbalanced '('"},
    {"a (b (c)", 2, "Unbalanced '('"},
    {"a)", 1, "Unbalanced ')'"},
    {")", 0, "Unbalanced ')'"},
    {"(a))", 3, "Unbalanced ')'"},
    {"\"abc", 0, "Unbalanced '\"'"},
    {"a \"b", 2, "Unbalanced '\"'"},
    {"\"abc\\\"", 0, "Unbalanced '\"'"},
    {"name:[a TO b", 5, "Unbalanced '['"},
    {"name:{a TO b", 5, "Unbalanced '{'"},
    {"name:[a", 5, "Unbalanced '['"},
    {"name:[", 5, "Unbalanced '['"},
    {"name:[a TO \"b]", 11, "Unbalanced '\"'"},
    {"name:[a TO b)", 5, "Unbalanced '['"},
    {"name:[a TO b c]", 13, "Expected ']' or '}'"},
    {"name:[a b]", 8, "Expected 'TO'"},
    {"name:[a TOb]", 8, "Expected 'TO'"},
    {"name:[a TO ]", 11, "Missing upper bound"},
    {"name:[a TO]", 10, "Missing upper bound"},
    {"name:[]", 6, "Missing lower bound"},
    {"a]", 1, "Unexpected ']'"},
    {"}", 0, "Unexpected '}'"},
    // Dangling operators.
    {"a AND", 2, "'AND' must be followed by a clause"},
    {"a &&", 2, "'&&' must be followed by a clause"},
    {"a OR", 2, "'OR' must be followed by a clause"},
    {"a ||", 2, "'||' must be followed by a clause"},
    {"OR b", 0, "'OR' must follow a clause"},
    {"AND b", 0, "'AND' must follow a clause"},
    {"AND", 0, "'AND' must follow a clause"},
    {"a OR OR b", 2, "'OR' must be followed by a clause"},
    {"a AND OR b", 2, "'AND' must be followed by a clause"},
    {"a AND AND b", 2, "'AND' must be followed by a clause"},
    {"(a AND)", 3, "'AND' must be followed by a clause"},
    {"(OR a)", 1, "'OR' must follow a clause"},
    {"NOT", 0, "'NOT' must be followed by a clause"},
    {"a NOT", 2, "'NOT' must be followed by a clause"},
    {"!", 0, "'!' must be followed by a clause"},
    {"-", 0, "'-' must be followed by a clause"},
    {"a +", 2, "'+' must be followed by a clause"},
    {"(a -)", 3, "'-' must be followed by a clause"},
    {"NOT AND a", 0, "'NOT' must be followed by a clause"},
    {"NOT -a", 4, "at most one prefix"},
    {"--a", 1, "at most one prefix"},
    {"+-a", 1, "at most one prefix"},
    {"!!a", 1, "at most one prefix"},
    // Fields.
    {":x", 0, "Empty field name"},
    {"a :x", 2, "Empty field name"},
    {"name :x", 5, "Empty field name"},
    {"name:", 5, "Missing value for field 'name'"},
    {"name: ", 6, "Missing value for field 'name'"},
    {"name:)", 5, "Missing value for field 'name'"},
    {"(name:)", 6, "Missing value for field 'name'"},
    {"name: AND b", 6, "Missing value for field 'name'"},
    {"name:^2", 5, "Missing value for field 'name'"},
    {"name:a:b", 6, "Unexpected ':'"},
    {"na*e:x", 0, "Wildcard in a field name"},
    {"?:x", 0, "Wildcard in a field name"},
    {"properties.:x", 0, "Invalid field name 'properties.'"},
    {"properties:x", 0, "Invalid field name 'properties'"},
    {"a..b:x", 0, "Invalid field name"},
    {"a.:x", 0, "Invalid field name"},
    {".a:x", 0, "Invalid field name"},
    {"a\\ b:x", 0, "Invalid field name 'a b'"},
    {"a\\:b:x", 0, "Invalid field name 'a:b'"},
    {"日\\\u3000:x", 0, "Invalid field name"},
    {"\\*:x", 0, "Invalid field name '*'"},
    {"[a TO b]", 0, "Range without a field"},
    {"a OR {a TO b}", 5, "Range without a field"},
    // Empty groups and phrases.
    {"()", 0, "Empty group"},
    {"a ()", 2, "Empty group"},
    {"name:()", 5, "Empty group"},
    {"\"\"", 0, "Empty phrase"},
    {"name:\"\"", 5, "Empty phrase"},
    // Escapes and unsupported syntax.
    {"a\\", 1, "Dangling '\\'"},
    {"\\", 0, "Dangling '\\'"},
    {"name:[a\\", 7, "Dangling '\\'"},
    {"a/b", 1, "Unescaped '/'"},
    {"/re/", 0, "Unescaped '/'"},
    // Modifiers.
    {"a^", 2, "Expected a number after '^'"},
    {"a^b", 2, "Expected a number after '^'"},
    {"a^-1", 2, "Expected a number after '^'"},
    {"^2", 0, "'^' must follow a clause"},
    {"~", 0, "'~' must follow a term or phrase"},
    {"(a)~2", 3, "'~' must follow a term or phrase"},
    {"name:[a TO b]~2", 13, "'~' must follow a term or phrase"},
    {"a^2^3", 3, "Repeated '^'"},
    {"a~1~2", 3, "Repeated '~'"},
    // Bytes.
    {"a\0b"s, 1, "Control character"},
    {"a\x01", 1, "Control character"},
    {"\x7f", 0, "Control character"},
    {"\"a\x1b\"", 2, "Control character"},
    {"\xff", 0, "Invalid UTF-8"},
    {"caf\xc3", 3, "Invalid UTF-8"},
    {"caf\xc3(", 3, "Invalid UTF-8"},
    {"\xc0\xaf", 0, "Invalid UTF-8"},
    {"\xe0\x80\xaf", 0, "Invalid UTF-8"},
    {"ok \xed\xa0\x80", 3, "Invalid UTF-8"},
    {"\xf4\x90\x80\x80", 0, "Invalid UTF-8"},
    {"\x80", 0, "Invalid UTF-8"},
};
// clang-format on

TEST(ParseQuery, InvalidQueriesReportWhatAndWhere) {
  for (const auto& c : kInvalid) {
    auto q = parse_query(c.q);
    ASSERT_FALSE(q) << "q=" << c.q << " parsed as " << to_string(*q);
    EXPECT_EQ(q.error().kind, ErrorKind::kInvalidInput) << c.q;
    const std::string& message = q.error().message;
    EXPECT_NE(message.find(c.what), std::string::npos) << "q=" << c.q << ": " << message;
    const std::string where = " at position " + std::to_string(c.position) + ".";
    EXPECT_TRUE(message.ends_with(where)) << "q=" << c.q << ": " << message;
  }
}

std::string nested(std::size_t depth) {
  return std::string(depth, '(') + "a" + std::string(depth, ')');
}

TEST(ParseQuery, NestingIsCapped) {
  auto ok = parse_query(nested(kMaxDepth));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(to_string(*ok), "a");

  auto deep = parse_query(nested(kMaxDepth + 1));
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().message, "Nesting deeper than 32 at position 32.");

  auto field_groups = std::string();
  for (std::size_t i = 0; i <= kMaxDepth; ++i)
    field_groups += "name:(";
  EXPECT_FALSE(parse_query(field_groups + "a" + std::string(kMaxDepth + 1, ')')));

  auto unclosed = parse_query(std::string(kMaxQueryBytes, '('));
  ASSERT_FALSE(unclosed);
  EXPECT_EQ(unclosed.error().message, "Nesting deeper than 32 at position 32.");
}

std::size_t boolean_depth(const Query& q) {
  const auto* b = std::get_if<Boolean>(&q);
  if (b == nullptr) return 0;
  std::size_t deepest = 0;
  for (const auto& c : b->clauses)
    deepest = std::max(deepest, boolean_depth(c.query));
  return 1 + deepest;
}

TEST(ParseQuery, AstDepthIsBounded) {
  // Each level of parentheses adds an OR and an AND Boolean, the most it can.
  std::string q;
  for (std::size_t i = 0; i < kMaxDepth; ++i)
    q += "a OR -b AND (";
  q += "c OR d AND e" + std::string(kMaxDepth, ')');
  auto parsed = parse_query(q);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(boolean_depth(*parsed), 2 * (kMaxDepth + 1));
}

TEST(ParseQuery, LengthIsCapped) {
  std::string longest(kMaxQueryBytes, 'a');
  auto ok = parse_query(longest);
  ASSERT_TRUE(ok);
  EXPECT_EQ(to_string(*ok), longest);

  auto too_long = parse_query(longest + "a");
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().message, "Query longer than 4096 bytes at position 4096.");
}

TEST(ParseQuery, ClausesAreCapped) {
  std::string q;
  for (std::size_t i = 0; i < kMaxClauses; ++i)
    q += "a ";
  auto ok = parse_query(q);
  ASSERT_TRUE(ok);
  ASSERT_TRUE(std::holds_alternative<Boolean>(*ok));
  EXPECT_EQ(std::get<Boolean>(*ok).clauses.size(), kMaxClauses);

  auto too_many = parse_query(q + "b");
  ASSERT_FALSE(too_many);
  EXPECT_EQ(too_many.error().message, "More than 256 clauses at position 512.");

  too_many = parse_query("name:(" + q + "[a TO b])");
  ASSERT_FALSE(too_many);
  EXPECT_EQ(too_many.error().message, "More than 256 clauses at position 518.");
}

TEST(ReferencedFields, ListsEachFieldOnceInOrder) {
  auto q = parse_query(
      "name:a AND (color:b OR hello OR name:c) -properties.color:d \"x y\" tags:[a TO b]");
  ASSERT_TRUE(q);
  const std::vector<Field> expected = {
      {FieldKind::kCommon, "name"},
      {FieldKind::kCustom, "color"},
      {FieldKind::kText, ""},
      {FieldKind::kCommon, "tags"},
  };
  EXPECT_EQ(referenced_fields(*q), expected);
}

TEST(ReferencedFields, MatchAllReferencesNothing) {
  auto q = parse_query("*");
  ASSERT_TRUE(q);
  EXPECT_TRUE(referenced_fields(*q).empty());
  q = parse_query("-type:user");
  ASSERT_TRUE(q);
  EXPECT_EQ(referenced_fields(*q), (std::vector<Field>{{FieldKind::kCommon, "type"}}));
}

bool is_limit_error(const std::string& message) {
  return message.starts_with("Nesting deeper") || message.starts_with("More than") ||
         message.starts_with("Query longer");
}

// Whatever the input, parse_query returns a query or an kInvalidInput error,
// and a query's canonical form parses back to it (unless the longer printout
// runs into a limit).
// Returns whether q parsed.
bool check_robust(const std::string& q) {
  auto parsed = parse_query(q);
  if (!parsed) {
    EXPECT_EQ(parsed.error().kind, ErrorKind::kInvalidInput);
    EXPECT_NE(parsed.error().message.find(" at position "), std::string::npos);
    return false;
  }
  const std::string canonical = to_string(*parsed);
  auto again = parse_query(canonical);
  if (!again) {
    EXPECT_TRUE(is_limit_error(again.error().message))
        << "q=" << q << " printed as " << canonical << ": " << again.error().message;
    return true;
  }
  EXPECT_TRUE(*again == *parsed) << "q=" << q << " printed as " << canonical;
  (void)referenced_fields(*parsed);
  return true;
}

TEST(ParseQuery, SurvivesHostileInput) {
  const std::vector<std::string> hostile = {
      std::string(100000, '('),  std::string(4096, '('),  std::string(4096, ')'),
      std::string(4096, '"'),    std::string(4095, '"'),  std::string(4096, '['),
      std::string(4096, '\\'),   std::string(4095, '\\'), std::string(4096, '-'),
      std::string(4096, '!'),    std::string(4096, '*'),  std::string(4096, ':'),
      std::string(4096, '^'),    std::string(4096, '~'),  std::string(4096, '\0'),
      std::string(4096, '\xff'), std::string(4096, ' '),
  };
  for (const auto& q : hostile)
    check_robust(q);

  std::string chain;
  while (chain.size() < 4000)
    chain += "a AND ";
  check_robust(chain);
  check_robust(chain + "a");
  std::string groups;
  for (int i = 0; i < 32; ++i)
    groups += "-(a AND ";
  check_robust(groups + "b" + std::string(32, ')'));
  std::string fields;
  for (int i = 0; i < 700; ++i)
    fields += "x:y ";
  check_robust(fields);
}

TEST(ParseQuery, SurvivesRandomAndMutatedInput) {
  const std::vector<std::string> pieces = {
      "(",    ")",  "[",      "]",    "{",     "}",    "\"",
      ":",    "^",  "^2",     "~",    "~1",    "!",    "/",
      "\\",   "*",  "?",      "+",    "-",     "&&",   "||",
      "AND",  "OR", "NOT",    " TO ", "a",     "b",    "tom",
      "12",   " ",  "\t",     "\n",   "name:", "x:",   "properties.x:",
      "é",    "日", "\u3000", "*:",   "\0"s,   "\xff", "\xc3",
      "\x80",
  };
  const std::size_t kBadPieces = 4;  // NUL and invalid UTF-8, last
  std::mt19937 rng(20240531);
  auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };

  int random_parsed = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string q;
    const std::size_t n = 1 + pick(16);
    // Two runs in three avoid the bad bytes at the end of `pieces`, so that
    // many inputs parse and reach the round trip.
    const std::size_t choices = i % 3 == 0 ? pieces.size() : pieces.size() - kBadPieces;
    for (std::size_t k = 0; k < n; ++k)
      q += pieces[pick(choices)];
    random_parsed += check_robust(q) ? 1 : 0;
  }

  int mutated_parsed = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string q = kValid[pick(kValid.size())].q;
    const std::size_t edits = 1 + pick(4);
    for (std::size_t e = 0; e < edits; ++e) {
      const std::size_t at = q.empty() ? 0 : pick(q.size() + 1);
      const char byte = static_cast<char>(pick(256));
      switch (pick(3)) {
        case 0:
          q.insert(q.begin() + static_cast<std::ptrdiff_t>(at), byte);
          break;
        case 1:
          if (at < q.size()) q.erase(at, 1);
          break;
        default:
          if (at < q.size()) q[at] = byte;
          break;
      }
    }
    mutated_parsed += check_robust(q) ? 1 : 0;
  }
  std::cout << "random inputs parsed: " << random_parsed << "/3000, mutated: " << mutated_parsed
            << "/3000\n";
  // Both kinds must reach the round-trip check, not only the error paths.
  EXPECT_GT(random_parsed, 100);
  EXPECT_GT(mutated_parsed, 500);
}

}  // namespace
}  // namespace para::search
