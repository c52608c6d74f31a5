// Authorization headers and the canonical request built from them, the way
// the API verifies a Para client's signature.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/auth.h"
#include "crypto/sigv4.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)para::parse_amz_date(text.substr(0, 20));
  auto auth = para::crypto::parse_authorization(text);
  if (!auth) return 0;
  para::crypto::CanonicalRequest request;
  request.method = "GET";
  request.uri = para::crypto::canonical_uri(text.substr(0, 64));
  for (const auto& name : auth->signed_headers)
    request.headers.emplace_back(name, std::string(text));
  request.payload_hash = std::string(para::crypto::kEmptyPayloadHash);
  auto canonical = para::crypto::canonicalize(request);
  para::crypto::Scope scope{"20240101", "us-east-1", "para"};
  (void)para::crypto::signature(
      para::crypto::signing_key("secret", scope),
      para::crypto::string_to_sign("20240101T000000Z", scope, canonical.text));
  return 0;
}
