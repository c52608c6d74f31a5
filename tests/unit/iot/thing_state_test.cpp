#include "iot/thing_state.h"

#include <gtest/gtest.h>

namespace para::iot {
namespace {

json::object obj(std::string_view text) {
  return parse_json(text).value().as_object();
}

TEST(ThingState, NamesAndIds) {
  EXPECT_EQ(thing_name("myapp", "123"), "myapp-123");
  EXPECT_TRUE(check_thing_id("app", "2037715810541113344"));
  EXPECT_TRUE(check_thing_id("app", "dev_1:a-b"));
  for (const char* bad : {"", "a/b", "a+b", "a#b", "a b", "é", "a.b"}) {
    EXPECT_FALSE(check_thing_id("app", bad)) << bad;
  }
  EXPECT_FALSE(check_thing_id(std::string(60, 'a'), "12345")) << "CN is capped at 64";
  EXPECT_TRUE(check_thing_id(std::string(58, 'a'), "12345"));
}

TEST(ThingState, BrokerNames) {
  EXPECT_EQ(normalize_broker_name("LOCAL").value(), "local");
  EXPECT_EQ(normalize_broker_name("aws").value(), "AWS");
  auto bad = normalize_broker_name("Azure");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("'local'"), std::string::npos);
}

TEST(ThingState, DeviceStateIsReportedWithDesiredOver) {
  auto shadow = obj(R"({"state":{"desired":{"led":"on","cfg":{"a":1}},
                                  "reported":{"led":"off","temp":20,"cfg":{"a":0,"b":2}}}})");
  EXPECT_EQ(to_json(device_state(shadow)), R"({"led":"on","temp":20,"cfg":{"a":1,"b":2}})");
  EXPECT_EQ(to_json(device_state(obj(R"({"state":{}})"))), "{}");
  EXPECT_EQ(to_json(device_state(obj("{}"))), "{}");
  EXPECT_EQ(to_json(device_state(obj(R"({"state":{"reported":{"x":1}}})"))), R"({"x":1})");
}

}  // namespace
}  // namespace para::iot
