#include "crypto/jwt.h"

#include "core/text.h"
#include "crypto/digest.h"

namespace para::crypto {
namespace {

// Written out rather than serialised, so the header bytes the MAC covers
// never depend on the JSON printer.
constexpr std::string_view kHeaderJson = R"({"alg":"HS256","typ":"JWT"})";

Error malformed() {
  return unauthenticated("malformed");
}

struct Segments {
  std::string_view header;
  std::string_view payload;
  std::string_view signature;
  std::string_view signing_input;  // "header.payload"
};

Result<Segments> split_token(std::string_view token) {
  auto first = token.find('.');
  if (first == std::string_view::npos) return malformed();
  auto second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return malformed();
  }
  return Segments{token.substr(0, first), token.substr(first + 1, second - first - 1),
                  token.substr(second + 1), token.substr(0, second)};
}

// Decodes a base64url segment holding a JSON object.
Result<json::object> decode_object(std::string_view segment) {
  auto text = base64url_decode(segment);
  if (!text) return malformed();
  auto value = parse_json(*text);
  if (!value || !value->is_object()) return malformed();
  return std::move(value->as_object());
}

// Only HS256 is accepted: honouring the header's choice is how "alg":"none"
// and RS256/HS256 key-confusion attacks work. `crit` names extensions that
// must be understood, and we understand none.
Status check_header(std::string_view segment) {
  auto header = decode_object(segment);
  if (!header) return header.error();
  const auto* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->get_string() != "HS256" ||
      header->contains("crit")) {
    return unauthenticated("unsupported algorithm");
  }
  return {};
}

// A NumericDate claim as seconds; JWT allows fractions, which we keep.
Result<double> numeric_date(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  return malformed();
}

// `exp` is required because a token without one would be valid forever.
Status check_times(const json::object& claims, std::int64_t now_sec) {
  const auto now = static_cast<double>(now_sec);
  const auto* exp = claims.if_contains("exp");
  if (exp == nullptr) return malformed();
  auto exp_sec = numeric_date(*exp);
  if (!exp_sec) return exp_sec.error();
  if (!(*exp_sec > now)) return unauthenticated("expired");
  if (const auto* nbf = claims.if_contains("nbf")) {
    auto nbf_sec = numeric_date(*nbf);
    if (!nbf_sec) return nbf_sec.error();
    if (*nbf_sec > now) return unauthenticated("not yet valid");
  }
  return {};
}

}  // namespace

std::string sign_hs256(const json::object& claims, std::string_view key) {
  std::string token = base64url_encode(kHeaderJson);
  token.push_back('.');
  token += base64url_encode(to_json(claims));
  std::string mac = hmac_sha256(key, token);
  token.push_back('.');
  token += base64url_encode(mac);
  return token;
}

Result<json::object> verify_hs256(std::string_view token, std::string_view key,
                                  std::int64_t now_sec) {
  auto parts = split_token(token);
  if (!parts) return parts.error();
  if (auto st = check_header(parts->header); !st) return st.error();
  auto given = base64url_decode(parts->signature);
  if (!given) return malformed();
  // Checked before the payload is parsed: unauthenticated input gets no
  // further than the MAC.
  if (!constant_time_equal(*given, hmac_sha256(key, parts->signing_input))) {
    return unauthenticated("bad signature");
  }
  auto claims = decode_object(parts->payload);
  if (!claims) return claims.error();
  if (auto st = check_times(*claims, now_sec); !st) return st.error();
  return claims;
}

Result<json::object> peek_claims(std::string_view token) {
  auto parts = split_token(token);
  if (!parts) return parts.error();
  return decode_object(parts->payload);
}

}  // namespace para::crypto
