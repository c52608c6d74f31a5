// CORS for browser clients: which requests are preflights, and what the
// answers carry.
#include "api/cors.h"

#include <gtest/gtest.h>

namespace para {
namespace {

std::string header_of(const HttpResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return "<absent>";
}

HttpRequest preflight(std::string asked_headers = "authorization,content-type,x-amz-date") {
  HttpRequest r{"OPTIONS",
                "/v1/cats",
                {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}}};
  if (!asked_headers.empty())
    r.headers.emplace_back("Access-Control-Request-Headers", asked_headers);
  return r;
}

TEST(Cors, PreflightsAreAnsweredWithWhatTheBrowserAskedFor) {
  auto answer = cors_preflight(preflight());
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200u);
  EXPECT_TRUE(answer->body.empty());
  EXPECT_EQ(header_of(*answer, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(header_of(*answer, "Access-Control-Allow-Methods"),
            "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
  EXPECT_EQ(header_of(*answer, "Access-Control-Allow-Headers"),
            "authorization,content-type,x-amz-date");
  EXPECT_EQ(header_of(*answer, "Access-Control-Max-Age"), "3600");
}

TEST(Cors, OddRequestedHeaderListsAreNotEchoed) {
  for (std::string asked :
       {std::string(), std::string("x\r\nSet-Cookie: a=b"), std::string(2000, 'a')}) {
    auto answer = cors_preflight(preflight(asked));
    ASSERT_TRUE(answer);
    EXPECT_EQ(header_of(*answer, "Access-Control-Allow-Headers"),
              "Authorization, Content-Type, X-Amz-Date");
  }
}

TEST(Cors, OnlyOptionsWithOriginAndRequestMethodIsAPreflight) {
  HttpRequest no_origin{"OPTIONS", "/v1/cats", {{"Access-Control-Request-Method", "POST"}}};
  HttpRequest no_method{"OPTIONS", "/v1/cats", {{"Origin", "https://app.example"}}};
  HttpRequest get{"GET",
                  "/v1/cats",
                  {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}}};
  EXPECT_FALSE(cors_preflight(no_origin));
  EXPECT_FALSE(cors_preflight(no_method));
  EXPECT_FALSE(cors_preflight(get));
}

TEST(Cors, ResponsesToAnOriginMayBeRead) {
  HttpResponse from_page;
  add_cors_headers({"GET", "/v1/cats", {{"Origin", "https://app.example"}}}, from_page);
  EXPECT_EQ(header_of(from_page, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(header_of(from_page, "Access-Control-Expose-Headers"), "Location");
  HttpResponse same_origin;
  add_cors_headers({"GET", "/v1/cats", {}}, same_origin);
  EXPECT_TRUE(same_origin.headers.empty());
}

}  // namespace
}  // namespace para
