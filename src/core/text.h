// Small pure string helpers shared by the subsystems.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace para {

// application/x-www-form-urlencoded, as Java's URLEncoder: unreserved
// A-Z a-z 0-9 . - * _ kept, space as '+', everything else %XX (upper hex).
std::string form_url_encode(std::string_view s);

// RFC 3986 percent-encoding with unreserved A-Z a-z 0-9 - _ . ~ kept
// (SigV4's URI encoding). '/' is kept only when `keep_slash` is true.
std::string rfc3986_encode(std::string_view s, bool keep_slash);

// Splits on `sep`, trims ASCII spaces, drops empty parts.
std::vector<std::string> split_trimmed(std::string_view s, char sep);

std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);

// ASCII case-insensitive equality (HTTP header names).
bool iequals(std::string_view a, std::string_view b);

// Compares in time independent of where the strings differ (secrets, MACs).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace para
