#include "crypto/digest.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace para::crypto {
namespace {

constexpr std::size_t kSha256Size = 32;

// A failing OpenSSL call here (allocation, a missing default provider) leaves
// no safe way to authenticate anything, so it is treated like a failed RNG.
[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "para: fatal OpenSSL failure: %s\n", what);
  std::abort();
}

const unsigned char* bytes(std::string_view s) {
  // OpenSSL wants a non-null pointer even for zero-length input.
  static const unsigned char kEmpty = 0;
  return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

// Fetched once: explicit fetching skips the per-call provider lookup that
// the implicit EVP_sha256()/EVP_Q_mac paths do, and SigV4 runs five HMACs
// per request.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) die("EVP_MD_fetch(SHA256)");
  return md;
}

EVP_MAC* hmac_mac() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) die("EVP_MAC_fetch(HMAC)");
  return mac;
}

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};

// Standard and URL-safe base64 differ in the last two characters and in
// padding; the reverse table is built at compile time.
struct Base64Alphabet {
  std::string_view chars;  // 64 characters
  bool padded;
  std::array<signed char, 256> values;  // -1 outside the alphabet
};

constexpr Base64Alphabet make_alphabet(std::string_view chars, bool padded) {
  Base64Alphabet alpha{chars, padded, {}};
  alpha.values.fill(-1);
  for (int v = 0; v < 64; ++v) {
    alpha.values[static_cast<unsigned char>(chars[v])] = static_cast<signed char>(v);
  }
  return alpha;
}

constexpr Base64Alphabet kStd =
    make_alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", true);
constexpr Base64Alphabet kUrl =
    make_alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", false);

std::string encode_base64(std::string_view in, const Base64Alphabet& alpha) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::size_t len = std::min<std::size_t>(3, in.size() - i);
    unsigned group = 0;  // 24 bits, zero-filled past the input
    for (std::size_t k = 0; k < 3; ++k) {
      group = (group << 8) | (k < len ? static_cast<unsigned char>(in[i + k]) : 0u);
    }
    for (std::size_t k = 0; k <= len; ++k)
      out.push_back(alpha.chars[(group >> (18 - 6 * k)) & 63]);
    if (alpha.padded) out.append(3 - len, '=');
  }
  return out;
}

// Strict: only alphabet characters, padding exactly as the variant requires,
// and zero bits in the unused tail of the last character. Accepting any other
// spelling would give one byte string several encodings, which matters when
// an encoded value (a JWT signature) is compared or used as a key.
Result<std::string> decode_base64(std::string_view in, const Base64Alphabet& alpha) {
  if (alpha.padded) {
    if (in.size() % 4 != 0) return invalid_input("base64: length is not a multiple of 4");
    if (in.ends_with("==")) {
      in.remove_suffix(2);
    } else if (in.ends_with("=")) {
      in.remove_suffix(1);
    }
  }
  if (in.size() % 4 == 1) return invalid_input("base64: truncated input");

  std::string out;
  out.reserve(in.size() * 3 / 4);
  unsigned acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    int v = alpha.values[c];
    if (v < 0) return invalid_input("base64: invalid character");
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return invalid_input("base64: non-zero padding bits");
  return out;
}

}  // namespace

std::string sha256(std::string_view data) {
  std::string out(kSha256Size, '\0');
  unsigned int len = 0;
  if (EVP_Digest(bytes(data), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
                 sha256_md(), nullptr) != 1 ||
      len != kSha256Size) {
    die("EVP_Digest");
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  return hex_encode(sha256(data));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(EVP_MAC_CTX_new(hmac_mac()));
  if (!ctx) die("EVP_MAC_CTX_new");
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end(),
  };
  std::string out(kSha256Size, '\0');
  std::size_t len = 0;
  if (EVP_MAC_init(ctx.get(), bytes(key), key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), bytes(data), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, out.size()) !=
          1 ||
      len != kSha256Size) {
    die("HMAC-SHA256");
  }
  return out;
}

std::string hex_encode(std::string_view in) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(in.size() * 2);
  for (unsigned char c : in) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

std::string base64_encode(std::string_view in) {
  return encode_base64(in, kStd);
}
Result<std::string> base64_decode(std::string_view text) {
  return decode_base64(text, kStd);
}
std::string base64url_encode(std::string_view in) {
  return encode_base64(in, kUrl);
}
Result<std::string> base64url_decode(std::string_view text) {
  return decode_base64(text, kUrl);
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  // RAND_bytes takes an int length.
  for (std::size_t done = 0; done < n;) {
    int chunk = static_cast<int>(std::min<std::size_t>(n - done, INT_MAX));
    if (RAND_bytes(p + done, chunk) != 1) die("RAND_bytes");
    done += static_cast<std::size_t>(chunk);
  }
  return out;
}

}  // namespace para::crypto
