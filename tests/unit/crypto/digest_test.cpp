#include "crypto/digest.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace para::crypto {
namespace {

std::string repeat(char c, std::size_t n) {
  return std::string(n, c);
}

TEST(Sha256, KnownVectors) {
  // FIPS 180-2 appendix B examples, plus the empty string.
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(repeat('a', 1000000)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, RawIs32BytesMatchingHex) {
  std::string raw = sha256("abc");
  ASSERT_EQ(raw.size(), 32u);
  EXPECT_EQ(hex_encode(raw), sha256_hex("abc"));
}

TEST(Sha256, HandlesEmbeddedNul) {
  EXPECT_NE(sha256_hex(std::string("a\0b", 3)), sha256_hex("ab"));
}

struct HmacCase {
  const char* name;
  std::string key;
  std::string data;
  std::string hex;  // expected; may be a prefix (RFC 4231 case 5 truncates)
};

// RFC 4231 section 4, HMAC-SHA-256 results.
std::vector<HmacCase> rfc4231_cases() {
  std::string key4;
  for (char c = 1; c <= 25; ++c)
    key4.push_back(c);
  return {
      {"case1", repeat('\x0b', 20), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"case2", "Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"case3", repeat('\xaa', 20), repeat('\xdd', 50),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"case4", key4, repeat('\xcd', 50),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {"case5", repeat('\x0c', 20), "Test With Truncation", "a3b6167473100ee06e0c796c2955552b"},
      {"case6", repeat('\xaa', 131), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {"case7", repeat('\xaa', 131),
       "This is a test using a larger than block-size key and a larger than block-size data. "
       "The key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
}

TEST(HmacSha256, Rfc4231) {
  for (const auto& c : rfc4231_cases()) {
    SCOPED_TRACE(c.name);
    std::string mac = hmac_sha256(c.key, c.data);
    ASSERT_EQ(mac.size(), 32u);
    EXPECT_EQ(hex_encode(mac).substr(0, c.hex.size()), c.hex);
  }
}

TEST(HmacSha256, EmptyKeyAndData) {
  // A zero-length key is legal HMAC; OpenSSL needs a non-null pointer for it.
  EXPECT_EQ(hex_encode(hmac_sha256("", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  EXPECT_EQ(hex_encode(hmac_sha256(std::string_view(), std::string_view())),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(Hex, LowercaseTwoDigitsPerByte) {
  EXPECT_EQ(hex_encode(""), "");
  EXPECT_EQ(hex_encode(std::string("\x00\x01\x7f\x80\xff", 5)), "00017f80ff");
  EXPECT_EQ(hex_encode("\xAB\xCD"), "abcd");
}

// RFC 4648 section 10.
TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : cases) {
    EXPECT_EQ(base64_encode(plain), encoded);
    auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base64Url, Rfc4648VectorsWithoutPadding) {
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : cases) {
    EXPECT_EQ(base64url_encode(plain), encoded);
    auto decoded = base64url_decode(encoded);
    ASSERT_TRUE(decoded) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base64, AlphabetsDifferInLastTwoCharacters) {
  std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(base64_encode(bytes), "+/+/");
  EXPECT_EQ(base64url_encode(bytes), "-_-_");
  EXPECT_EQ(base64_encode("\xfb\xff"), "+/8=");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
}

TEST(Base64, RoundTripsEveryLengthAndByte) {
  std::string all;
  for (int i = 0; i < 256; ++i)
    all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); ++n) {
    std::string in = all.substr(256 - n) + random_bytes(n % 7);
    auto std_decoded = base64_decode(base64_encode(in));
    auto url_decoded = base64url_decode(base64url_encode(in));
    ASSERT_TRUE(std_decoded);
    ASSERT_TRUE(url_decoded);
    EXPECT_EQ(*std_decoded, in);
    EXPECT_EQ(*url_decoded, in);
  }
}

TEST(Base64, RejectsMalformedInput) {
  const char* bad[] = {
      "Zg",        // padding missing
      "Zg=",       // length not a multiple of 4
      "Z===",      // too much padding
      "====",      // padding only
      "Zg==Zg==",  // padding in the middle
      "Zm=v",      // '=' inside a group
      "Zm9v\n",    // whitespace is not skipped
      " Zm9v",     //
      "Zm9-",      // URL-safe alphabet
      "Zm9_",      //
      "Zm9*",      // not base64 at all
      "Zh==",      // non-zero unused bits ("Zg==" is canonical)
      "Zm9=",      // non-zero unused bits ("Zm8=" is canonical)
      "Zm9vY===",  //
  };
  for (const char* text : bad) {
    auto r = base64_decode(text);
    ASSERT_FALSE(r) << '"' << text << '"';
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalidInput);
  }
  EXPECT_FALSE(base64_decode(std::string("Zm9v\0\0\0\0", 8)));
}

TEST(Base64Url, RejectsMalformedInput) {
  const char* bad[] = {
      "Zg==",   // padding is not used
      "Zm8=",   //
      "Z",      // a lone character cannot encode a byte
      "Zm9vY",  //
      "+/8",    // standard alphabet
      "Zh",     // non-zero unused bits
      "Zm9",    //
      "Zm 9v",  // whitespace
      "Zm9v.",  //
  };
  for (const char* text : bad) {
    auto r = base64url_decode(text);
    ASSERT_FALSE(r) << '"' << text << '"';
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalidInput);
  }
}

TEST(RandomBytes, ReturnsRequestedLength) {
  for (std::size_t n : {0u, 1u, 16u, 32u, 1000u, 70000u})
    EXPECT_EQ(random_bytes(n).size(), n);
}

TEST(RandomBytes, DrawsDiffer) {
  // 100 draws of 128 bits: a repeat means the RNG is broken, not unlucky.
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i)
    seen.insert(random_bytes(16));
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_NE(random_bytes(32), std::string(32, '\0'));
}

}  // namespace
}  // namespace para::crypto
