#include "core/json.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace para {
namespace {

std::string round_trip(std::string_view text) {
  auto v = parse_json(text);
  EXPECT_TRUE(v) << text;
  return v ? to_json(*v) : std::string();
}

TEST(Json, DoublesPrintShortestAndReadBackExactly) {
  EXPECT_EQ(round_trip("[0.1,1e-7,12.5,1235.5]"), "[0.1,1e-07,12.5,1235.5]");
  EXPECT_EQ(round_trip("0.30000000000000004"), "0.30000000000000004");
  EXPECT_EQ(round_trip("1.7976931348623157e308"), "1.7976931348623157e+308");
  EXPECT_EQ(round_trip("5e-324"), "5e-324");
  EXPECT_EQ(round_trip("-0.0"), "-0.0");
  EXPECT_EQ(round_trip("2.0"), "2.0") << "a double stays a double";
  EXPECT_EQ(round_trip("1e2"), "100.0");
}

TEST(Json, SeventeenDigitDoublesAreCorrectlyRounded) {
  // Random doubles printed with 17 significant digits must parse to the same bits.
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d)) continue;
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", d);
    auto v = parse_json(text);
    ASSERT_TRUE(v) << text;
    // Integral values without a '.' read back as integers, exactly.
    auto as_double = [](const json::value& x) {
      return x.is_double() ? x.get_double() : static_cast<double>(x.as_int64());
    };
    double back = as_double(*v);
    ASSERT_EQ(std::memcmp(&back, &d, sizeof d), 0) << text;
    ASSERT_EQ(as_double(*parse_json(to_json(*v))), d) << text;
  }
}

TEST(Json, IntegersAreExact) {
  EXPECT_EQ(round_trip("9223372036854775807"), "9223372036854775807");
  EXPECT_EQ(round_trip("-9223372036854775808"), "-9223372036854775808");
  EXPECT_EQ(round_trip("18446744073709551615"), "18446744073709551615");
  EXPECT_TRUE(parse_json("9223372036854775807")->is_int64());
}

TEST(Json, StringsAreEscaped) {
  EXPECT_EQ(round_trip(R"(["a\"b\\c\n\t\u0001é"])"), "[\"a\\\"b\\\\c\\n\\t\\u0001é\"]");
  EXPECT_EQ(round_trip(R"("\ud83d\ude00")"), "\"\xF0\x9F\x98\x80\"");
}

TEST(Json, RejectsMalformedInputWithAClearMessage) {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{\"a\":1} x", "nul", "\"\xff\"", "01",
                          "{'a':1}", "// c\n{}", "[1e400]", "-1e999"}) {
    auto v = parse_json(bad);
    ASSERT_FALSE(v) << bad;
    EXPECT_EQ(v.error().kind, ErrorKind::kInvalidInput);
    EXPECT_TRUE(v.error().message.starts_with("Malformed JSON: ")) << v.error().message;
  }
  EXPECT_NE(parse_json("[1e400]").error().message.find("number out of range"), std::string::npos);
}

TEST(Json, EnforcesTheDepthLimit) {
  std::string deep = std::string(64, '[') + std::string(64, ']');
  EXPECT_TRUE(parse_json(deep));
  std::string too_deep = std::string(65, '[') + std::string(65, ']');
  auto v = parse_json(too_deep);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("nesting deeper than 64"), std::string::npos);
  std::string huge = std::string(100000, '[');
  EXPECT_FALSE(parse_json(huge)) << "no stack overflow on hostile nesting";
}

}  // namespace
}  // namespace para
