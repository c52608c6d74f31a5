#include <gtest/gtest.h>

#include "iot/aws/aws_broker.h"

namespace para::iot {
namespace {

TEST(AwsPolicy, DefaultPolicyIsLimitedToTheDevice) {
  auto doc = parse_json(default_policy_document("eu-west-1", "123456789012", "app-42")).value();
  const auto& statements = doc.at("Statement").as_array();
  ASSERT_EQ(statements.size(), 4u);
  for (const auto& s : statements) {
    std::string resource(s.at("Resource").as_string());
    EXPECT_TRUE(resource.starts_with("arn:aws:iot:eu-west-1:123456789012:")) << resource;
    EXPECT_NE(resource.find("app-42"), std::string::npos) << resource;
    EXPECT_EQ(s.at("Effect").as_string(), "Allow");
  }
  EXPECT_EQ(statements[0].at("Resource").as_string(),
            "arn:aws:iot:eu-west-1:123456789012:client/app-42");
  EXPECT_TRUE(validate_policy_document(doc)) << "our own policy passes our validation";
}

TEST(AwsPolicy, CustomPoliciesAreValidated) {
  const char* good =
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect"],"Resource":"*"}]})";
  EXPECT_TRUE(validate_policy_document(parse_json(good).value()));
  EXPECT_TRUE(validate_policy_document(json::value(good))) << "as JSON text too";
  for (
      const char* bad :
      {R"({"Statement":[]})", R"({"Version":"1","Statement":[]})", R"([1])", R"("not json")",
       R"({"Version":"1","Statement":[{"Effect":"Maybe","Action":"iot:Connect","Resource":"*"}]})",
       R"({"Version":"1","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]})",
       R"({"Version":"1","Statement":[{"Effect":"Allow","Action":"iot:Connect"}]})",
       R"({"Version":"1","Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]})"}) {
    auto v = parse_json(bad);
    json::value input = v ? *v : json::value(bad);
    auto r = validate_policy_document(input);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalidInput);
    EXPECT_NE(r.error().message.find("policyJSON"), std::string::npos);
  }
  std::string huge =
      R"({"Version":"1","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":")" +
      std::string(3000, 'x') + R"("}]})";
  EXPECT_FALSE(validate_policy_document(parse_json(huge).value()));
}

}  // namespace
}  // namespace para::iot
