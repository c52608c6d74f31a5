#include "core/para_object.h"

#include <gtest/gtest.h>

namespace para {
namespace {

json::object obj(std::string_view text) {
  return parse_json(text).value().as_object();
}

ParaObject from(std::string_view text, std::string_view type = "cat") {
  auto o = object_from_json(obj(text), type);
  EXPECT_TRUE(o) << (o ? "" : o.error().message);
  return o ? *o : ParaObject{};
}

TEST(ParaObject, ReadsCommonFieldsAndCollectsProperties) {
  auto o = from(R"({"id":"1","type":"cat","name":"Tom","tags":["a",null,"b"],"votes":3,
                    "version":2,"stored":false,"color":"grey","nested":{"x":1},"plural":"x",
                    "objectURI":"y"})");
  EXPECT_EQ(o.id, "1");
  EXPECT_EQ(o.name, "Tom");
  ASSERT_TRUE(o.tags);
  EXPECT_EQ(*o.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(o.votes, 3);
  EXPECT_EQ(o.version, 2);
  EXPECT_FALSE(o.stored);
  EXPECT_EQ(o.properties.size(), 2u) << "derived keys are not properties";
  EXPECT_EQ(o.properties.at("color").as_string(), "grey");
}

TEST(ParaObject, DeclaredFieldsOfCoreTypesAreNotProperties) {
  auto t = from(R"({"serviceBroker":"local","deviceState":{"on":true},"color":"red"})", "thing");
  EXPECT_TRUE(t.fields.contains("serviceBroker"));
  EXPECT_TRUE(t.fields.contains("deviceState"));
  EXPECT_TRUE(t.properties.contains("color"));
}

TEST(ParaObject, PropertiesMapReplacesThenLooseKeysAdd) {
  auto o = from(R"({"a":1,"properties":{"b":2,"c":null}})");
  EXPECT_FALSE(o.properties.contains("c"));
  EXPECT_EQ(o.properties.size(), 2u);
  ASSERT_TRUE(apply_patch(o, obj(R"({"properties":{"z":9},"y":8})")));
  EXPECT_EQ(to_json(o.properties), R"({"z":9,"y":8})");
}

// Client JSON puts properties beside the object's own fields: a property
// named like one of them would be a second key for it, and JSON parsers keep
// the last (a forged id, appid or deviceState).
TEST(ParaObject, PropertiesCannotBeNamedLikeTheObjectsOwnFields) {
  for (const auto& [body, type] : std::vector<std::pair<const char*, const char*>>{
           {R"({"properties":{"id":"evil"}})", "cat"},
           {R"({"properties":{"appid":"other"}})", "cat"},
           {R"({"properties":{"objectURI":"/x"}})", "cat"},
           {R"({"properties":{"properties":{}}})", "cat"},
           {R"({"properties":{"deviceState":{"fake":1}}})", "thing"}}) {
    auto o = object_from_json(obj(body), type);
    ASSERT_FALSE(o) << body;
    EXPECT_EQ(o.error().kind, ErrorKind::kInvalidInput);
    EXPECT_NE(o.error().message.find("'properties' cannot hold"), std::string::npos) << body;
  }
  auto cat = from(R"({"properties":{"deviceState":1}})");  // not a field of a cat
  EXPECT_TRUE(cat.properties.contains("deviceState"));
  EXPECT_FALSE(apply_patch(cat, obj(R"({"properties":{"type":"app"}})")));
  EXPECT_TRUE(cat.properties.contains("deviceState")) << "a refused patch keeps the properties";
}

TEST(ParaObject, StoredPropertiesNamedLikeOwnFieldsAreDroppedNotFatal) {
  // Written before the rule above: readable, and shown with one key each.
  auto o = object_from_storage(
      R"({"id":"1","type":"cat","appid":"a","properties":{"id":"evil","color":"red"}})");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(to_json(o->properties), R"({"color":"red"})");
  const std::string json = to_client_json(*o);
  EXPECT_EQ(json.find("evil"), std::string::npos) << json;
}

TEST(ParaObject, ResponseExtrasWinOverPropertiesOfTheSameName) {
  auto thing = from(R"({"id":"t","deviceDetails":"forged"})", "thing");
  thing.response_extras["deviceDetails"] = json::object{{"thingName", "a-t"}};
  const std::string json = to_client_json(thing);
  EXPECT_EQ(json.find("forged"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("deviceDetails":{"thingName":"a-t"})"), std::string::npos) << json;
}

TEST(ParaObject, WrongTypesAreRejectedWithTheFieldName) {
  struct Case {
    const char* body;
    const char* message;
  };
  for (const auto& c :
       {Case{R"({"name":1})", "Field 'name' must be a string."},
        Case{R"({"tags":"a"})", "Field 'tags' must be an array of strings."},
        Case{R"({"tags":[1]})", "Field 'tags' must be an array of strings."},
        Case{R"({"timestamp":1.5})", "Field 'timestamp' must be an integer."},
        Case{R"({"votes":"1"})", "Field 'votes' must be an integer."},
        Case{R"({"version":18446744073709551615})",
             "Field 'version' must be an integer no larger than 9223372036854775807."},
        Case{R"({"cached":1})", "Field 'cached' must be true or false."},
        Case{R"({"properties":"x"})", "Field 'properties' must be an object."}}) {
    auto o = object_from_json(obj(c.body), "cat");
    ASSERT_FALSE(o) << c.body;
    EXPECT_EQ(o.error().message, c.message);
  }
  auto whole = object_from_json(obj(R"({"timestamp":1700000000000.0})"), "cat");
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->timestamp, 1700000000000);
}

TEST(ParaObject, PatchSkipsLockedFieldsAndNulls) {
  auto o = from(R"({"id":"1","type":"thing","timestamp":5,"name":"a","serviceBroker":"local",
                    "deviceMetadata":{"k":1}})",
                "thing");
  o.type = "thing";
  ASSERT_TRUE(apply_patch(o, obj(R"({"id":"2","type":"x","timestamp":9,"parentid":"p","name":null,
                                     "serviceBroker":"AWS","deviceMetadata":{},"deviceState":{"a":1},
                                     "extra":true})")));
  EXPECT_EQ(o.id, "1");
  EXPECT_EQ(o.type, "thing");
  EXPECT_EQ(o.timestamp, 5);
  EXPECT_EQ(o.parentid, "");
  EXPECT_EQ(o.name, "a") << "null keeps the old value";
  EXPECT_EQ(o.fields.at("serviceBroker").as_string(), "local");
  EXPECT_EQ(to_json(o.fields.at("deviceMetadata")), R"({"k":1})");
  EXPECT_EQ(to_json(o.fields.at("deviceState")), R"({"a":1})");
  EXPECT_TRUE(o.properties.at("extra").as_bool());
}

TEST(ParaObject, ClientJsonFlattensHidesAndDerives) {
  ParaObject o = from(R"({"id":"42","type":"app","secret":"s","datatypes":{},"color":"x"})", "app");
  o.type = "app";
  o.response_extras["once"] = 1;
  auto text = to_client_json(o);
  auto v = parse_json(text).value().as_object();
  EXPECT_EQ(v.at("name").as_string(), "ParaObject 42") << "Para's name fallback";
  EXPECT_EQ(v.at("plural").as_string(), "apps");
  EXPECT_EQ(v.at("objectURI").as_string(), "/app/42");
  EXPECT_EQ(v.at("color").as_string(), "x");
  EXPECT_EQ(v.at("once").as_int64(), 1);
  EXPECT_EQ(v.at("votes").as_int64(), 0);
  EXPECT_TRUE(v.at("stored").as_bool());
  EXPECT_FALSE(v.contains("secret"));
  EXPECT_FALSE(v.contains("timestamp")) << "unset fields are omitted";
  EXPECT_FALSE(v.contains("properties"));
}

TEST(ParaObject, SelectKeepsOnlyNamedFields) {
  ParaObject o = from(R"({"id":"1","name":"n","color":"c","size":2})");
  o.type = "cat";
  EXPECT_EQ(to_client_json(o, FieldSelection("name, color,secret")), R"({"name":"n","color":"c"})");
  EXPECT_TRUE(FieldSelection("").empty());
}

TEST(ParaObject, StorageRoundTripIsExact) {
  ParaObject o = from(R"({"id":"a:b@c","type":"thing","appid":"app1","parentid":"p","creatorid":"u",
                          "timestamp":1,"updated":2,"name":"n","tags":[],"votes":-1,"version":7,
                          "indexed":false,"deviceMetadata":{"cert":"PEM"},"x":0.1,
                          "properties":{"y":[1,2]}})",
                      "thing");
  auto back = object_from_storage(to_storage_json(o));
  ASSERT_TRUE(back);
  EXPECT_EQ(to_storage_json(*back), to_storage_json(o));
  EXPECT_EQ(back->fields.at("deviceMetadata").at("cert").as_string(), "PEM")
      << "hidden fields are stored";
  EXPECT_TRUE(back->tags && back->tags->empty()) << "an empty tag list is kept";
  EXPECT_FALSE(object_from_storage("{broken"));
}

TEST(ParaObject, ObjectUriIsFormEncoded) {
  ParaObject o;
  o.type = "cat";
  o.id = "a b:c/d";
  EXPECT_EQ(object_uri(o), "/cat/a+b%3Ac%2Fd");
}

}  // namespace
}  // namespace para
