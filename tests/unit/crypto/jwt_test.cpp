#include "crypto/jwt.h"

#include <gtest/gtest.h>

#include <string>

#include "crypto/digest.h"

namespace para::crypto {
namespace {

constexpr std::int64_t kNow = 1700000000;
constexpr std::string_view kKey = "app-secret";

json::object valid_claims() {
  return {{"appid", "app:myapp"}, {"iat", kNow}, {"nbf", kNow - 5}, {"exp", kNow + 3600}};
}

// Builds a token from arbitrary header and payload text, signed with `key`,
// to reach the checks that sign_hs256 never produces input for.
std::string forge(std::string_view header_json, std::string_view payload_json,
                  std::string_view key = kKey) {
  std::string input = base64url_encode(header_json) + "." + base64url_encode(payload_json);
  return input + "." + base64url_encode(hmac_sha256(key, input));
}

void expect_rejected(const Result<json::object>& r, std::string_view reason) {
  ASSERT_FALSE(r) << "accepted, expected \"" << reason << '"';
  EXPECT_EQ(r.error().kind, ErrorKind::kUnauthenticated);
  EXPECT_EQ(r.error().message, reason);
}

TEST(Jwt, SignVerifyRoundTrip) {
  auto claims = valid_claims();
  auto verified = verify_hs256(sign_hs256(claims, kKey), kKey, kNow);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(*verified, claims);
}

TEST(Jwt, MatchesJwtIoReferenceToken) {
  // The jwt.io example token: proves interoperability of encoding and MAC.
  json::object claims{{"sub", "1234567890"}, {"name", "John Doe"}, {"iat", 1516239022}};
  EXPECT_EQ(sign_hs256(claims, "your-256-bit-secret"),
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
            "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
            "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c");
}

TEST(Jwt, TamperedPayloadIsBadSignature) {
  std::string token = sign_hs256(valid_claims(), kKey);
  auto claims = valid_claims();
  claims["appid"] = "app:other";
  std::string other = sign_hs256(claims, kKey);
  // Splice the other token's payload between this token's header and MAC.
  auto first = token.find('.');
  auto last = token.rfind('.');
  std::string spliced =
      token.substr(0, first) + other.substr(first, other.rfind('.') - first) + token.substr(last);
  ASSERT_NE(spliced, token);
  expect_rejected(verify_hs256(spliced, kKey, kNow), "bad signature");
}

TEST(Jwt, TamperedSignatureIsBadSignature) {
  std::string token = sign_hs256(valid_claims(), kKey);
  auto last = token.rfind('.') + 1;
  token[last] = token[last] == 'A' ? 'B' : 'A';
  expect_rejected(verify_hs256(token, kKey, kNow), "bad signature");
  // A truncated MAC must not match either.
  std::string input = token.substr(0, last - 1);
  std::string short_mac = base64url_encode(hmac_sha256(kKey, input).substr(0, 16));
  expect_rejected(verify_hs256(input + "." + short_mac, kKey, kNow), "bad signature");
}

TEST(Jwt, WrongKeyIsBadSignature) {
  std::string token = sign_hs256(valid_claims(), kKey);
  expect_rejected(verify_hs256(token, "another-secret", kNow), "bad signature");
  expect_rejected(verify_hs256(token, "", kNow), "bad signature");
}

TEST(Jwt, ExpiredAtAndAfterExp) {
  auto claims = valid_claims();
  claims["exp"] = kNow;
  expect_rejected(verify_hs256(sign_hs256(claims, kKey), kKey, kNow), "expired");
  claims["exp"] = kNow - 1;
  expect_rejected(verify_hs256(sign_hs256(claims, kKey), kKey, kNow), "expired");
  claims["exp"] = kNow + 1;
  EXPECT_TRUE(verify_hs256(sign_hs256(claims, kKey), kKey, kNow));
}

TEST(Jwt, FractionalExpIsANumericDate) {
  auto claims = valid_claims();
  claims["exp"] = static_cast<double>(kNow) + 0.5;
  EXPECT_TRUE(verify_hs256(sign_hs256(claims, kKey), kKey, kNow));
  claims["exp"] = static_cast<double>(kNow) - 0.5;
  expect_rejected(verify_hs256(sign_hs256(claims, kKey), kKey, kNow), "expired");
}

TEST(Jwt, MissingOrNonNumericExpIsMalformed) {
  auto claims = valid_claims();
  claims.erase("exp");
  expect_rejected(verify_hs256(sign_hs256(claims, kKey), kKey, kNow), "malformed");
  claims["exp"] = "tomorrow";
  expect_rejected(verify_hs256(sign_hs256(claims, kKey), kKey, kNow), "malformed");
}

TEST(Jwt, NbfInTheFutureIsNotYetValid) {
  auto claims = valid_claims();
  claims["nbf"] = kNow + 1;
  expect_rejected(verify_hs256(sign_hs256(claims, kKey), kKey, kNow), "not yet valid");
  claims["nbf"] = kNow;
  EXPECT_TRUE(verify_hs256(sign_hs256(claims, kKey), kKey, kNow));
  claims.erase("nbf");
  EXPECT_TRUE(verify_hs256(sign_hs256(claims, kKey), kKey, kNow));
  claims["nbf"] = nullptr;
  expect_rejected(verify_hs256(sign_hs256(claims, kKey), kKey, kNow), "malformed");
}

TEST(Jwt, AlgNoneIsRejected) {
  std::string payload = to_json(valid_claims());
  std::string unsigned_token =
      base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + base64url_encode(payload) + ".";
  expect_rejected(verify_hs256(unsigned_token, kKey, kNow), "unsupported algorithm");
  // Even with a valid HS256 MAC, a header that says "none" is refused.
  expect_rejected(verify_hs256(forge(R"({"alg":"none"})", payload), kKey, kNow),
                  "unsupported algorithm");
}

TEST(Jwt, OnlyExactlyHs256IsAccepted) {
  std::string payload = to_json(valid_claims());
  for (const char* header : {R"({"alg":"HS512","typ":"JWT"})", R"({"alg":"RS256"})",
                             R"({"alg":"hs256"})", R"({"typ":"JWT"})", R"({"alg":null})",
                             R"({"alg":["HS256"]})", R"({"alg":"HS256","crit":["exp"]})"}) {
    SCOPED_TRACE(header);
    expect_rejected(verify_hs256(forge(header, payload), kKey, kNow), "unsupported algorithm");
  }
  // `typ` is optional and other header fields are ignored.
  EXPECT_TRUE(verify_hs256(forge(R"({"alg":"HS256"})", payload), kKey, kNow));
  EXPECT_TRUE(verify_hs256(forge(R"({"alg":"HS256","kid":"k1"})", payload), kKey, kNow));
}

TEST(Jwt, MalformedTokens) {
  std::string good = sign_hs256(valid_claims(), kKey);
  std::string payload = to_json(valid_claims());
  const std::string cases[] = {
      "",
      "abc",
      "a.b",
      good + ".extra",  // four segments
      "..",
      "!!!.eyJ9.sig",                           // bad base64 in the header
      good.substr(0, good.rfind('.')) + ".!!",  // bad base64 in the signature
      good + "=",                               // padding is not base64url as JWT uses it
      forge("not json", payload),
      forge("[1,2]", payload),             // header JSON is not an object
      forge(R"({"alg":"HS256"})", "[1]"),  // payload JSON is not an object
      forge(R"({"alg":"HS256"})", "\"str\""),
      forge(R"({"alg":"HS256"})", "{"),
  };
  for (const auto& token : cases) {
    SCOPED_TRACE(token);
    expect_rejected(verify_hs256(token, kKey, kNow), "malformed");
  }
}

TEST(Jwt, PayloadWithBadBase64IsMalformedWhenTheMacMatches) {
  std::string input = base64url_encode(R"({"alg":"HS256"})") + ".***";
  std::string token = input + "." + base64url_encode(hmac_sha256(kKey, input));
  expect_rejected(verify_hs256(token, kKey, kNow), "malformed");
}

TEST(Jwt, PeekClaimsChecksNothingButShape) {
  auto claims = valid_claims();
  claims["exp"] = kNow - 100;  // expired and signed with an unknown key
  auto peeked = peek_claims(sign_hs256(claims, "unknown"));
  ASSERT_TRUE(peeked);
  EXPECT_EQ(peeked->at("appid").as_string(), "app:myapp");

  expect_rejected(peek_claims("a.b"), "malformed");
  expect_rejected(peek_claims("x.!!.y"), "malformed");
  expect_rejected(peek_claims(forge(R"({"alg":"HS256"})", "[]")), "malformed");
}

}  // namespace
}  // namespace para::crypto
