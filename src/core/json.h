// JSON text <-> boost::json::value with exact numbers.
//
// Boost.JSON 1.81 has two defects we cannot accept in a database: its parser
// is not correctly rounded for every 17-significant-digit double, and its
// serializer prints doubles as `1.2355E3`. These functions parse and print
// numbers with std::from_chars / std::to_chars instead, so every double a
// client sends comes back with the same value and in the shortest form that
// reads back to it; integers up to 2^64-1 are kept exactly.
//
// Thread-safety: all functions are pure and reentrant.
// Errors: parse_json returns kInvalidInput with a message that says what is
// wrong and where (byte offset), never throws on bad input.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace para {

namespace json = boost::json;

struct JsonLimits {
  // Maximum nesting of arrays and objects; deeper documents are rejected.
  std::size_t max_depth = 64;
};

// Parses one complete JSON document (strict RFC 8259: no comments, no
// trailing commas, valid UTF-8 only).
Result<json::value> parse_json(std::string_view text, const JsonLimits& limits = {});

// Appends the compact JSON text of `v` to `out`.
void append_json(std::string& out, const json::value& v);
void append_json(std::string& out, const json::object& o);
void append_json(std::string& out, const json::array& a);
void append_json_string(std::string& out, std::string_view s);
void append_json_int(std::string& out, std::int64_t n);
void append_json_double(std::string& out, double d);

// Returns the compact JSON text of `v`.
std::string to_json(const json::value& v);

}  // namespace para
