#include "core/json.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <system_error>

namespace para {
namespace {

// A basic_parser handler that builds a value like Boost's own parser, except
// that doubles are re-parsed from their text with std::from_chars.
class ExactNumberHandler {
 public:
  constexpr static std::size_t max_object_size = json::object::max_size();
  constexpr static std::size_t max_array_size = json::array::max_size();
  constexpr static std::size_t max_key_size = json::string::max_size();
  constexpr static std::size_t max_string_size = json::string::max_size();

  json::value_stack stack;
  std::string number;  // text of the number being parsed, when split across calls
  bool out_of_range = false;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t n, json::error_code&) {
    stack.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    stack.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    stack.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    stack.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    number.clear();
    stack.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    number.clear();
    stack.push_uint64(u);
    return true;
  }
  bool on_double(double, json::string_view s, json::error_code& ec) {
    std::string_view text(s.data(), s.size());
    if (!number.empty()) {
      number.append(s.data(), s.size());
      text = number;
    }
    double d = 0;
    auto [ptr, err] = std::from_chars(text.data(), text.data() + text.size(), d);
    number.clear();
    if (err != std::errc() || ptr != text.data() + text.size() || !std::isfinite(d)) {
      // Only overflow can get here: the grammar was already checked. A
      // number that does not fit a double must not silently become inf.
      out_of_range = true;
      ec = json::error::exponent_overflow;
      return false;
    }
    stack.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    stack.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    stack.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

}  // namespace

Result<json::value> parse_json(std::string_view text, const JsonLimits& limits) {
  json::parse_options options;
  options.max_depth = limits.max_depth;
  json::basic_parser<ExactNumberHandler> parser(options);
  parser.handler().stack.reset();
  json::error_code ec;
  std::size_t consumed = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && consumed < text.size()) ec = json::error::extra_data;
  if (ec) {
    std::string what = parser.handler().out_of_range ? "number out of range"
                       : ec == json::error::too_deep
                           ? "nesting deeper than " + std::to_string(limits.max_depth) + " levels"
                           : ec.message();
    return invalid_input("Malformed JSON: " + what + " at byte " + std::to_string(consumed) + ".");
  }
  return parser.handler().stack.release();
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t run = 0;  // start of the pending run of characters copied verbatim
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    out.push_back('\\');
    switch (c) {
      case '"':
        out.push_back('"');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '\n':
        out.push_back('n');
        break;
      case '\r':
        out.push_back('r');
        break;
      case '\t':
        out.push_back('t');
        break;
      case '\b':
        out.push_back('b');
        break;
      case '\f':
        out.push_back('f');
        break;
      default:
        out.append("u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void append_json_int(std::string& out, std::int64_t n) {
  std::array<char, 24> buf;
  auto [end, err] = std::to_chars(buf.data(), buf.data() + buf.size(), n);
  out.append(buf.data(), end);
}

void append_json_double(std::string& out, double d) {
  if (!std::isfinite(d)) {  // JSON has no inf/nan; only code, never input, can produce them
    out.append("null");
    return;
  }
  std::array<char, 32> buf;
  auto [end, err] = std::to_chars(buf.data(), buf.data() + buf.size(), d);
  std::string_view text(buf.data(), static_cast<std::size_t>(end - buf.data()));
  out.append(text);
  // Keep a double a double: "5" would read back as an integer.
  if (text.find_first_of(".e") == std::string_view::npos) out.append(".0");
}

void append_json(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      out.append("null");
      break;
    case json::kind::bool_:
      out.append(v.get_bool() ? "true" : "false");
      break;
    case json::kind::int64:
      append_json_int(out, v.get_int64());
      break;
    case json::kind::uint64: {
      std::array<char, 24> buf;
      auto [end, err] = std::to_chars(buf.data(), buf.data() + buf.size(), v.get_uint64());
      out.append(buf.data(), end);
      break;
    }
    case json::kind::double_:
      append_json_double(out, v.get_double());
      break;
    case json::kind::string:
      append_json_string(out, v.get_string());
      break;
    case json::kind::array:
      append_json(out, v.get_array());
      break;
    case json::kind::object:
      append_json(out, v.get_object());
      break;
  }
}

void append_json(std::string& out, const json::object& o) {
  out.push_back('{');
  bool first = true;
  for (const auto& [key, item] : o) {
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, key);
    out.push_back(':');
    append_json(out, item);
  }
  out.push_back('}');
}

void append_json(std::string& out, const json::array& a) {
  out.push_back('[');
  bool first = true;
  for (const auto& item : a) {
    if (!first) out.push_back(',');
    first = false;
    append_json(out, item);
  }
  out.push_back(']');
}

std::string to_json(const json::value& v) {
  std::string out;
  append_json(out, v);
  return out;
}

}  // namespace para
