#include "crypto/sigv4.h"

#include <algorithm>

#include "core/text.h"
#include "crypto/digest.h"

namespace para::crypto {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

// Trims and collapses every run of blanks to one space, inside quotes too
// (the suite's get-header-value-trim expects "a   b" -> "a b").
std::string collapse_blanks(std::string_view value) {
  value = trim(value);
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (!is_blank(value[i])) {
      out.push_back(value[i]);
    } else if (!is_blank(value[i - 1])) {  // i > 0: value is trimmed
      out.push_back(' ');
    }
  }
  return out;
}

struct CanonicalHeader {
  std::string name;  // lowercase
  std::string value;
};

// Lowercases names, sorts them, and merges repeated names into one
// comma-joined value that keeps the order the values were sent in.
std::vector<CanonicalHeader> canonical_headers(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<CanonicalHeader> sorted;
  sorted.reserve(headers.size());
  for (const auto& [name, value] : headers) {
    sorted.push_back({to_lower(name), collapse_blanks(value)});
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.name < b.name; });
  std::vector<CanonicalHeader> merged;
  for (auto& h : sorted) {
    if (!merged.empty() && merged.back().name == h.name) {
      merged.back().value += "," + h.value;
    } else {
      merged.push_back(std::move(h));
    }
  }
  return merged;
}

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// A header name in SignedHeaders: a non-empty token without blanks or
// control characters.
bool is_header_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7F;
  });
}

Result<std::vector<std::string>> parse_signed_headers(std::string_view list) {
  std::vector<std::string> names;
  while (true) {
    auto end = list.find(';');
    auto name = list.substr(0, end);
    if (!is_header_name(name)) return invalid_input("Malformed SignedHeaders in Authorization.");
    names.push_back(to_lower(name));
    if (end == std::string_view::npos) return names;
    list.remove_prefix(end + 1);
  }
}

// Stores one "Key=Value" component of the header into `out`.
Status parse_component(std::string_view part, AuthorizationHeader& out) {
  auto eq = part.find('=');
  if (eq == std::string_view::npos) return invalid_input("Malformed Authorization component.");
  auto key = trim(part.substr(0, eq));
  auto value = trim(part.substr(eq + 1));
  if (key == "Credential" && out.credential.empty()) {
    auto slash = value.find('/');
    if (slash == 0 || slash == std::string_view::npos) {
      return invalid_input("Malformed Credential in Authorization.");
    }
    out.credential = std::string(value);
    out.access_key = std::string(value.substr(0, slash));
  } else if (key == "SignedHeaders" && out.signed_headers.empty()) {
    auto names = parse_signed_headers(value);
    if (!names) return names.error();
    out.signed_headers = std::move(*names);
  } else if (key == "Signature" && out.signature.empty()) {
    if (value.size() != 64 || !std::all_of(value.begin(), value.end(), is_hex_digit)) {
      return invalid_input("Malformed Signature in Authorization.");
    }
    out.signature = std::string(value);
  } else {
    return invalid_input("Unknown or repeated Authorization component.");
  }
  return {};
}

}  // namespace

std::string canonical_uri(std::string_view raw_path) {
  if (raw_path.empty()) return "/";
  return rfc3986_encode(raw_path, true);
}

std::string canonical_query(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(rfc3986_encode(name, false), rfc3986_encode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

Canonical canonicalize(const CanonicalRequest& request) {
  Canonical result;
  std::string header_block;
  for (const auto& h : canonical_headers(request.headers)) {
    header_block += h.name + ":" + h.value + "\n";
    if (!result.signed_headers.empty()) result.signed_headers.push_back(';');
    result.signed_headers += h.name;
  }
  std::string& t = result.text;
  t.append(request.method).append("\n");
  t.append(request.uri).append("\n");
  t.append(canonical_query(request.query)).append("\n");
  t.append(header_block).append("\n");
  t.append(result.signed_headers).append("\n");
  t.append(request.payload_hash);
  return result;
}

std::string string_to_sign(std::string_view amz_date, const Scope& scope,
                           std::string_view canonical_text) {
  std::string out(kAlgorithm);
  out.append("\n").append(amz_date).append("\n");
  out.append(scope.str()).append("\n");
  out.append(sha256_hex(canonical_text));
  return out;
}

std::string signing_key(std::string_view secret, const Scope& scope) {
  std::string key = hmac_sha256("AWS4" + std::string(secret), scope.date);
  key = hmac_sha256(key, scope.region);
  key = hmac_sha256(key, scope.service);
  return hmac_sha256(key, "aws4_request");
}

std::string SigningKeyCache::key(std::string_view name, std::string_view secret,
                                 const Scope& scope) {
  std::string slot(name);
  slot.append("\n").append(scope.str());
  {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(slot); it != entries_.end() && it->second.secret == secret) {
      return it->second.key;
    }
  }
  std::string derived = signing_key(secret, scope);
  std::lock_guard lock(mutex_);
  if (entries_.size() >= capacity_ && !entries_.contains(slot)) entries_.clear();
  entries_.insert_or_assign(std::move(slot), Entry{std::string(secret), derived});
  return derived;
}

std::string signature(std::string_view key, std::string_view string_to_sign) {
  return hex_encode(hmac_sha256(key, string_to_sign));
}

std::string authorization_header(const CanonicalRequest& request, std::string_view access_key,
                                 std::string_view secret, std::string_view amz_date,
                                 const Scope& scope) {
  Canonical canonical = canonicalize(request);
  std::string sts = string_to_sign(amz_date, scope, canonical.text);
  std::string out(kAlgorithm);
  out.append(" Credential=").append(access_key).append("/").append(scope.str());
  out.append(", SignedHeaders=").append(canonical.signed_headers);
  out.append(", Signature=").append(signature(signing_key(secret, scope), sts));
  return out;
}

Result<AuthorizationHeader> parse_authorization(std::string_view header) {
  header = trim(header);
  // The scheme is the first token; "AWS4-HMAC-SHA256x ..." is another scheme.
  if (!header.starts_with(kAlgorithm) ||
      (header.size() > kAlgorithm.size() && !is_blank(header[kAlgorithm.size()]))) {
    return unauthenticated("Authorization is not AWS4-HMAC-SHA256.");
  }
  header.remove_prefix(kAlgorithm.size());
  AuthorizationHeader out;
  while (true) {
    auto comma = header.find(',');
    if (auto st = parse_component(header.substr(0, comma), out); !st) return st.error();
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  if (out.credential.empty() || out.signed_headers.empty() || out.signature.empty()) {
    return invalid_input("Authorization lacks Credential, SignedHeaders or Signature.");
  }
  return out;
}

}  // namespace para::crypto
