#include "api/search_request.h"

#include <gtest/gtest.h>

#include "api/routes.h"

namespace para {
namespace {

ParsedTarget target(std::string_view t) {
  return parse_target(t).value();
}

Result<SearchParams> build(std::string_view querytype, std::string_view t) {
  static const Config config;
  return build_search(querytype, target(t), config, "GET /v1/x");
}

std::string query_of(std::string_view querytype, std::string_view t) {
  auto p = build(querytype, t);
  EXPECT_TRUE(p) << t << ": " << (p ? "" : p.error().message);
  return p ? search::to_string(p->request.query) : "";
}

TEST(SearchRequest, QueryTypesBecomeQueries) {
  EXPECT_EQ(query_of("", "/x?q=name:a"), "name:a");
  EXPECT_EQ(query_of("", "/x"), "*");
  EXPECT_EQ(query_of("id", "/x?id=42"), "id:42");
  EXPECT_EQ(query_of("ids", "/x?ids=1&ids=2"), "(id:1 id:2)");
  EXPECT_EQ(query_of("prefix", "/x?field=name&prefix=ab"), "name:ab*");
  EXPECT_EQ(query_of("tagged", "/x?tags=a&tags=b"), "(+tags:a +tags:b)");
  EXPECT_EQ(query_of("in", "/x?field=color&terms=red&terms=blue"),
            "(properties.color:red properties.color:blue)");
  EXPECT_EQ(query_of("terms", "/x?terms=a:1&terms=b%20%3E%3D:5"),
            "(+properties.a:1 +properties.b:[5 TO *])");
  EXPECT_EQ(query_of("terms", "/x?terms=a:1&terms=b%3C:5&matchall=false"),
            "(properties.a:1 properties.b:[* TO 5})");
  EXPECT_EQ(query_of("wildcard", "/x?field=name&q=a*b"), "name:a*b");
  EXPECT_EQ(query_of("nested", "/x?field=addr&q=city:Sofia"), "properties.addr.city:Sofia");
  EXPECT_EQ(query_of("similar", "/x?like=Big%20red%20dog"), "(big red dog)");
}

TEST(SearchRequest, Paging) {
  auto p = build("", "/x?limit=1000&page=3&sort=name&desc=false");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->request.limit, 256) << "capped at para.max_page_limit";
  EXPECT_EQ(p->request.offset, 2 * 256);
  EXPECT_EQ(p->request.sort_field, "name");
  EXPECT_FALSE(p->request.descending);
  EXPECT_TRUE(build("", "/x")->request.descending) << "descending unless asked";
  EXPECT_TRUE(build("", "/x?desc=TRUE")->request.descending);
  EXPECT_FALSE(build("", "/x?desc=FALSE")->request.descending) << "Boolean.parseBoolean";
  EXPECT_FALSE(build("", "/x?desc=maybe")->request.descending);
  auto beyond = build("", "/x?page=5000");
  EXPECT_EQ(beyond->page, 0) << "Para: beyond max_pages is the first page";
  auto cursor = build("", "/x?lastKey=abc");
  EXPECT_EQ(cursor->request.after, "abc");
  auto nearby = build("nearby", "/x?latlng=1.5,2.5&radius=3");
  ASSERT_TRUE(nearby);
  ASSERT_TRUE(nearby->request.near);
  EXPECT_EQ(nearby->request.near->radius_km, 3);
  EXPECT_TRUE(build("count", "/x?q=a")->request.count_only);
}

TEST(SearchRequest, BadParametersAreNamed) {
  struct Case {
    const char* querytype;
    const char* target;
    const char* message;
  };
  for (const auto& c :
       {Case{"", "/x?q=(a", "Invalid query string syntax q=(a in request GET /v1/x"},
        Case{"id", "/x", "Parameter 'id' is required"},
        Case{"prefix", "/x?prefix=a", "Parameter 'field' is required"},
        Case{"prefix", "/x?field=a%20b&prefix=a", "not a valid field name"},
        Case{"nearby", "/x?latlng=200,0", "latlng"},
        Case{"nearby", "/x?latlng=1,1&radius=-1", "radius"},
        Case{"terms", "/x?terms=nocolon", "field:value"}, Case{"", "/x?limit=many", "'limit'"},
        Case{"", "/x?page=-1", "'page'"}}) {
    auto p = build(c.querytype, c.target);
    ASSERT_FALSE(p) << c.target;
    EXPECT_EQ(p.error().kind, ErrorKind::kInvalidInput);
    EXPECT_NE(p.error().message.find(c.message), std::string::npos) << p.error().message;
  }
}

TEST(Router, MostSpecificPatternWinsThenMethod) {
  const RoutePattern table[] = {{"GET", "/v1/{type}"},      {"POST", "/v1/{type}"},
                                {"GET", "/v1/_types"},      {"GET", "/v1/{type}/{id}"},
                                {"GET", "/v1/search/{qt}"}, {"DELETE", "/v1/{type}/{id}"}};
  Router router(table);
  EXPECT_EQ(router.match("GET", {"v1", "_types"}).value().index, 2u);
  EXPECT_EQ(router.match("POST", {"v1", "cats"}).value().index, 1u);
  auto typed = router.match("GET", {"v1", "cats", "7"}).value();
  EXPECT_EQ(typed.index, 3u);
  EXPECT_EQ(typed.path_params, (std::vector<std::string>{"cats", "7"}));
  EXPECT_EQ(router.match("GET", {"v1", "search", "id"}).value().index, 4u);
  auto wrong_method = router.match("POST", {"v1", "_types"});
  ASSERT_FALSE(wrong_method);
  EXPECT_EQ(wrong_method.error().kind, ErrorKind::kMethodNotAllowed);
  EXPECT_EQ(router.match("GET", {"v1", "a", "b", "c"}).error().kind, ErrorKind::kNotFound);
}

TEST(ParsedTarget, DecodesSegmentsAndParams) {
  auto t = target("/v1/_id/app%3Ax/?q=a+b&q=c&empty&x=%20");
  EXPECT_EQ(t.segments, (std::vector<std::string>{"v1", "_id", "app:x"}));
  EXPECT_EQ(t.raw_path, "/v1/_id/app%3Ax/");
  EXPECT_EQ(t.param("q"), "a b") << "first value, '+' is a space";
  EXPECT_EQ(t.params_named("q").size(), 2u);
  EXPECT_TRUE(t.has_param("empty"));
  EXPECT_EQ(t.param("x"), " ");
  EXPECT_FALSE(parse_target("/v1/%zz"));
  EXPECT_FALSE(parse_target("no-slash"));
}

}  // namespace
}  // namespace para
