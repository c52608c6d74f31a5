#include "iot/shadow.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace para::iot {
namespace {

// Small round timestamps keep the expected payloads readable.
constexpr std::int64_t kT0 = 1000;
constexpr std::int64_t kT1 = 2000;
constexpr std::int64_t kT2 = 3000;

json::value parse(std::string_view text) {
  auto v = parse_json(text);
  if (!v) ADD_FAILURE() << "bad test JSON: " << text;
  return v ? *v : json::value();
}

json::object obj(std::string_view text) {
  json::value v = parse(text);
  if (!v.is_object()) ADD_FAILURE() << "not an object: " << text;
  return v.is_object() ? v.get_object() : json::object();
}

std::string text(const json::object& o) {
  return to_json(o);
}

UpdateOutcome accept(const Shadow& s, std::string_view payload, std::int64_t now = kT0,
                     const ShadowLimits& limits = {}) {
  auto r = apply_update(s, payload, now, limits);
  if (!r) {
    ADD_FAILURE() << "rejected " << r.error().code << " '" << r.error().message
                  << "': " << payload.substr(0, 200);
    return {};
  }
  return *r;
}

ShadowError reject(const Shadow& s, std::string_view payload, std::int64_t now = kT0,
                   const ShadowLimits& limits = {}) {
  auto r = apply_update(s, payload, now, limits);
  if (r) {
    ADD_FAILURE() << "accepted: " << payload.substr(0, 200);
    return {};
  }
  return r.error();
}

Shadow build(const std::vector<std::string>& payloads, std::int64_t now = kT0) {
  Shadow s;
  for (const auto& p : payloads) {
    s = accept(s, p, now).shadow;
  }
  return s;
}

std::string desired_doc(std::string_view desired) {
  return R"({"state":{"desired":)" + std::string(desired) + "}}";
}

std::string reported_doc(std::string_view reported) {
  return R"({"state":{"reported":)" + std::string(reported) + "}}";
}

// `objects` nested objects around `leaf`: nest(2, "1") == {"a":{"a":1}}. As a
// section, the outermost object is level 1.
std::string nest(int objects, std::string_view leaf) {
  std::string out;
  for (int i = 0; i < objects; ++i) {
    out += R"({"a":)";
  }
  out += leaf;
  out.append(static_cast<std::size_t>(objects), '}');
  return out;
}

// ============================================================ validation ===

struct ErrorCase {
  const char* name;
  std::string payload;
  int code;
  std::string message;
};

std::vector<ErrorCase> error_cases() {
  const std::string bad_json(kMsgInvalidJson);
  const std::string enc(kMsgUnsupportedEncoding);
  const std::string deep(kMsgTooDeep);
  const std::string version(kMsgInvalidVersion);
  const std::string token(kMsgInvalidClientToken);
  const std::string long_token(65, 't');
  return {
      {"bad utf-8 lead byte", "\xff", 415, enc},
      {"bad utf-8 in a string", "{\"state\":{\"desired\":{\"a\":\"\xc3\x28\"}}}", 415, enc},
      {"overlong utf-8", "{\"state\":{\"desired\":{\"a\":\"\xc0\xaf\"}}}", 415, enc},
      {"utf-8 surrogate", "{\"state\":{\"desired\":{\"a\":\"\xed\xa0\x80\"}}}", 415, enc},
      {"utf-8 above U+10FFFF", "{\"state\":{\"desired\":{\"a\":\"\xf4\x90\x80\x80\"}}}", 415, enc},
      {"truncated utf-8", "{\"state\":{}}\xe2\x82", 415, enc},
      {"empty payload", "", 400, bad_json},
      {"whitespace payload", "  \n", 400, bad_json},
      {"not json", "hello", 400, bad_json},
      {"array", "[]", 400, bad_json},
      {"string", R"("state")", 400, bad_json},
      {"number", "42", 400, bad_json},
      {"null", "null", 400, bad_json},
      {"truncated object", R"({"state":{)", 400, bad_json},
      {"trailing data", R"({"state":{}} {})", 400, bad_json},
      {"trailing comma", R"({"state":{},})", 400, bad_json},
      {"comment", R"({"state":{} /* c */})", 400, bad_json},
      {"lone surrogate escape", R"({"state":{"desired":{"a":"\ud800"}}})", 400, bad_json},
      {"number overflow", R"({"state":{"desired":{"a":1e999}}})", 400, bad_json},
      {"empty object", "{}", 400, std::string(kMsgMissingState)},
      {"only version", R"({"version":1})", 400, std::string(kMsgMissingState)},
      {"state in wrong case", R"({"State":{}})", 400, std::string(kMsgMissingState)},
      {"state number", R"({"state":1})", 400, std::string(kMsgStateNotObject)},
      {"state string", R"({"state":"x"})", 400, std::string(kMsgStateNotObject)},
      {"state array", R"({"state":[]})", 400, std::string(kMsgStateNotObject)},
      {"state bool", R"({"state":true})", 400, std::string(kMsgStateNotObject)},
      {"desired number", R"({"state":{"desired":1}})", 400, std::string(kMsgDesiredNotObject)},
      {"desired array", R"({"state":{"desired":[]}})", 400, std::string(kMsgDesiredNotObject)},
      {"desired string", R"({"state":{"desired":"x"}})", 400, std::string(kMsgDesiredNotObject)},
      {"reported bool", R"({"state":{"reported":false}})", 400, std::string(kMsgReportedNotObject)},
      {"reported array", R"({"state":{"reported":[1]}})", 400, std::string(kMsgReportedNotObject)},
      {"delta is not writable", R"({"state":{"delta":{"a":1}}})", 400,
       "State contains an invalid node: 'delta'"},
      {"unknown node after valid ones", R"({"state":{"desired":{},"foo":1}})", 400,
       "State contains an invalid node: 'foo'"},
      {"unknown node is shown raw", R"({"state":{"Desired":{}}})", 400,
       "State contains an invalid node: 'Desired'"},
      {"unicode unknown node", R"({"state":{"zählen":null}})", 400,
       "State contains an invalid node: 'zählen'"},
      {"empty unknown node", R"({"state":{"":{}}})", 400, "State contains an invalid node: ''"},
      {"version string", R"({"state":{},"version":"1"})", 400, version},
      {"version fraction", R"({"state":{},"version":1.5})", 400, version},
      {"version written as double", R"({"state":{},"version":1.0})", 400, version},
      {"version exponent", R"({"state":{},"version":1e2})", 400, version},
      {"version negative", R"({"state":{},"version":-1})", 400, version},
      {"version above int64", R"({"state":{},"version":9223372036854775808})", 400, version},
      {"version bool", R"({"state":{},"version":true})", 400, version},
      {"version object", R"({"state":{},"version":{}})", 400, version},
      {"token number", R"({"state":{},"clientToken":5})", 400, token},
      {"token bool", R"({"state":{},"clientToken":false})", 400, token},
      {"token object", R"({"state":{},"clientToken":{}})", 400, token},
      {"token array", R"({"state":{},"clientToken":["a"]})", 400, token},
      {"token 65 bytes", R"({"state":{},"clientToken":")" + long_token + R"("})", 400, token},
      {"desired 7 levels", desired_doc(nest(7, "1")), 400, deep},
      {"reported 7 levels", reported_doc(nest(7, "1")), 400, deep},
      {"7 levels through arrays", desired_doc(R"({"a":[[[[[[1]]]]]]})"), 400, deep},
      {"7 levels mixing arrays and objects", desired_doc(R"({"a":[{"b":[{"c":[[1]]}]}]})"), 400,
       deep},
      {"raw nesting beyond 32", std::string(33, '[') + std::string(33, ']'), 400, deep},
      {"raw nesting in an ignored member",
       R"({"state":{},"x":)" + std::string(40, '[') + std::string(40, ']') + "}", 400, deep},
      {"null in an array", desired_doc(R"({"a":[1,null]})"), 400, bad_json},
      {"null in a nested array", reported_doc(R"({"a":{"b":[[null]]}})"), 400, bad_json},
      {"null in an array inside an array of objects", desired_doc(R"({"a":[{"b":[null]}]})"), 400,
       bad_json},
  };
}

TEST(ShadowUpdateErrors, EveryRuleRejectsWithAwsCodeAndMessage) {
  for (const auto& c : error_cases()) {
    SCOPED_TRACE(c.name);
    ShadowError e = reject(Shadow(), c.payload);
    EXPECT_EQ(e.code, c.code);
    EXPECT_EQ(e.message, c.message);
    EXPECT_FALSE(e.client_token.has_value());
  }
}

TEST(ShadowUpdateErrors, ValidNeighboursOfEachRuleAreAccepted) {
  const std::string token64(64, 't');
  const std::vector<std::string> ok = {
      R"({"state":{}})",
      R"({"state":null})",
      R"({"state":{"desired":null,"reported":null}})",
      R"({"state":{"desired":{},"reported":{}}})",
      R"({"state":{},"version":null,"clientToken":null})",
      R"({"state":{},"version":0})",
      R"({"state":{},"clientToken":")" + token64 + R"("})",
      R"({"state":{},"clientToken":""})",
      R"({"state":{},"other":[1,{"x":null}],"timestamp":"ignored"})",
      desired_doc(nest(6, "1")),
      desired_doc(nest(5, "[1]")),
      desired_doc(nest(6, "{}")),
      desired_doc(nest(6, "[]")),
      desired_doc(R"({"a":[[[[[1]]]]]})"),
      desired_doc(R"({"a":[{"x":null}]})"),
      desired_doc(R"({"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["})"),
      " \t\n" + desired_doc(R"({"a":1})") + "\n",
  };
  for (const auto& payload : ok) {
    SCOPED_TRACE(payload);
    EXPECT_TRUE(apply_update(Shadow(), payload, kT0));
  }
}

TEST(ShadowUpdateErrors, FirstFailingRuleWins) {
  const std::string long_token(65, 'x');
  Shadow v1 = build({R"({"state":{}})"});
  struct Case {
    const char* name;
    std::string payload;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"missing state before bad token", R"({"clientToken":5})", std::string(kMsgMissingState)},
      {"state type before bad version", R"({"state":1,"version":"x"})",
       std::string(kMsgStateNotObject)},
      {"desired type before unknown node", R"({"state":{"foo":1,"desired":2}})",
       std::string(kMsgDesiredNotObject)},
      {"desired type before reported type", R"({"state":{"reported":2,"desired":2}})",
       std::string(kMsgDesiredNotObject)},
      {"unknown node before bad version", R"({"state":{"x":1},"version":"x"})",
       "State contains an invalid node: 'x'"},
      {"version before token", R"({"state":{},"version":"x","clientToken":5})",
       std::string(kMsgInvalidVersion)},
      {"token before depth", desired_doc(nest(7, "1")).insert(1, R"("clientToken":5,)"),
       std::string(kMsgInvalidClientToken)},
      {"depth before null in array",
       R"({"state":{"desired":{"n":[null]},"reported":)" + nest(7, "1") + "}}",
       std::string(kMsgTooDeep)},
      {"null in array before version conflict", R"({"state":{"desired":{"n":[null]}},"version":7})",
       std::string(kMsgInvalidJson)},
      {"version conflict before size",
       R"({"state":{"desired":{"a":")" + std::string(9000, 'x') + R"("}},"version":7})",
       std::string(kMsgVersionConflict)},
      {"payload size before encoding", "\xff" + std::string(200 * 1024, ' '),
       std::string(kMsgTooLarge)},
      {"encoding before json", "{\xff", std::string(kMsgUnsupportedEncoding)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(reject(v1, c.payload).message, c.message);
  }
}

TEST(ShadowUpdateErrors, RejectionsEchoOnlyAValidClientToken) {
  Shadow v1 = build({R"({"state":{}})"});
  struct Case {
    std::string payload;
    int code;
    std::optional<std::string> token;
  };
  const std::vector<Case> cases = {
      {R"({"clientToken":"t1"})", 400, "t1"},
      {R"({"state":5,"clientToken":"t2"})", 400, "t2"},
      {R"({"state":{"x":1},"clientToken":"t3"})", 400, "t3"},
      {R"({"state":{},"version":"v","clientToken":"t4"})", 400, "t4"},
      {R"({"state":{"desired":{"a":[null]}},"clientToken":"t5"})", 400, "t5"},
      {R"({"state":{},"version":5,"clientToken":"t6"})", 409, "t6"},
      {R"({"state":{"desired":{"a":")" + std::string(9000, 'x') + R"("}},"clientToken":"t7"})", 413,
       "t7"},
      {R"({"state":{},"clientToken":")" + std::string(65, 'x') + R"("})", 400, std::nullopt},
      {R"({"state":5,"clientToken":7})", 400, std::nullopt},
      {R"({"state":{},"clientToken":"t8")", 400, std::nullopt},  // not JSON
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.payload.substr(0, 80));
    ShadowError e = reject(v1, c.payload);
    EXPECT_EQ(e.code, c.code);
    EXPECT_EQ(e.client_token, c.token);
  }
}

TEST(ShadowUpdateErrors, PayloadSizeLimitIsCheckedBeforeParsing) {
  ShadowLimits limits;
  limits.max_payload_bytes = 64;
  std::string payload = R"({"state":{}})";
  payload.resize(64, ' ');
  EXPECT_TRUE(apply_update(Shadow(), payload, kT0, limits));
  payload.push_back(' ');
  ShadowError e = reject(Shadow(), payload, kT0, limits);
  EXPECT_EQ(e.code, 413);
  EXPECT_EQ(e.message, kMsgTooLarge);
  // The default is AWS's 128 KB message limit.
  std::string big = R"({"state":{}})" + std::string(128 * 1024 - 12, ' ');
  EXPECT_TRUE(apply_update(Shadow(), big, kT0));
  EXPECT_EQ(reject(Shadow(), big + " ").code, 413);
}

TEST(ShadowUpdateErrors, DuplicateKeysKeepTheLastValue) {
  auto out = accept(Shadow(), R"({"state":{"desired":{"a":1,"a":2}}})");
  EXPECT_EQ(text(out.shadow.desired()), R"({"a":2})");
}

// ============================================================== versions ===

TEST(ShadowVersion, FirstUpdateIsVersionOneAndEveryAcceptedUpdateAddsOne) {
  const std::vector<std::string> updates = {
      desired_doc(R"({"a":1})"),
      R"({"state":null})",
      R"({"state":{}})",
      R"({"state":{"desired":{}}})",
      R"({"state":{"desired":null}})",
      reported_doc(R"({"a":1})"),
  };
  Shadow s;
  EXPECT_EQ(s.version(), 0);
  EXPECT_FALSE(s.exists());
  for (std::size_t i = 0; i < updates.size(); ++i) {
    SCOPED_TRACE(updates[i]);
    s = accept(s, updates[i]).shadow;
    EXPECT_EQ(s.version(), static_cast<std::int64_t>(i + 1));
    EXPECT_TRUE(s.exists());
  }
}

TEST(ShadowVersion, MismatchingVersionIsAConflict) {
  Shadow v2 = build({desired_doc(R"({"a":1})"), desired_doc(R"({"a":2})")});
  for (std::int64_t wrong : {0, 1, 3, 100}) {
    SCOPED_TRACE(wrong);
    ShadowError e =
        reject(v2, R"({"state":{"desired":{"a":9}},"version":)" + std::to_string(wrong) + "}");
    EXPECT_EQ(e.code, 409);
    EXPECT_EQ(e.message, kMsgVersionConflict);
  }
  auto out = accept(v2, R"({"state":{"desired":{"a":9}},"version":2})");
  EXPECT_EQ(out.shadow.version(), 3);
  EXPECT_EQ(text(out.shadow.desired()), R"({"a":9})");
}

TEST(ShadowVersion, NewShadowHasVersionZeroForTheCheck) {
  EXPECT_EQ(accept(Shadow(), R"({"state":{},"version":0})").shadow.version(), 1);
  ShadowError e = reject(Shadow(), R"({"state":{},"version":1})");
  EXPECT_EQ(e.code, 409);
  EXPECT_EQ(e.message, kMsgVersionConflict);
}

TEST(ShadowVersion, DeleteKeepsTheVersionAndTheNextUpdateContinues) {
  Shadow v3 =
      build({desired_doc(R"({"a":1})"), desired_doc(R"({"a":2})"), reported_doc(R"({"a":2})")});
  auto deleted = delete_shadow(v3, "thingA", kT1);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->accepted, R"({"version":3,"timestamp":2000})");
  EXPECT_FALSE(deleted->shadow.exists());
  EXPECT_EQ(deleted->shadow.version(), 3);
  EXPECT_TRUE(deleted->shadow.desired().empty());
  EXPECT_TRUE(deleted->shadow.reported().empty());

  // The SDK remembers version 3 from delete/accepted and sends it next.
  auto out = accept(deleted->shadow, R"({"state":{"reported":{"b":1}},"version":3})", kT2);
  EXPECT_EQ(out.shadow.version(), 4);
  EXPECT_EQ(text(out.shadow.reported()), R"({"b":1})");
  EXPECT_TRUE(out.shadow.desired().empty()) << "nothing survives a delete but the version";
  EXPECT_EQ(out.documents,
            R"({"previous":null,"current":{"state":{"reported":{"b":1}},)"
            R"("metadata":{"reported":{"b":{"timestamp":3000}}},"version":4},"timestamp":3000})");
  EXPECT_EQ(reject(deleted->shadow, R"({"state":{},"version":0})").code, 409);
  EXPECT_EQ(accept(deleted->shadow, R"({"state":{}})").shadow.version(), 4);
}

TEST(ShadowVersion, CounterAtItsMaximumIsAnInternalFailure) {
  auto s = shadow_from_storage(R"({"version":9223372036854775807,"exists":true})");
  ASSERT_TRUE(s);
  ShadowError e = reject(*s, R"({"state":{},"clientToken":"t"})");
  EXPECT_EQ(e.code, 500);
  EXPECT_EQ(e.message, kMsgInternal);
  EXPECT_EQ(e.client_token, "t");
}

// ================================================================= merge ===

struct MergeCase {
  const char* name;
  std::vector<std::string> before;
  std::string update;
  std::string desired;   // expected, compact text in stored key order
  std::string reported;  // expected
};

TEST(ShadowMerge, FollowsTheAwsRules) {
  const std::vector<MergeCase> cases = {
      {"adds keys", {}, desired_doc(R"({"a":1,"b":"x"})"), R"({"a":1,"b":"x"})", "{}"},
      {"nested merge keeps siblings",
       {desired_doc(R"({"l":{"r":1,"g":2},"x":0})")},
       desired_doc(R"({"l":{"g":3,"b":4}})"),
       R"({"l":{"r":1,"g":3,"b":4},"x":0})",
       "{}"},
      {"null deletes a key",
       {desired_doc(R"({"a":1,"b":2,"c":3})")},
       desired_doc(R"({"a":null})"),
       R"({"b":2,"c":3})",
       "{}"},
      {"null deletes a nested key",
       {desired_doc(R"({"l":{"r":1,"g":2}})")},
       desired_doc(R"({"l":{"r":null}})"),
       R"({"l":{"g":2}})",
       "{}"},
      {"deleting the last nested key drops the parent",
       {desired_doc(R"({"l":{"r":{"x":1}},"k":1})")},
       desired_doc(R"({"l":{"r":{"x":null}}})"),
       R"({"k":1})",
       "{}"},
      {"null on a missing key changes nothing",
       {desired_doc(R"({"a":1})")},
       desired_doc(R"({"zz":null,"y":{"q":null}})"),
       R"({"a":1})",
       "{}"},
      {"object of nulls replacing a scalar removes the key",
       {desired_doc(R"({"a":1,"b":1})")},
       desired_doc(R"({"a":{"q":null}})"),
       R"({"b":1})",
       "{}"},
      {"arrays are replaced whole",
       {desired_doc(R"({"a":[1,2,3]})")},
       desired_doc(R"({"a":[4]})"),
       R"({"a":[4]})",
       "{}"},
      {"array replaces an object",
       {desired_doc(R"({"a":{"x":1}})")},
       desired_doc(R"({"a":[{"x":2}]})"),
       R"({"a":[{"x":2}]})",
       "{}"},
      {"object replaces an array",
       {desired_doc(R"({"a":[1]})")},
       desired_doc(R"({"a":{"x":1}})"),
       R"({"a":{"x":1}})",
       "{}"},
      {"object replaces a scalar",
       {desired_doc(R"({"a":1})")},
       desired_doc(R"({"a":{"x":{"y":1}}})"),
       R"({"a":{"x":{"y":1}}})",
       "{}"},
      {"scalar replaces an object",
       {desired_doc(R"({"a":{"x":1}})")},
       desired_doc(R"({"a":"s"})"),
       R"({"a":"s"})",
       "{}"},
      {"new object skips its nulls",
       {desired_doc(R"({"a":1})")},
       desired_doc(R"({"a":{"x":null,"y":2}})"),
       R"({"a":{"y":2}})",
       "{}"},
      {"empty object merged onto an object changes nothing",
       {desired_doc(R"({"a":{"x":1}})")},
       desired_doc(R"({"a":{}})"),
       R"({"a":{"x":1}})",
       "{}"},
      {"empty object replacing a scalar removes the key",
       {desired_doc(R"({"a":1,"b":2})")},
       desired_doc(R"({"a":{}})"),
       R"({"b":2})",
       "{}"},
      {"nested empty objects are pruned", {}, desired_doc(R"({"a":{"b":{"c":{}}}})"), "{}", "{}"},
      {"empty objects and nulls inside arrays are kept",
       {},
       desired_doc(R"({"a":[{},[],{"n":null}]})"),
       R"({"a":[{},[],{"n":null}]})",
       "{}"},
      {"desired null clears only desired",
       {R"({"state":{"desired":{"a":1},"reported":{"b":1}}})"},
       R"({"state":{"desired":null}})",
       "{}",
       R"({"b":1})"},
      {"reported null clears only reported",
       {R"({"state":{"desired":{"a":1},"reported":{"b":1}}})"},
       R"({"state":{"reported":null}})",
       R"({"a":1})",
       "{}"},
      {"state null clears both",
       {R"({"state":{"desired":{"a":1},"reported":{"b":1}}})"},
       R"({"state":null})",
       "{}",
       "{}"},
      {"desired {} keeps desired",
       {desired_doc(R"({"a":1})")},
       R"({"state":{"desired":{}}})",
       R"({"a":1})",
       "{}"},
      {"state {} changes nothing",
       {R"({"state":{"desired":{"a":1},"reported":{"b":1}}})"},
       R"({"state":{}})",
       R"({"a":1})",
       R"({"b":1})"},
      {"both sections in one request",
       {R"({"state":{"desired":{"a":1},"reported":{"a":0}}})"},
       R"({"state":{"desired":{"a":null},"reported":{"a":1,"c":[]}}})",
       "{}",
       R"({"a":1,"c":[]})"},
      {"numbers are kept exactly",
       {},
       desired_doc(
           R"({"i":1,"d":1.0,"f":0.1,"u":18446744073709551615,"n":-9223372036854775808,"z":-0.0,"e":1e300,"s":1.7976931348623157e308})"),
       R"({"i":1,"d":1.0,"f":0.1,"u":18446744073709551615,"n":-9223372036854775808,"z":-0.0,"e":1e+300,"s":1.7976931348623157e+308})",
       "{}"},
      {"unicode and escapes are kept",
       {},
       reported_doc(R"({"zählen":"€\n\"q\"","\u0001":"\ud83d\ude00"})"),
       "{}",
       "{\"zählen\":\"€\\n\\\"q\\\"\",\"\\u0001\":\"\xF0\x9F\x98\x80\"}"},
      {"key order survives deletes",
       {desired_doc(R"({"a":1,"b":2,"c":3,"d":4})")},
       desired_doc(R"({"b":null,"e":5,"a":0})"),
       R"({"a":0,"c":3,"d":4,"e":5})",
       "{}"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Shadow before = build(c.before);
    Shadow after = accept(before, c.update, kT1).shadow;
    EXPECT_EQ(text(after.desired()), c.desired);
    EXPECT_EQ(text(after.reported()), c.reported);
    EXPECT_EQ(after.version(), before.version() + 1);
    auto stored = shadow_from_storage(to_storage_json(after));
    EXPECT_TRUE(stored) << "invariants hold: " << (stored ? "" : stored.error().message);
  }
}

// ============================================================== metadata ===

TEST(ShadowMetadata, TouchedLeavesGetNowUntouchedKeepTheirTime) {
  Shadow s = build({desired_doc(R"({"a":1,"b":{"c":1,"d":2},"e":[1,2]})")}, kT0);
  s = accept(s, desired_doc(R"({"b":{"c":5}})"), kT1).shadow;
  s = accept(s, desired_doc(R"({"e":[7]})"), kT2).shadow;
  EXPECT_EQ(text(s.desired_metadata()),
            R"({"a":{"timestamp":1000},"b":{"c":{"timestamp":2000},"d":{"timestamp":1000}},)"
            R"("e":[{"timestamp":3000}]})");
}

TEST(ShadowMetadata, RewritingTheSameValueRefreshesItsTime) {
  Shadow s = build({desired_doc(R"({"a":1})")}, kT0);
  s = accept(s, desired_doc(R"({"a":1})"), kT1).shadow;
  EXPECT_EQ(text(s.desired_metadata()), R"({"a":{"timestamp":2000}})");
}

TEST(ShadowMetadata, ShapeFollowsTheState) {
  struct Case {
    const char* name;
    std::vector<std::string> before;
    std::string update;
    std::string metadata;  // desired metadata after the update at kT1
  };
  const std::vector<Case> cases = {
      {"array gets one entry per element",
       {},
       desired_doc(R"({"a":[1,2,3]})"),
       R"({"a":[{"timestamp":2000},{"timestamp":2000},{"timestamp":2000}]})"},
      {"array elements are not recursed",
       {},
       desired_doc(R"({"a":[{"x":1,"y":2},[3]]})"),
       R"({"a":[{"timestamp":2000},{"timestamp":2000}]})"},
      {"empty array has empty metadata", {}, desired_doc(R"({"a":[]})"), R"({"a":[]})"},
      {"removed key loses its metadata",
       {desired_doc(R"({"a":1,"b":2})")},
       desired_doc(R"({"a":null})"),
       R"({"b":{"timestamp":1000}})"},
      {"object replaced by scalar",
       {desired_doc(R"({"a":{"x":1},"b":2})")},
       desired_doc(R"({"a":0})"),
       R"({"a":{"timestamp":2000},"b":{"timestamp":1000}})"},
      {"scalar replaced by object",
       {desired_doc(R"({"a":0})")},
       desired_doc(R"({"a":{"x":1}})"),
       R"({"a":{"x":{"timestamp":2000}}})"},
      {"pruned parent loses its metadata",
       {desired_doc(R"({"a":{"x":1},"b":1})")},
       desired_doc(R"({"a":{"x":null}})"),
       R"({"b":{"timestamp":1000}})"},
      {"section null clears metadata",
       {desired_doc(R"({"a":1})")},
       R"({"state":{"desired":null}})",
       "{}"},
      {"a state key named timestamp",
       {},
       desired_doc(R"({"timestamp":5})"),
       R"({"timestamp":{"timestamp":2000}})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Shadow s = accept(build(c.before, kT0), c.update, kT1).shadow;
    EXPECT_EQ(text(s.desired_metadata()), c.metadata);
  }
}

TEST(ShadowMetadata, ReportedHasItsOwnMetadata) {
  Shadow s = build({R"({"state":{"desired":{"a":1},"reported":{"a":2}}})"}, kT0);
  s = accept(s, reported_doc(R"({"a":3})"), kT1).shadow;
  EXPECT_EQ(text(s.desired_metadata()), R"({"a":{"timestamp":1000}})");
  EXPECT_EQ(text(s.reported_metadata()), R"({"a":{"timestamp":2000}})");
}

// ================================================================= delta ===

TEST(ShadowDelta, ComputedFromDesiredKeysOnly) {
  struct Case {
    const char* name;
    const char* desired;
    const char* reported;
    const char* delta;
  };
  const std::vector<Case> cases = {
      {"equal", R"({"a":1,"b":{"c":"x"}})", R"({"b":{"c":"x"},"a":1})", "{}"},
      {"missing in reported", R"({"a":1})", "{}", R"({"a":1})"},
      {"reported-only keys never appear", R"({"a":1})", R"({"a":1,"z":2,"y":{"q":1}})", "{}"},
      {"nested difference keeps the path", R"({"l":{"r":1,"g":2}})", R"({"l":{"r":1,"g":0}})",
       R"({"l":{"g":2}})"},
      {"deep path to the root", R"({"a":{"b":{"c":{"d":1,"e":2}}}})",
       R"({"a":{"b":{"c":{"d":1,"e":3}}}})", R"({"a":{"b":{"c":{"e":2}}}})"},
      {"nested key missing in reported", R"({"a":{"b":1,"c":2}})", R"({"a":{"b":1}})",
       R"({"a":{"c":2}})"},
      {"different arrays go whole", R"({"a":[1,2,3]})", R"({"a":[1,2]})", R"({"a":[1,2,3]})"},
      {"array order matters", R"({"a":[1,2]})", R"({"a":[2,1]})", R"({"a":[1,2]})"},
      {"equal arrays are omitted", R"({"a":[1,{"x":[2]}]})", R"({"a":[1,{"x":[2]}]})", "{}"},
      {"object vs scalar", R"({"a":{"x":1}})", R"({"a":5})", R"({"a":{"x":1}})"},
      {"scalar vs object", R"({"a":5})", R"({"a":{"x":1}})", R"({"a":5})"},
      {"string vs number", R"({"a":"1"})", R"({"a":1})", R"({"a":"1"})"},
      {"bool vs number", R"({"a":true})", R"({"a":1})", R"({"a":true})"},
      {"array vs object", R"({"a":[]})", R"({"a":{}})", R"({"a":[]})"},
      {"1 equals 1.0", R"({"a":1,"b":2.0})", R"({"a":1.0,"b":2})", "{}"},
      {"numbers compare by value inside arrays", R"({"a":[1,{"b":2}]})", R"({"a":[1.0,{"b":2.0}]})",
       "{}"},
      {"-0.0 equals 0", R"({"a":0})", R"({"a":-0.0})", "{}"},
      {"1 differs from 1.5", R"({"a":1})", R"({"a":1.5})", R"({"a":1})"},
      {"2^53+1 differs from its nearest double", R"({"a":9007199254740993})",
       R"({"a":9007199254740992.0})", R"({"a":9007199254740993})"},
      {"uint64 max differs from 2^64 as double", R"({"a":18446744073709551615})",
       R"({"a":1.8446744073709552e19})", R"({"a":18446744073709551615})"},
      {"uint64 equals the same int64", R"({"a":9223372036854775807})",
       R"({"a":9223372036854775807.0})", R"({"a":9223372036854775807})"},
      {"objects in arrays ignore key order", R"({"a":[{"x":1,"y":2}]})", R"({"a":[{"y":2,"x":1}]})",
       "{}"},
      {"empty desired", "{}", R"({"a":1})", "{}"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(text(compute_delta(obj(c.desired), obj(c.reported))), c.delta);
  }
}

TEST(ShadowDelta, PublishedWhenDesiredWasSentAndTheDeltaIsNotEmpty) {
  Shadow base = build({R"({"state":{"desired":{"a":1,"l":{"x":[1,2]}},"reported":{"a":0}}})"}, kT0);
  auto out = accept(base, R"({"state":{"desired":{"b":2}},"clientToken":"c1"})", kT1);
  ASSERT_TRUE(out.delta);
  // The whole current delta, with desired metadata for exactly its leaves.
  EXPECT_EQ(
      *out.delta,
      R"({"state":{"a":1,"l":{"x":[1,2]},"b":2},)"
      R"("metadata":{"a":{"timestamp":1000},"l":{"x":[{"timestamp":1000},{"timestamp":1000}]},)"
      R"("b":{"timestamp":2000}},"version":2,"timestamp":2000,"clientToken":"c1"})");
  EXPECT_NE(out.accepted.find(R"("version":2)"), std::string::npos);
}

TEST(ShadowDelta, PublicationRules) {
  Shadow pending = build({R"({"state":{"desired":{"a":1},"reported":{"a":0}}})"});
  Shadow synced = build({R"({"state":{"desired":{"a":1},"reported":{"a":1}}})"});
  ShadowLimits gg;
  gg.delta_on_every_update = true;
  struct Case {
    const char* name;
    const Shadow* base;
    std::string update;
    ShadowLimits limits;
    bool delta;
  };
  const std::vector<Case> cases = {
      {"desired update leaving a difference", &synced, desired_doc(R"({"a":2})"), {}, true},
      {"desired update with no difference", &synced, desired_doc(R"({"a":1})"), {}, false},
      {"desired update resolving the difference", &pending, desired_doc(R"({"a":0})"), {}, false},
      {"empty desired section with a pending difference",
       &pending,
       R"({"state":{"desired":{}}})",
       {},
       true},
      {"desired null", &pending, R"({"state":{"desired":null}})", {}, false},
      {"reported-only update creating a difference",
       &synced,
       reported_doc(R"({"a":5})"),
       {},
       false},
      {"reported-only update with the switch on", &synced, reported_doc(R"({"a":5})"), gg, true},
      {"reported-only update, switch on, no difference", &pending, reported_doc(R"({"a":1})"), gg,
       false},
      {"state {} with the switch on and a pending difference", &pending, R"({"state":{}})", gg,
       true},
      {"state null", &pending, R"({"state":null})", gg, false},
      {"numerically equal values", &synced, desired_doc(R"({"a":1.0})"), {}, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto out = accept(*c.base, c.update, kT1, c.limits);
    EXPECT_EQ(out.delta.has_value(), c.delta);
  }
}

TEST(ShadowDelta, MetadataOfWholeObjectsAndArraysComesFromDesired) {
  Shadow s = build({R"({"state":{"desired":{"o":{"p":1,"q":[1]}},"reported":{"o":7}}})"}, kT0);
  auto out = accept(s, desired_doc(R"({"n":[5,6]})"), kT1);
  ASSERT_TRUE(out.delta);
  EXPECT_EQ(*out.delta,
            R"({"state":{"o":{"p":1,"q":[1]},"n":[5,6]},)"
            R"("metadata":{"o":{"p":{"timestamp":1000},"q":[{"timestamp":1000}]},)"
            R"("n":[{"timestamp":2000},{"timestamp":2000}]},"version":2,"timestamp":2000})");
}

// ============================================================ size limit ===

TEST(ShadowSize, DesiredPlusReportedUpToTheLimitIsAccepted) {
  // {"a":"xx…"} is 8 bytes plus the string.
  auto one_section = [](std::size_t total) {
    return desired_doc(R"({"a":")" + std::string(total - 8, 'x') + R"("})");
  };
  EXPECT_TRUE(apply_update(Shadow(), one_section(8192), kT0));
  ShadowError e = reject(Shadow(), one_section(8193));
  EXPECT_EQ(e.code, 413);
  EXPECT_EQ(e.message, kMsgTooLarge);

  auto two_sections = [](std::size_t desired, std::size_t reported) {
    return R"({"state":{"desired":{"a":")" + std::string(desired - 8, 'x') +
           R"("},"reported":{"b":")" + std::string(reported - 8, 'y') + R"("}}})";
  };
  EXPECT_TRUE(apply_update(Shadow(), two_sections(4096, 4096), kT0));
  EXPECT_EQ(reject(Shadow(), two_sections(4096, 4097)).code, 413);
}

TEST(ShadowSize, MeasuredOnTheMergedResult) {
  Shadow s = build({desired_doc(R"({"a":")" + std::string(8000, 'x') + R"("})")});
  EXPECT_EQ(reject(s, reported_doc(R"({"b":")" + std::string(300, 'y') + R"("})")).code, 413);
  // Shrinking is fine, and so is an update that stays under the limit.
  EXPECT_TRUE(
      apply_update(s, desired_doc(R"({"a":null,"b":")" + std::string(8100, 'z') + R"("})"), kT0));
  EXPECT_TRUE(apply_update(s, reported_doc(R"({"b":1})"), kT0));
}

TEST(ShadowSize, MetadataDoesNotCount) {
  std::string desired = "{";
  for (int i = 0; i < 800; ++i) {
    if (i > 0) desired += ",";
    desired += "\"k" + std::to_string(1000 + i) + "\":0";
  }
  desired += "}";
  ASSERT_LE(desired.size(), 8192u);
  Shadow s = accept(Shadow(), desired_doc(desired)).shadow;
  EXPECT_GT(text(s.desired_metadata()).size(), 2 * 8192u);
}

TEST(ShadowSize, LimitIsConfigurable) {
  ShadowLimits limits;
  limits.max_state_bytes = 16384;
  std::string payload = desired_doc(R"({"a":")" + std::string(12000, 'x') + R"("})");
  EXPECT_TRUE(apply_update(Shadow(), payload, kT0, limits));
  EXPECT_EQ(reject(Shadow(), payload).code, 413);
}

// =========================================================== depth limit ===

TEST(ShadowDepth, SixLevelsCountingTheSectionAsOne) {
  struct Case {
    std::string section;
    bool ok;
  };
  const std::vector<Case> cases = {
      {nest(6, "1"), true},     // desired.a.b.c.d.e.f = 1: e is level 6
      {nest(7, "1"), false},    // desired.a.b.c.d.e.f.g = 1
      {nest(6, "{}"), true},    // an empty object at level 7 does not count
      {nest(6, "[]"), true},    // nor an empty array
      {nest(5, "[1]"), true},   // a non-empty array at level 6
      {nest(6, "[1]"), false},  // and one at level 7
      {nest(4, "[[1]]"), true},
      {nest(5, "[[1]]"), false},
      {nest(4, "[{\"x\":1}]"), true},  // array 5, object 6
      {nest(5, "[{\"x\":1}]"), false},
      {R"({"a":[[[[[1]]]]]})", true},
      {R"({"a":[[[[[[1]]]]]]})", false},
      {R"({"b":1,"z":)" + nest(6, "1") + "}", false},
  };
  for (const auto& c : cases) {
    for (const char* section : {"desired", "reported"}) {
      SCOPED_TRACE(std::string(section) + " " + c.section);
      std::string payload = R"({"state":{")" + std::string(section) + R"(":)" + c.section + "}}";
      auto r = apply_update(Shadow(), payload, kT0);
      EXPECT_EQ(r.has_value(), c.ok);
      if (!r) {
        EXPECT_EQ(r.error().message, kMsgTooDeep);
      }
    }
  }
}

TEST(ShadowDepth, PathologicalNestingIsRejectedCheaply) {
  // Just under the 128 KB payload limit, which would answer first.
  for (const std::string& payload : {std::string(130000, '['), std::string(130000, '{'),
                                     R"({"state":)" + nest(21000, "1") + "}"}) {
    ShadowError e = reject(Shadow(), payload);
    EXPECT_EQ(e.code, 400);
    EXPECT_EQ(e.message, kMsgTooDeep);
  }
}

// =========================================================== clientToken ===

TEST(ShadowClientToken, LimitIsSixtyFourBytesNotCharacters) {
  auto payload = [](const std::string& token) {
    return R"({"state":{},"clientToken":")" + token + R"("})";
  };
  std::string e_acute = "\xC3\xA9";
  std::string t64, t66;
  for (int i = 0; i < 32; ++i) {
    t64 += e_acute;
  }
  t66 = t64 + e_acute;
  EXPECT_TRUE(apply_update(Shadow(), payload(std::string(64, 'a')), kT0));
  EXPECT_EQ(reject(Shadow(), payload(std::string(65, 'a'))).message, kMsgInvalidClientToken);
  EXPECT_TRUE(apply_update(Shadow(), payload(t64), kT0));
  EXPECT_EQ(reject(Shadow(), payload(t66)).message, kMsgInvalidClientToken);
  // A JSON escape counts as the byte it stands for.
  EXPECT_TRUE(apply_update(Shadow(), payload(std::string(63, 'a') + "\\n"), kT0));
}

TEST(ShadowClientToken, EchoedInEveryPayload) {
  const std::string token = "dev-1:\"q\"";
  const std::string json_token = R"("clientToken":"dev-1:\"q\"")";
  Shadow s = build({reported_doc(R"({"a":0})")});
  auto out = accept(s, R"({"state":{"desired":{"a":1}},"clientToken":"dev-1:\"q\""})", kT1);
  EXPECT_NE(out.accepted.find(json_token), std::string::npos);
  EXPECT_NE(out.documents.find(json_token), std::string::npos);
  ASSERT_TRUE(out.delta);
  EXPECT_NE(out.delta->find(json_token), std::string::npos);

  ShadowRequest request{token, std::nullopt};
  auto get = get_document(out.shadow, "t", kT1, request);
  ASSERT_TRUE(get);
  EXPECT_NE(get->find(json_token), std::string::npos);
  auto del = delete_shadow(out.shadow, "t", kT1, request);
  ASSERT_TRUE(del);
  EXPECT_NE(del->accepted.find(json_token), std::string::npos);
  auto missing = get_document(del->shadow, "t", kT1, request);
  ASSERT_FALSE(missing);
  EXPECT_NE(error_document(missing.error(), kT1).find(json_token), std::string::npos);
}

TEST(ShadowClientToken, AbsentOrNullTokenIsNeverEchoed) {
  Shadow s = build({reported_doc(R"({"a":0})")});
  for (const char* payload : {R"({"state":{"desired":{"a":1}}})",
                              R"({"state":{"desired":{"a":1}},"clientToken":null})"}) {
    auto out = accept(s, payload, kT1);
    for (const std::string* p : {&out.accepted, &out.documents, &*out.delta}) {
      EXPECT_EQ(p->find("clientToken"), std::string::npos) << *p;
    }
  }
}

TEST(ShadowClientToken, EmptyTokenIsAToken) {
  auto out = accept(Shadow(), R"({"state":{},"clientToken":""})");
  EXPECT_EQ(out.accepted,
            R"({"state":{},"metadata":{},"version":1,"timestamp":1000,"clientToken":""})");
}

// ============================================================== accepted ===

TEST(ShadowAccepted, EchoesOnlyTheRequestKeysIncludingNulls) {
  Shadow s = build({desired_doc(R"({"a":1,"b":2,"keep":{"x":1}})")});
  auto out = accept(
      s,
      R"({"state":{"desired":{"b":null,"c":{"d":3,"e":null}},"reported":{"x":[1,2],"y":{}}},)"
      R"("clientToken":"tok","ignored":true})",
      kT1);
  EXPECT_EQ(out.accepted,
            R"({"state":{"desired":{"b":null,"c":{"d":3,"e":null}},"reported":{"x":[1,2],"y":{}}},)"
            R"("metadata":{"desired":{"b":{"timestamp":2000},"c":{"d":{"timestamp":2000},)"
            R"("e":{"timestamp":2000}}},"reported":{"x":[{"timestamp":2000},{"timestamp":2000}],)"
            R"("y":{}}},"version":2,"timestamp":2000,"clientToken":"tok"})");
}

TEST(ShadowAccepted, NullSectionsAndStates) {
  Shadow s = build({desired_doc(R"({"a":1})")});
  struct Case {
    const char* update;
    const char* accepted;
  };
  const std::vector<Case> cases = {
      {R"({"state":null})",
       R"({"state":null,"metadata":{"timestamp":2000},"version":2,"timestamp":2000})"},
      {R"({"state":{"desired":null}})",
       R"({"state":{"desired":null},"metadata":{"desired":{"timestamp":2000}},"version":2,"timestamp":2000})"},
      {R"({"state":{}})", R"({"state":{},"metadata":{},"version":2,"timestamp":2000})"},
      {R"({"state":{"reported":{}},"version":1})",
       R"({"state":{"reported":{}},"metadata":{"reported":{}},"version":2,"timestamp":2000})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.update);
    EXPECT_EQ(accept(s, c.update, kT1).accepted, c.accepted);
  }
}

// ============================================================= documents ===

TEST(ShadowDocuments, PreviousAndCurrentSnapshots) {
  auto first = accept(Shadow(), R"({"state":{"reported":{"t":21}},"clientToken":"a"})", kT0);
  EXPECT_EQ(first.documents, R"({"previous":null,"current":{"state":{"reported":{"t":21}},)"
                             R"("metadata":{"reported":{"t":{"timestamp":1000}}},"version":1},)"
                             R"("timestamp":1000,"clientToken":"a"})");
  auto second = accept(first.shadow, desired_doc(R"({"t":25})"), kT1);
  EXPECT_EQ(
      second.documents,
      R"({"previous":{"state":{"reported":{"t":21}},)"
      R"("metadata":{"reported":{"t":{"timestamp":1000}}},"version":1},)"
      R"("current":{"state":{"desired":{"t":25},"reported":{"t":21}},)"
      R"("metadata":{"desired":{"t":{"timestamp":2000}},"reported":{"t":{"timestamp":1000}}},)"
      R"("version":2},"timestamp":2000})");
  auto cleared = accept(second.shadow, R"({"state":null})", kT2);
  EXPECT_NE(cleared.documents.find(
                R"("current":{"state":{},"metadata":{},"version":3},"timestamp":3000})"),
            std::string::npos)
      << cleared.documents;
}

// =================================================================== get ===

TEST(ShadowGet, DocumentHasStateDeltaMetadataVersion) {
  Shadow s = build({R"({"state":{"desired":{"color":"RED","l":{"r":255,"g":255}},)"
                    R"("reported":{"color":"GREEN","l":{"r":255,"g":0},"fw":"1.0"}}})"},
                   kT0);
  auto doc = get_document(s, "thingA", kT1, ShadowRequest{"g1", 99});
  ASSERT_TRUE(doc);
  EXPECT_EQ(
      *doc,
      R"({"state":{"desired":{"color":"RED","l":{"r":255,"g":255}},)"
      R"("reported":{"color":"GREEN","l":{"r":255,"g":0},"fw":"1.0"},)"
      R"("delta":{"color":"RED","l":{"g":255}}},)"
      R"("metadata":{"desired":{"color":{"timestamp":1000},"l":{"r":{"timestamp":1000},"g":{"timestamp":1000}}},)"
      R"("reported":{"color":{"timestamp":1000},"l":{"r":{"timestamp":1000},"g":{"timestamp":1000}},"fw":{"timestamp":1000}}},)"
      R"("version":1,"timestamp":2000,"clientToken":"g1"})");
}

TEST(ShadowGet, SectionsAppearOnlyWhenNotEmpty) {
  Shadow reported_only = build({reported_doc(R"({"a":1})")});
  EXPECT_EQ(*get_document(reported_only, "t", kT1),
            R"({"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":1000}}},)"
            R"("version":1,"timestamp":2000})");
  Shadow in_sync = build({R"({"state":{"desired":{"a":1},"reported":{"a":1.0}}})"});
  EXPECT_EQ(get_document(in_sync, "t", kT1)->find("delta"), std::string::npos);
  Shadow cleared = build({reported_doc(R"({"a":1})"), R"({"state":null})"});
  EXPECT_EQ(*get_document(cleared, "t", kT1),
            R"({"state":{},"metadata":{},"version":2,"timestamp":2000})");
}

TEST(ShadowGet, MissingShadowIs404WithAwsText) {
  auto never = get_document(Shadow(), shadow_display_name("thingA", ""), kT0,
                            ShadowRequest{"thingA-0", std::nullopt});
  ASSERT_FALSE(never);
  EXPECT_EQ(never.error().code, 404);
  EXPECT_EQ(never.error().message, "No shadow exists with name: 'thingA'");
  EXPECT_EQ(error_document(never.error(), kT0),
            R"({"code":404,"message":"No shadow exists with name: 'thingA'",)"
            R"("timestamp":1000,"clientToken":"thingA-0"})");

  Shadow deleted = delete_shadow(build({R"({"state":{}})"}), "x", kT0)->shadow;
  auto named = get_document(deleted, shadow_display_name("thingA", "Limits"), kT0);
  ASSERT_FALSE(named);
  EXPECT_EQ(named.error().message, "No shadow exists with name: 'Limits'");
  EXPECT_FALSE(named.error().client_token);
}

// ================================================================ delete ===

TEST(ShadowDelete, RulesAndPayloads) {
  Shadow v2 = build({desired_doc(R"({"a":1})"), reported_doc(R"({"a":1})")});
  auto missing = delete_shadow(Shadow(), "thingA", kT1, ShadowRequest{"d0", std::nullopt});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, 404);
  EXPECT_EQ(missing.error().message, "No shadow exists with name: 'thingA'");
  EXPECT_EQ(missing.error().client_token, "d0");

  auto conflict = delete_shadow(v2, "thingA", kT1, ShadowRequest{"d1", 1});
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().code, 409);
  EXPECT_EQ(conflict.error().message, kMsgVersionConflict);
  EXPECT_EQ(conflict.error().client_token, "d1");

  auto ok = delete_shadow(v2, "thingA", kT1, ShadowRequest{"d2", 2});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->accepted, R"({"version":2,"timestamp":2000,"clientToken":"d2"})");
  auto again = delete_shadow(ok->shadow, "thingA", kT2);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, 404);
  EXPECT_EQ(delete_shadow(v2, "t", kT1)->accepted, R"({"version":2,"timestamp":2000})");
}

// ==================================================== get/delete payloads ===

TEST(ShadowRequestParsing, GetAndDeletePayloads) {
  struct Expect {
    int code;  // 0: accepted
    std::string message;
    std::optional<std::string> token;
    std::optional<std::int64_t> version;
  };
  struct Case {
    std::string payload;
    Expect get;
    Expect del;
  };
  const std::string bad_json(kMsgInvalidJson);
  const std::vector<Case> cases = {
      {"", {0, "", {}, {}}, {0, "", {}, {}}},
      {" \r\n\t", {0, "", {}, {}}, {0, "", {}, {}}},
      {"{}", {0, "", {}, {}}, {0, "", {}, {}}},
      {R"({"clientToken":"thingA-3"})", {0, "", "thingA-3", {}}, {0, "", "thingA-3", {}}},
      {R"({"version":2,"clientToken":"thingA-4"})",
       {0, "", "thingA-4", {}},
       {0, "", "thingA-4", 2}},
      {R"({"version":null,"clientToken":null})", {0, "", {}, {}}, {0, "", {}, {}}},
      {R"({"version":"2","clientToken":"x"})",
       {0, "", "x", {}},
       {400, std::string(kMsgInvalidVersion), "x", {}}},
      {R"({"version":-1})", {0, "", {}, {}}, {400, std::string(kMsgInvalidVersion), {}, {}}},
      {R"({"state":{"desired":{"a":1}},"anything":[null]})", {0, "", {}, {}}, {0, "", {}, {}}},
      {"garbage", {400, bad_json, {}, {}}, {400, bad_json, {}, {}}},
      {"[1]", {400, bad_json, {}, {}}, {400, bad_json, {}, {}}},
      {"null", {400, bad_json, {}, {}}, {400, bad_json, {}, {}}},
      {"\xff",
       {415, std::string(kMsgUnsupportedEncoding), {}, {}},
       {415, std::string(kMsgUnsupportedEncoding), {}, {}}},
      {R"({"clientToken":5})",
       {400, std::string(kMsgInvalidClientToken), {}, {}},
       {400, std::string(kMsgInvalidClientToken), {}, {}}},
      {R"({"clientToken":")" + std::string(65, 'x') + R"("})",
       {400, std::string(kMsgInvalidClientToken), {}, {}},
       {400, std::string(kMsgInvalidClientToken), {}, {}}},
      {std::string(50, '['),
       {400, std::string(kMsgTooDeep), {}, {}},
       {400, std::string(kMsgTooDeep), {}, {}}},
  };
  auto check = [](const ShadowResult<ShadowRequest>& r, const Expect& e) {
    if (e.code == 0) {
      ASSERT_TRUE(r) << r.error().message;
      EXPECT_EQ(r->client_token, e.token);
      EXPECT_EQ(r->version, e.version);
    } else {
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, e.code);
      EXPECT_EQ(r.error().message, e.message);
      EXPECT_EQ(r.error().client_token, e.token);
    }
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.payload.substr(0, 60));
    check(parse_get_request(c.payload), c.get);
    check(parse_delete_request(c.payload), c.del);
  }
}

// ================================================================ errors ===

TEST(ShadowErrorDocument, Format) {
  EXPECT_EQ(error_document(409, kMsgVersionConflict, kT0, std::string("abc")),
            R"({"code":409,"message":"Version conflict","timestamp":1000,"clientToken":"abc"})");
  EXPECT_EQ(error_document(400, "State contains an invalid node: 'a\"b'", kT0, std::nullopt),
            R"({"code":400,"message":"State contains an invalid node: 'a\"b'","timestamp":1000})");
  EXPECT_EQ(
      error_document(ShadowError{413, std::string(kMsgTooLarge), std::nullopt}, kT1),
      R"({"code":413,"message":"The payload exceeds the maximum size allowed","timestamp":2000})");
}

TEST(ShadowErrorDocument, ValueOnAnErrorThrowsLogicError) {
  auto r = get_document(Shadow(), "t", kT0);
  EXPECT_THROW((void)r.value(), std::logic_error);
}

// =============================================================== storage ===

TEST(ShadowStorage, RoundTripIsExact) {
  std::vector<Shadow> shadows = {
      Shadow(),
      build({R"({"state":{}})"}),
      build({R"({"state":{"desired":{"a":1,"z":{"y":[1,2.5,"s",{"k":null}]}},)"
             R"("reported":{"u":18446744073709551615,"d":0.1,"e":-0.0,"ü":"\u0000"}}})",
             desired_doc(R"({"a":null,"b":true})")}),
      build({reported_doc(R"({"a":1})"), R"({"state":null})"}),
      delete_shadow(build({desired_doc(R"({"a":1})"), desired_doc(R"({"a":2})")}), "t", kT1)
          ->shadow,
  };
  for (const auto& s : shadows) {
    std::string stored = to_storage_json(s);
    SCOPED_TRACE(stored);
    auto back = shadow_from_storage(stored);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, s);
    EXPECT_EQ(to_storage_json(*back), stored);
  }
  EXPECT_EQ(to_storage_json(Shadow()), R"({"version":0,"exists":false})");
  EXPECT_EQ(
      to_storage_json(build({R"({"state":{"desired":{"a":[1]},"reported":{"b":2}}})"})),
      R"({"version":1,"exists":true,"state":{"desired":{"a":[1]},"reported":{"b":2}},)"
      R"("metadata":{"desired":{"a":[{"timestamp":1000}]},"reported":{"b":{"timestamp":1000}}}})");
}

TEST(ShadowStorage, CorruptRecordsAreInternalErrors) {
  const std::vector<std::string> bad = {
      "",
      "[]",
      "{",
      R"({"exists":true})",
      R"({"version":1})",
      R"({"version":-1,"exists":true})",
      R"({"version":1.0,"exists":true})",
      R"({"version":1,"exists":1})",
      R"({"version":1,"exists":true,"extra":1})",
      R"({"version":1,"exists":true,"state":[]})",
      R"({"version":1,"exists":true,"state":{"delta":{}}})",
      R"({"version":1,"exists":true,"state":{"desired":1}})",
      R"({"version":1,"exists":true,"state":{"desired":{"a":1}}})",
      R"({"version":1,"exists":true,"metadata":{"desired":{"a":{"timestamp":1}}}})",
      R"({"version":1,"exists":true,"state":{"desired":{"a":1}},"metadata":{"desired":{"b":{"timestamp":1}}}})",
      R"({"version":1,"exists":true,"state":{"desired":{"a":1}},"metadata":{"desired":{"a":{"timestamp":"x"}}}})",
      R"({"version":1,"exists":true,"state":{"desired":{"a":[1]}},"metadata":{"desired":{"a":{"timestamp":1}}}})",
      R"({"version":1,"exists":true,"state":{"desired":{"a":{}}},"metadata":{"desired":{"a":{}}}})",
      R"({"version":1,"exists":true,"state":{"desired":{"a":null}},"metadata":{"desired":{"a":{"timestamp":1}}}})",
      R"({"version":1,"exists":false,"state":{"desired":{"a":1}},"metadata":{"desired":{"a":{"timestamp":1}}}})",
  };
  for (const auto& text : bad) {
    SCOPED_TRACE(text);
    auto r = shadow_from_storage(text);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::kInternal);
    EXPECT_EQ(r.error().message.rfind("Corrupt shadow record: ", 0), 0u) << r.error().message;
  }
}

// ====================================================== REST: replacement ===

// A random JSON object with overlapping keys, so two of them share paths.
class RandomJson {
 public:
  explicit RandomJson(std::uint32_t seed) : rng_(seed) {}

  json::object object(int depth, bool allow_absent_markers) {
    json::object out;
    int n = pick(0, 4);
    for (int i = 0; i < n; ++i) {
      std::string key(1, static_cast<char>('a' + pick(0, 4)));
      out[key] = value(depth, allow_absent_markers);
    }
    return out;
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  json::value value(int depth, bool allow_absent_markers) {
    switch (pick(0, depth > 0 ? 9 : 6)) {
      case 0:
        return pick(-2, 2);
      case 1:
        return pick(0, 1) == 0 ? 1.0 : 0.5;
      case 2:
        return json::string(1, static_cast<char>('p' + pick(0, 2)));
      case 3:
        return pick(0, 1) == 1;
      case 4: {
        json::array a;
        for (int i = pick(0, 2); i > 0; --i) {
          a.emplace_back(pick(0, 2));
        }
        return a;
      }
      case 5:
        if (allow_absent_markers) return nullptr;
        return pick(0, 2);
      case 6:
        if (allow_absent_markers) return json::object();
        return "q";
      default:
        return object(depth - 1, allow_absent_markers);
    }
  }

  std::mt19937 rng_;
};

// What the stored desired must be: nulls and empty objects mean absent.
json::object expected_desired(const json::object& o) {
  json::object out;
  for (const auto& [key, value] : o) {
    if (value.is_null()) continue;
    if (value.is_object()) {
      json::object child = expected_desired(value.get_object());
      if (!child.empty()) out.emplace(key, std::move(child));
    } else {
      out.emplace(key, value);
    }
  }
  return out;
}

// Leaves (paths to non-objects) with their metadata, for timestamp checks.
void leaves(const json::object& state, const json::object& meta, const std::string& path,
            std::vector<std::tuple<std::string, json::value, json::value>>& out) {
  for (const auto& [key, value] : state) {
    std::string p = path + "/" + std::string(key);
    const json::value& m = meta.at(key);
    if (value.is_object()) {
      leaves(value.get_object(), m.get_object(), p, out);
    } else {
      out.emplace_back(p, value, m);
    }
  }
}

const json::value* leaf_at(const json::object& root, const std::string& path) {
  const json::value* v = nullptr;
  const json::object* o = &root;
  std::size_t start = 1;
  while (o != nullptr) {
    std::size_t end = path.find('/', start);
    v = o->if_contains(path.substr(start, end - start));
    if (v == nullptr || end == std::string::npos) return v;
    o = v->if_object();
    start = end + 1;
  }
  return nullptr;
}

// Equal values of equal JSON kinds (an integer never equals a double here);
// object key order does not matter.
bool exactly_equal(const json::value& a, const json::value& b) {
  if (a.is_object() && b.is_object()) {
    const auto& ao = a.get_object();
    const auto& bo = b.get_object();
    if (ao.size() != bo.size()) return false;
    for (const auto& [key, value] : ao) {
      if (!bo.contains(key) || !exactly_equal(value, bo.at(key))) return false;
    }
    return true;
  }
  if (a.is_array() && b.is_array()) {
    const auto& aa = a.get_array();
    const auto& ba = b.get_array();
    if (aa.size() != ba.size()) return false;
    for (std::size_t i = 0; i < aa.size(); ++i) {
      if (!exactly_equal(aa[i], ba[i])) return false;
    }
    return true;
  }
  // The text tells 1 from 1.0 and 0.0 from -0.0.
  return a == b && to_json(a) == to_json(b);
}

TEST(ShadowReplacement, MakesDesiredEqualExactlyOnRandomMaps) {
  RandomJson random(20240601);
  for (int i = 0; i < 400; ++i) {
    json::object before = expected_desired(random.object(3, false));
    json::object reported = expected_desired(random.object(2, false));
    json::object target = random.object(3, true);
    SCOPED_TRACE("before " + text(before) + " target " + text(target));
    Shadow s = build(
        {R"({"state":{"desired":)" + text(before) + R"(,"reported":)" + text(reported) + "}}"},
        kT0);
    std::string patch = desired_replacement(s.desired(), target, s.version());
    auto out = apply_update(s, patch, kT1);
    ASSERT_TRUE(out) << patch << " -> " << out.error().message;
    json::object want = expected_desired(target);
    EXPECT_EQ(text(out->shadow.desired()).size(), text(want).size());
    EXPECT_TRUE(exactly_equal(out->shadow.desired(), want))
        << "got " << text(out->shadow.desired()) << " want " << text(want);
    EXPECT_EQ(out->shadow.reported(), s.reported());
    // Leaves already equal keep their timestamp: they were not rewritten.
    std::vector<std::tuple<std::string, json::value, json::value>> after;
    leaves(out->shadow.desired(), out->shadow.desired_metadata(), "", after);
    for (const auto& [path, value, meta] : after) {
      const json::value* old = leaf_at(s.desired(), path);
      bool unchanged = old != nullptr && exactly_equal(*old, value);
      std::int64_t expected_time = unchanged ? kT0 : kT1;
      if (meta.is_array()) {
        for (const auto& element : meta.get_array()) {
          EXPECT_EQ(element.at("timestamp").as_int64(), expected_time) << path;
        }
      } else {
        EXPECT_EQ(meta.at("timestamp").as_int64(), expected_time) << path;
      }
    }
  }
}

TEST(ShadowReplacement, Payloads) {
  struct Case {
    const char* current;
    const char* target;
    const char* payload;
  };
  const std::vector<Case> cases = {
      {"{}", R"({"a":1})", R"({"state":{"desired":{"a":1}}})"},
      {R"({"a":1,"b":2})", "{}", R"({"state":{"desired":null}})"},
      {"{}", "{}", R"({"state":{"desired":{}}})"},
      {R"({"a":1,"b":{"c":1,"d":2}})", R"({"a":1,"b":{"c":1,"d":2}})",
       R"({"state":{"desired":{}}})"},
      {R"({"a":1,"b":{"c":1,"d":2}})", R"({"b":{"d":3}})",
       R"({"state":{"desired":{"a":null,"b":{"c":null,"d":3}}}})"},
      {R"({"a":1})", R"({"a":1.0})", R"({"state":{"desired":{"a":1.0}}})"},
      {R"({"a":{"x":1}})", R"({"a":[1]})", R"({"state":{"desired":{"a":[1]}}})"},
      {R"({"a":5})", R"({"a":{"x":1,"n":null,"e":{}}})", R"({"state":{"desired":{"a":{"x":1}}}})"},
      {R"({"a":1})", R"({"a":null,"b":{}})", R"({"state":{"desired":null}})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.current) + " -> " + c.target);
    EXPECT_EQ(desired_replacement(obj(c.current), obj(c.target)), c.payload);
  }
  EXPECT_EQ(desired_replacement(obj("{}"), obj(R"({"a":1})"), 7),
            R"({"state":{"desired":{"a":1}},"version":7})");
}

TEST(ShadowReplacement, StaleVersionIsAConflict) {
  Shadow s = build({desired_doc(R"({"a":1})"), desired_doc(R"({"a":2})")});
  EXPECT_EQ(reject(s, desired_replacement(s.desired(), obj(R"({"a":3})"), 1)).code, 409);
}

// ============================================================ REST: views ===

TEST(ShadowViews, DeviceStateIsReportedWithDesiredMergedOver) {
  struct Case {
    const char* desired;
    const char* reported;
    const char* view;
  };
  const std::vector<Case> cases = {
      {R"({"a":2,"l":{"g":5},"n":{"k":1}})", R"({"a":1,"l":{"r":1,"g":2},"x":[1]})",
       R"({"a":2,"l":{"r":1,"g":5},"x":[1],"n":{"k":1}})"},
      {R"({"a":5})", R"({"a":{"x":1}})", R"({"a":5})"},
      {R"({"a":{"x":1}})", R"({"a":5})", R"({"a":{"x":1}})"},
      {R"({"a":[1]})", R"({"a":[1,2]})", R"({"a":[1]})"},
      {"{}", R"({"t":21})", R"({"t":21})"},
      {R"({"t":25})", "{}", R"({"t":25})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.view);
    Shadow s = build({R"({"state":{"desired":)" + std::string(c.desired) + R"(,"reported":)" +
                      c.reported + "}}"});
    EXPECT_EQ(text(device_state_view(s)), c.view);
  }
  EXPECT_TRUE(device_state_view(Shadow()).empty());
}

TEST(ShadowViews, ShadowViewAlwaysHasEverySection) {
  Shadow s = build({R"({"state":{"desired":{"t":25},"reported":{"t":21,"fw":"1"}}})"});
  EXPECT_EQ(to_json(shadow_view(s, kT1)),
            R"({"state":{"desired":{"t":25},"reported":{"t":21,"fw":"1"},"delta":{"t":25}},)"
            R"("metadata":{"desired":{"t":{"timestamp":1000}},)"
            R"("reported":{"t":{"timestamp":1000},"fw":{"timestamp":1000}}},)"
            R"("version":1,"timestamp":2000})");
  Shadow cleared = build({R"({"state":null})"});
  EXPECT_EQ(to_json(shadow_view(cleared, kT1)),
            R"({"state":{"desired":{},"reported":{},"delta":{}},)"
            R"("metadata":{"desired":{},"reported":{}},"version":1,"timestamp":2000})");
  EXPECT_TRUE(shadow_view(Shadow(), kT1).is_null());
}

// ================================================================ topics ===

TEST(ShadowTopics, ParserAcceptsRequestTopics) {
  const std::string t128(128, 'T');
  const std::string s64(64, 'S');
  struct Case {
    std::string topic;
    ShadowTopic expected;
  };
  const std::vector<Case> cases = {
      {"$aws/things/thingA/shadow/get", {"thingA", "", ShadowOperation::kGet}},
      {"$aws/things/thingA/shadow/update", {"thingA", "", ShadowOperation::kUpdate}},
      {"$aws/things/thingA/shadow/delete", {"thingA", "", ShadowOperation::kDelete}},
      {"$aws/things/app:1_x-y/shadow/name/cfg-2:b_c/update",
       {"app:1_x-y", "cfg-2:b_c", ShadowOperation::kUpdate}},
      {"$aws/things/t/shadow/name/name/get", {"t", "name", ShadowOperation::kGet}},
      {"$aws/things/shadow/shadow/name/get/delete", {"shadow", "get", ShadowOperation::kDelete}},
      {"$aws/things/" + t128 + "/shadow/name/" + s64 + "/get", {t128, s64, ShadowOperation::kGet}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.topic);
    auto parsed = parse_shadow_topic(c.topic);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, c.expected);
    EXPECT_EQ(request_topic(parsed->thing_name, parsed->shadow_name, parsed->operation), c.topic);
  }
}

TEST(ShadowTopics, ParserRejectsEverythingElse) {
  const std::vector<std::string> cases = {
      "",
      "/",
      "$aws/things/thingA/shadow/update/accepted",
      "$aws/things/thingA/shadow/update/rejected",
      "$aws/things/thingA/shadow/update/delta",
      "$aws/things/thingA/shadow/update/documents",
      "$aws/things/thingA/shadow/get/accepted",
      "$aws/things/thingA/shadow/name/cfg/update/accepted",
      "$aws/things/thingA/shadow",
      "$aws/things/thingA/shadow/",
      "$aws/things/thingA/shadow/list",
      "$aws/things/thingA/shadow/GET",
      "$aws/things/thingA/shadow/get/",
      "$aws/things//shadow/get",
      "$aws/things/thingA/shadow/name//get",
      "$aws/things/thingA/shadow/name/get",
      "$aws/things/thingA/shadow/named/cfg/get",
      "$aws/things/thingA/shadow/name/cfg/x/get",
      "$aws/things/+/shadow/get",
      "$aws/things/#/shadow/get",
      "$aws/things/thingA/shadow/name/+/get",
      "$aws/things/thingA/shadow/name/#",
      "$aws/things/thing.A/shadow/get",
      "$aws/things/$thing/shadow/get",
      "$aws/things/thing A/shadow/get",
      "$aws/things/th\xC3\xA9/shadow/get",
      std::string("$aws/things/th\0g/shadow/get", 27),
      "$aws/things/" + std::string(129, 'T') + "/shadow/get",
      "$aws/things/t/shadow/name/" + std::string(65, 'S') + "/get",
      "$AWS/things/thingA/shadow/get",
      "aws/things/thingA/shadow/get",
      "/$aws/things/thingA/shadow/get",
      "$aws/thing/thingA/shadow/get",
      "$aws/things/thingA/Shadow/get",
      "$aws/things/thingA/shadows/get",
      "$aws/things/thingA/shadow/get/a/b/c/d/e/f/g/h/i/j",
      std::string(5000, '/'),
  };
  for (const auto& topic : cases) {
    SCOPED_TRACE(topic.substr(0, 80));
    EXPECT_FALSE(parse_shadow_topic(topic));
  }
}

TEST(ShadowTopics, ReplyTopics) {
  struct Case {
    ShadowReply reply;
    const char* suffix;
  };
  const std::vector<Case> cases = {
      {ShadowReply::kGetAccepted, "get/accepted"},
      {ShadowReply::kGetRejected, "get/rejected"},
      {ShadowReply::kUpdateAccepted, "update/accepted"},
      {ShadowReply::kUpdateRejected, "update/rejected"},
      {ShadowReply::kUpdateDelta, "update/delta"},
      {ShadowReply::kUpdateDocuments, "update/documents"},
      {ShadowReply::kDeleteAccepted, "delete/accepted"},
      {ShadowReply::kDeleteRejected, "delete/rejected"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.suffix);
    EXPECT_EQ(reply_topic("thingA", "", c.reply),
              std::string("$aws/things/thingA/shadow/") + c.suffix);
    EXPECT_EQ(reply_topic("thingA", "cfg", c.reply),
              std::string("$aws/things/thingA/shadow/name/cfg/") + c.suffix);
    EXPECT_FALSE(parse_shadow_topic(reply_topic("thingA", "cfg", c.reply)));
  }
  EXPECT_EQ(accepted_reply(ShadowOperation::kGet), ShadowReply::kGetAccepted);
  EXPECT_EQ(accepted_reply(ShadowOperation::kUpdate), ShadowReply::kUpdateAccepted);
  EXPECT_EQ(accepted_reply(ShadowOperation::kDelete), ShadowReply::kDeleteAccepted);
  EXPECT_EQ(rejected_reply(ShadowOperation::kGet), ShadowReply::kGetRejected);
  EXPECT_EQ(rejected_reply(ShadowOperation::kUpdate), ShadowReply::kUpdateRejected);
  EXPECT_EQ(rejected_reply(ShadowOperation::kDelete), ShadowReply::kDeleteRejected);
  EXPECT_EQ(request_topic("t", "s", ShadowOperation::kDelete),
            "$aws/things/t/shadow/name/s/delete");
}

TEST(ShadowTopics, NameRules) {
  EXPECT_TRUE(is_valid_thing_name("a"));
  EXPECT_TRUE(is_valid_thing_name(std::string(128, 'a')));
  EXPECT_FALSE(is_valid_thing_name(std::string(129, 'a')));
  EXPECT_FALSE(is_valid_thing_name(""));
  EXPECT_TRUE(is_valid_shadow_name(std::string(64, 'a')));
  EXPECT_FALSE(is_valid_shadow_name(std::string(65, 'a')));
  for (char c : std::string("/+#$. \t\n\"\\*")) {
    EXPECT_FALSE(is_valid_thing_name(std::string("a") + c + "b")) << c;
    EXPECT_FALSE(is_valid_shadow_name(std::string("a") + c + "b")) << c;
  }
}

// ============================================================ robustness ===

// Checks every promise an accepted update makes, on arbitrary input.
void check_outcome(const UpdateOutcome& out) {
  auto stored = shadow_from_storage(to_storage_json(out.shadow));
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(*stored, out.shadow);
  EXPECT_TRUE(out.shadow.exists());
  for (const std::string* p : {&out.accepted, &out.documents}) {
    auto v = parse_json(*p);
    ASSERT_TRUE(v && v->is_object()) << *p;
  }
  if (out.delta) {
    EXPECT_TRUE(parse_json(*out.delta));
  }
}

std::string mutate(std::string s, std::mt19937& rng) {
  static const std::string kAlphabet = "{}[]\":,null true 0123456789.-e\\u\xff\xc3";
  auto pick = [&rng](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n)(rng);
  };
  for (std::size_t edits = 1 + pick(2); edits > 0; --edits) {
    std::size_t pos = s.empty() ? 0 : pick(s.size() - 1);
    switch (pick(5)) {
      case 0:
        if (!s.empty()) s[pos] = kAlphabet[pick(kAlphabet.size() - 1)];
        break;
      case 1:
        s.insert(pos, 1, kAlphabet[pick(kAlphabet.size() - 1)]);
        break;
      case 2:
        if (!s.empty()) s.erase(pos, 1 + pick(4));
        break;
      case 3:
        s.insert(pos, s.substr(pos, pick(16)));
        break;
      case 4:
        s.resize(pos);
        break;
      default:
        if (!s.empty()) s[pos] = static_cast<char>(pick(255));
    }
  }
  return s;
}

TEST(ShadowRobustness, RandomMutationsNeverCrash) {
  const std::vector<std::string> seeds = {
      R"({"state":{"desired":{"a":1,"l":{"r":255,"g":[1,2,{"x":null}]}},"reported":{"a":0}},"version":1,"clientToken":"c"})",
      R"({"state":{"desired":{"a":null,"b":{"c":{"d":{"e":{"f":1}}}}}},"clientToken":"tok"})",
      R"({"state":null,"version":2})",
      R"({"state":{"reported":{"temp":21.5,"fw":"1.0","list":[true,false,"\u00e9"]}}})",
      R"({"state":{"desired":{},"reported":null}})",
      R"({"clientToken":"x","version":3})",
  };
  const std::set<int> allowed = {400, 409, 413, 415};
  std::vector<Shadow> bases = {Shadow(), build({seeds[1]}), build({seeds[3], seeds[4]})};
  std::mt19937 rng(7);
  int accepted = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string payload = mutate(seeds[i % seeds.size()], rng);
    const Shadow& base = bases[i % bases.size()];
    auto r = apply_update(base, payload, kT1);
    if (r) {
      ++accepted;
      check_outcome(*r);
      if (r->shadow.exists()) bases[i % bases.size()] = r->shadow;
    } else {
      EXPECT_TRUE(allowed.count(r.error().code)) << r.error().code << " " << payload;
      EXPECT_TRUE(parse_json(error_document(r.error(), kT1)));
    }
    for (auto parse : {parse_get_request, parse_delete_request}) {
      auto q = parse(payload);
      if (!q) {
        EXPECT_TRUE(allowed.count(q.error().code)) << payload;
      }
    }
    (void)parse_shadow_topic(mutate("$aws/things/thingA/shadow/name/cfg/update", rng));
  }
  RecordProperty("accepted", accepted);
  EXPECT_GT(accepted, 100) << "the mutations should not all be rejected";
}

// Every leaf the request wrote is stored with timestamp `now`; every null it
// sent is gone.
void check_request_applied(const json::object& request, const json::object& state,
                           const json::object& meta, std::int64_t now, const std::string& path) {
  for (const auto& [key, value] : request) {
    std::string p = path + "/" + std::string(key);
    const json::value* stored = leaf_at(state, p);
    if (value.is_null()) {
      EXPECT_EQ(stored, nullptr) << p;
    } else if (value.is_object()) {
      check_request_applied(value.get_object(), state, meta, now, p);
    } else {
      ASSERT_NE(stored, nullptr) << p;
      EXPECT_TRUE(exactly_equal(*stored, value)) << p;
      const json::value* m = leaf_at(meta, p);
      ASSERT_NE(m, nullptr) << p;
      json::value stamp = json::object{{"timestamp", now}};
      json::value want = value.is_array() ? json::array(value.get_array().size(), stamp) : stamp;
      EXPECT_EQ(*m, want) << p;
    }
  }
}

TEST(ShadowRobustness, RandomValidUpdatesKeepEveryPromise) {
  RandomJson random(99);
  std::mt19937 rng(5);
  Shadow s;
  for (int i = 0; i < 2000; ++i) {
    std::int64_t now = kT0 + i;
    json::object state;
    for (const char* section : {"desired", "reported"}) {
      switch (rng() % 4) {
        case 0:
          break;
        case 1:
          state[section] = nullptr;
          break;
        default:
          state[section] = random.object(4, true);
      }
    }
    json::object request{{"state", state}};
    if (rng() % 50 == 0) request["state"] = nullptr;
    if (rng() % 3 == 0) request["version"] = s.version();
    if (rng() % 2 == 0) request["clientToken"] = "tok-" + std::to_string(i);
    std::string payload = to_json(request);
    SCOPED_TRACE(payload);
    auto out = apply_update(s, payload, now);
    ASSERT_TRUE(out) << out.error().message;
    check_outcome(*out);
    EXPECT_EQ(out->shadow.version(), s.version() + 1);
    json::object accepted = obj(out->accepted);
    EXPECT_TRUE(exactly_equal(accepted["state"], request["state"]));
    if (const auto* sent_state = request["state"].if_object()) {
      for (const char* section : {"desired", "reported"}) {
        const json::value* sent = sent_state->if_contains(section);
        bool desired = std::string_view(section) == "desired";
        const auto& stored = desired ? out->shadow.desired() : out->shadow.reported();
        const auto& meta =
            desired ? out->shadow.desired_metadata() : out->shadow.reported_metadata();
        if (sent != nullptr && sent->is_null()) {
          EXPECT_TRUE(stored.empty());
        } else if (sent != nullptr) {
          check_request_applied(sent->get_object(), stored, meta, now, "");
        }
      }
    }
    json::object delta = compute_delta(out->shadow.desired(), out->shadow.reported());
    const auto* st = request["state"].if_object();
    bool sent_desired = st != nullptr && st->contains("desired") && st->at("desired").is_object();
    EXPECT_EQ(out->delta.has_value(), sent_desired && !delta.empty());
    if (out->delta) {
      EXPECT_EQ(to_json(obj(*out->delta)["state"]), text(delta));
    }
    s = out->shadow;
  }
}

TEST(ShadowRobustness, HugeAndOddPayloadsNeverCrash) {
  std::string many_element_array = R"({"state":{"desired":{"a":[0)";
  for (int i = 0; i < 30000; ++i) {
    many_element_array += ",1";
  }
  many_element_array += "]}}}";
  const std::vector<std::string> payloads = {
      std::string(1 << 20, 'x'),
      R"({"state":{"desired":{"a":")" + std::string(100000, 'x') + R"("}}})",
      std::string(100000, '"'),
      std::string(100000, '\\'),
      std::string(10000, '\0'),
      R"({"state":{"desired":)" + std::string(31, '[') + std::string(31, ']') + "}}",
      many_element_array,
      R"({"state":{"reported":{"a":9999999999999999999999999999999}}})",
      R"({"state":{"reported":{"a":-1e-400}}})",
      "{\"state\":{\"desired\":{\"\\u0000\":\"\\u0000\"}}}",
  };
  for (const auto& p : payloads) {
    auto r = apply_update(Shadow(), p, kT0);
    if (r) check_outcome(*r);
    (void)parse_get_request(p);
    (void)parse_delete_request(p);
    (void)shadow_from_storage(p);
    (void)parse_shadow_topic(p);
  }
}

}  // namespace
}  // namespace para::iot
