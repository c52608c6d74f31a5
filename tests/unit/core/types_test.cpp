#include "core/types.h"

#include <gtest/gtest.h>

namespace para {
namespace {

TEST(Types, PluralRulesFollowPara) {
  EXPECT_EQ(plural_of("cat"), "cats");
  EXPECT_EQ(plural_of("address"), "addresses");
  EXPECT_EQ(plural_of("category"), "categories");
  EXPECT_EQ(plural_of("boxes"), "boxes");
  EXPECT_EQ(plural_of("categories"), "categories");
  EXPECT_EQ(plural_of("thing"), "things");
  EXPECT_EQ(plural_of("sysprop"), "sysprops");
  EXPECT_EQ(plural_of("bus"), "buses");
  EXPECT_EQ(plural_of(""), "");
}

TEST(Types, CoreTypesAndTheirFields) {
  const TypeSchema* thing = find_core_type("thing");
  ASSERT_NE(thing, nullptr);
  ASSERT_NE(thing->find("deviceMetadata"), nullptr);
  EXPECT_TRUE(thing->find("deviceMetadata")->hidden);
  EXPECT_TRUE(thing->find("serviceBroker")->locked);
  EXPECT_FALSE(thing->find("deviceState")->locked);
  EXPECT_TRUE(find_core_type("app")->find("secret")->hidden);
  EXPECT_EQ(find_core_type("cat"), nullptr);
  EXPECT_EQ(core_types().size(), 10u);
}

TEST(Types, CommonFields) {
  EXPECT_TRUE(is_common_field("id"));
  EXPECT_TRUE(is_common_field("tags"));
  EXPECT_FALSE(is_common_field("color"));
  EXPECT_TRUE(is_locked_common_field("parentid"));
  EXPECT_FALSE(is_locked_common_field("name"));
}

TEST(Types, ValidTypeNames) {
  EXPECT_TRUE(is_valid_type_name("cat"));
  EXPECT_TRUE(is_valid_type_name("my-type_2"));
  EXPECT_FALSE(is_valid_type_name(""));
  EXPECT_FALSE(is_valid_type_name("_batch"));
  EXPECT_FALSE(is_valid_type_name("search"));
  EXPECT_FALSE(is_valid_type_name("utils"));
  EXPECT_FALSE(is_valid_type_name("a/b"));
  EXPECT_FALSE(is_valid_type_name("a b"));
  EXPECT_FALSE(is_valid_type_name(std::string(65, 'a')));
}

}  // namespace
}  // namespace para
