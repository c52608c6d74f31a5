#include "iot/shadow.h"

#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

namespace para::iot {

// The engine's write access to Shadow's private state.
struct ShadowAccess {
  enum class Section { kDesired, kReported };

  static json::object& state(Shadow& s, Section section) {
    return section == Section::kDesired ? s.desired_ : s.reported_;
  }
  static json::object& metadata(Shadow& s, Section section) {
    return section == Section::kDesired ? s.desired_metadata_ : s.reported_metadata_;
  }
  static void set_version(Shadow& s, std::int64_t version) { s.version_ = version; }
  static void set_exists(Shadow& s, bool exists) { s.exists_ = exists; }
};

namespace {

using Section = ShadowAccess::Section;
constexpr std::array<std::pair<Section, std::string_view>, 2> kSections{
    {{Section::kDesired, "desired"}, {Section::kReported, "reported"}}};

// Bracket nesting allowed before parsing. A valid update needs at most 9
// (root, state, six section levels, an empty container), so 32 only stops
// pathological input early, with the message AWS uses for depth.
constexpr std::size_t kMaxRawNesting = 32;
constexpr std::int64_t kMaxVersion = std::numeric_limits<std::int64_t>::max();

ShadowError make_error(int code, std::string_view message,
                       std::optional<std::string> client_token = std::nullopt) {
  return ShadowError{code, std::string(message), std::move(client_token)};
}

// ------------------------------------------------------------- raw text ---

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) return 1;
  const std::size_t len = (lead & 0xE0) == 0xC0   ? 2
                          : (lead & 0xF0) == 0xE0 ? 3
                          : (lead & 0xF8) == 0xF0 ? 4
                                                  : 0;
  if (len == 0 || s.size() - i < len) return 0;
  std::uint32_t cp = lead & (0x7Fu >> len);  // the lead byte's payload bits
  for (std::size_t k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  static constexpr std::uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = utf8_sequence_length(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

// True if brackets outside strings nest deeper than `limit`. Tolerates
// invalid JSON: it only has to be right for text the parser would accept.
bool nesting_exceeds(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limit) return true;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return false;
}

bool is_blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// The shared front door for client payloads: size, encoding, nesting, JSON
// object, in AWS's order.
ShadowResult<json::object> parse_payload_object(std::string_view payload,
                                                std::size_t max_payload_bytes) {
  if (payload.size() > max_payload_bytes) return make_error(413, kMsgTooLarge);
  if (!is_valid_utf8(payload)) return make_error(415, kMsgUnsupportedEncoding);
  if (nesting_exceeds(payload, kMaxRawNesting)) return make_error(400, kMsgTooDeep);
  auto parsed = parse_json(payload);
  if (!parsed || !parsed->is_object()) return make_error(400, kMsgInvalidJson);
  return std::move(parsed->get_object());
}

// ------------------------------------------------------- request fields ---

// A JSON integer usable as a version, if `v` is one.
std::optional<std::int64_t> as_version(const json::value& v) {
  if (v.is_int64() && v.get_int64() >= 0) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(kMaxVersion)) {
    return static_cast<std::int64_t>(v.get_uint64());
  }
  return std::nullopt;
}

// Reads `version`; false when present, not null and not a valid version.
bool read_version(const json::object& doc, std::optional<std::int64_t>& out) {
  const json::value* v = doc.if_contains("version");
  if (v == nullptr || v->is_null()) return true;
  out = as_version(*v);
  return out.has_value();
}

// Reads `clientToken`; false when present, not null and not a short string.
bool read_client_token(const json::object& doc, std::optional<std::string>& out) {
  const json::value* v = doc.if_contains("clientToken");
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_string() || v->get_string().size() > kMaxClientTokenBytes) return false;
  out = std::string(v->get_string());
  return true;
}

// The token to echo in a rejection: the valid one, or none.
std::optional<std::string> echo_token(const json::object& doc) {
  std::optional<std::string> token;
  if (!read_client_token(doc, token)) return std::nullopt;
  return token;
}

// --------------------------------------------------------- state checks ---

bool is_nonempty_container(const json::value& v) {
  if (const auto* o = v.if_object()) return !o->empty();
  if (const auto* a = v.if_array()) return !a->empty();
  return false;
}

// Greengrass's counting: `container` is at `level`; a non-empty child
// container is one level deeper; leaves and empty containers never count.
bool too_deep(const json::value& container, int level) {
  auto child_too_deep = [level](const json::value& child) {
    if (!is_nonempty_container(child)) return false;
    return level + 1 > kMaxStateDepth || too_deep(child, level + 1);
  };
  if (const auto* o = container.if_object()) {
    for (const auto& [key, child] : *o) {
      if (child_too_deep(child)) return true;
    }
  } else if (const auto* a = container.if_array()) {
    for (const auto& child : *a) {
      if (child_too_deep(child)) return true;
    }
  }
  return false;
}

bool array_holds_null(const json::value& v) {
  if (const auto* o = v.if_object()) {
    for (const auto& [key, child] : *o) {
      if (array_holds_null(child)) return true;
    }
  } else if (const auto* a = v.if_array()) {
    for (const auto& child : *a) {
      if (child.is_null() || array_holds_null(child)) return true;
    }
  }
  return false;
}

// A validated update request; `state` points into the parsed document.
struct UpdateRequest {
  const json::value* state = nullptr;
  std::optional<std::int64_t> version;
  std::optional<std::string> client_token;

  const json::object* section(std::string_view name) const {
    const auto* s = state->if_object();
    if (s == nullptr) return nullptr;
    const json::value* v = s->if_contains(name);
    return v == nullptr ? nullptr : v->if_object();
  }
};

// The structural rules on `state`, in AWS's order; nullopt when they pass.
std::optional<std::string> state_structure_error(const json::value& state) {
  const auto* s = state.if_object();
  if (s == nullptr) {
    if (state.is_null()) return std::nullopt;
    return std::string(kMsgStateNotObject);
  }
  for (const auto& [section, name] : kSections) {
    const json::value* v = s->if_contains(name);
    if (v != nullptr && !v->is_object() && !v->is_null()) {
      return std::string(section == Section::kDesired ? kMsgDesiredNotObject
                                                      : kMsgReportedNotObject);
    }
  }
  for (const auto& [key, value] : *s) {
    if (key != "desired" && key != "reported") {
      return "State contains an invalid node: '" + std::string(key) + "'";
    }
  }
  return std::nullopt;
}

// The content rules on the sections (depth first, then nulls in arrays).
std::optional<std::string_view> state_content_error(const UpdateRequest& request) {
  for (const auto& [section, name] : kSections) {
    const json::object* o = request.section(name);
    if (o != nullptr && too_deep(*o, 1)) return kMsgTooDeep;
  }
  for (const auto& [section, name] : kSections) {
    const json::object* o = request.section(name);
    if (o != nullptr && array_holds_null(*o)) return kMsgInvalidJson;
  }
  return std::nullopt;
}

ShadowResult<UpdateRequest> validate_update(const json::object& doc) {
  auto token = echo_token(doc);
  UpdateRequest request;
  request.state = doc.if_contains("state");
  if (request.state == nullptr) return make_error(400, kMsgMissingState, token);
  if (auto message = state_structure_error(*request.state)) {
    return make_error(400, *message, token);
  }
  if (!read_version(doc, request.version)) return make_error(400, kMsgInvalidVersion, token);
  if (!read_client_token(doc, request.client_token)) {
    return make_error(400, kMsgInvalidClientToken);
  }
  if (auto message = state_content_error(request)) return make_error(400, *message, token);
  return request;
}

// A get or delete payload: empty, or an object with an optional token (and,
// for delete, an optional version).
ShadowResult<ShadowRequest> parse_simple_request(std::string_view payload, bool keep_version) {
  ShadowRequest request;
  if (is_blank(payload)) return request;
  auto doc = parse_payload_object(payload, ShadowLimits{}.max_payload_bytes);
  if (!doc) return doc.error();
  if (!read_client_token(*doc, request.client_token)) {
    return make_error(400, kMsgInvalidClientToken);
  }
  if (keep_version && !read_version(*doc, request.version)) {
    return make_error(400, kMsgInvalidVersion, request.client_token);
  }
  return request;
}

// ------------------------------------------------------------- equality ---

bool is_integer(const json::value& v) {
  return v.is_int64() || v.is_uint64();
}

bool integers_equal(const json::value& a, const json::value& b) {
  if (a.is_int64() && b.is_int64()) return a.get_int64() == b.get_int64();
  if (a.is_uint64() && b.is_uint64()) return a.get_uint64() == b.get_uint64();
  const json::value& i = a.is_int64() ? a : b;  // one of each kind
  const json::value& u = a.is_int64() ? b : a;
  return i.get_int64() >= 0 && static_cast<std::uint64_t>(i.get_int64()) == u.get_uint64();
}

// Exact mathematical equality of an integer and a double (no rounding: 2^53+1
// differs from 9007199254740992.0).
bool integer_equals_double(const json::value& i, double d) {
  if (!std::isfinite(d) || std::trunc(d) != d) return false;
  constexpr double kTwo63 = 9223372036854775808.0;
  if (i.is_int64()) {
    return d >= -kTwo63 && d < kTwo63 && static_cast<std::int64_t>(d) == i.get_int64();
  }
  return d >= 0 && d < 2 * kTwo63 && static_cast<std::uint64_t>(d) == i.get_uint64();
}

enum class NumberMode { kByValue, kExact };

bool numbers_equal(const json::value& a, const json::value& b, NumberMode mode) {
  if (is_integer(a) && is_integer(b)) return integers_equal(a, b);
  if (a.is_double() && b.is_double()) {
    return mode == NumberMode::kByValue ? a.get_double() == b.get_double()
                                        : std::bit_cast<std::uint64_t>(a.get_double()) ==
                                              std::bit_cast<std::uint64_t>(b.get_double());
  }
  if (mode == NumberMode::kExact) return false;  // an integer never equals a double
  return a.is_double() ? integer_equals_double(b, a.get_double())
                       : integer_equals_double(a, b.get_double());
}

bool values_equal(const json::value& a, const json::value& b, NumberMode mode);

bool objects_equal(const json::object& a, const json::object& b, NumberMode mode) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, value] : a) {
    const json::value* other = b.if_contains(key);
    if (other == nullptr || !values_equal(value, *other, mode)) return false;
  }
  return true;
}

bool arrays_equal(const json::array& a, const json::array& b, NumberMode mode) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!values_equal(a[i], b[i], mode)) return false;
  }
  return true;
}

bool values_equal(const json::value& a, const json::value& b, NumberMode mode) {
  if (a.is_number() && b.is_number()) return numbers_equal(a, b, mode);
  if (a.kind() != b.kind()) return false;
  if (a.is_object()) return objects_equal(a.get_object(), b.get_object(), mode);
  if (a.is_array()) return arrays_equal(a.get_array(), b.get_array(), mode);
  return a == b;  // null, bool, string
}

// ------------------------------------------------------------- metadata ---

json::object timestamp_object(std::int64_t now) {
  return json::object{{"timestamp", now}};
}

// Metadata of a stored leaf: arrays get one timestamp per element.
json::value leaf_metadata(const json::value& v, std::int64_t now) {
  if (const auto* a = v.if_array()) {
    json::array out;
    out.reserve(a->size());
    for (std::size_t i = 0; i < a->size(); ++i) {
      out.emplace_back(timestamp_object(now));
    }
    return out;
  }
  return timestamp_object(now);
}

// Metadata echoed for request content: objects mirror, every other leaf
// (null included) gets a timestamp.
json::value request_metadata(const json::value& v, std::int64_t now) {
  const auto* o = v.if_object();
  if (o == nullptr) return leaf_metadata(v, now);
  json::object out;
  for (const auto& [key, child] : *o) {
    out.emplace(key, request_metadata(child, now));
  }
  return out;
}

bool is_timestamp_object(const json::value& v) {
  const auto* o = v.if_object();
  return o != nullptr && o->size() == 1 && o->contains("timestamp") &&
         o->at("timestamp").is_int64();
}

// True if `meta` is the metadata shape of stored `state` (see Shadow).
bool mirrors(const json::value& state, const json::value& meta) {
  if (const auto* o = state.if_object()) {
    const auto* m = meta.if_object();
    if (m == nullptr || m->size() != o->size() || o->empty()) return false;
    for (const auto& [key, child] : *o) {
      const json::value* mc = m->if_contains(key);
      if (child.is_null() || mc == nullptr || !mirrors(child, *mc)) return false;
    }
    return true;
  }
  if (const auto* a = state.if_array()) {
    const auto* m = meta.if_array();
    if (m == nullptr || m->size() != a->size()) return false;
    for (const auto& element : *m) {
      if (!is_timestamp_object(element)) return false;
    }
    return true;
  }
  return is_timestamp_object(meta);
}

// ---------------------------------------------------------------- merge ---

void merge_object(json::object& state, json::object& meta, const json::object& patch,
                  std::int64_t now);

// Stores `patch` (an object) at `key` where no object was: as a fresh object,
// nulls skipped and empties dropped.
void replace_with_object(json::object& state, json::object& meta, std::string_view key,
                         const json::object& patch, std::int64_t now) {
  json::object fresh_state;
  json::object fresh_meta;
  merge_object(fresh_state, fresh_meta, patch, now);
  if (fresh_state.empty()) {
    state.stable_erase(key);
    meta.stable_erase(key);
    return;
  }
  state[key] = std::move(fresh_state);
  meta[key] = std::move(fresh_meta);
}

// Merges `patch` into the object stored at `key`; drops it if left empty.
void merge_into_object(json::object& state, json::object& meta, std::string_view key,
                       const json::object& patch, std::int64_t now) {
  json::object& target = state[key].get_object();
  json::value& target_meta = meta[key];
  if (!target_meta.is_object()) target_meta = json::object();  // only if not mirrored
  merge_object(target, target_meta.get_object(), patch, now);
  if (target.empty()) {
    state.stable_erase(key);
    meta.stable_erase(key);
  }
}

// Key order is kept (stable_erase) so documents list keys as clients wrote them.
void merge_object(json::object& state, json::object& meta, const json::object& patch,
                  std::int64_t now) {
  for (const auto& [key, value] : patch) {
    const json::value* existing = state.if_contains(key);
    if (value.is_null()) {
      state.stable_erase(key);
      meta.stable_erase(key);
    } else if (value.is_object() && existing != nullptr && existing->is_object()) {
      merge_into_object(state, meta, key, value.get_object(), now);
    } else if (value.is_object()) {
      replace_with_object(state, meta, key, value.get_object(), now);
    } else {
      state[key] = value;
      meta[key] = leaf_metadata(value, now);
    }
  }
}

void clear_section(Shadow& shadow, Section section) {
  ShadowAccess::state(shadow, section).clear();
  ShadowAccess::metadata(shadow, section).clear();
}

// Applies a validated request's state to a copy of `current`.
Shadow merged(const Shadow& current, const UpdateRequest& request, std::int64_t now) {
  Shadow next = current;
  if (request.state->is_null()) {
    for (const auto& [section, name] : kSections) {
      clear_section(next, section);
    }
    return next;
  }
  const json::object& state = request.state->get_object();
  for (const auto& [section, name] : kSections) {
    const json::value* patch = state.if_contains(name);
    if (patch == nullptr) continue;
    if (patch->is_null()) {
      clear_section(next, section);
    } else {
      merge_object(ShadowAccess::state(next, section), ShadowAccess::metadata(next, section),
                   patch->get_object(), now);
    }
  }
  return next;
}

std::size_t compact_size(const json::object& o) {
  if (o.empty()) return 0;
  std::string out;
  out.push_back('{');
  for (const auto& [key, value] : o) {
    if (out.size() > 1) out.push_back(',');
    append_json_string(out, key);
    out.push_back(':');
    append_json(out, value);
  }
  out.push_back('}');
  return out.size();
}

// ---------------------------------------------------------------- delta ---

// The desired metadata of the delta's leaves: follows the delta's objects and
// takes desired's metadata whole wherever the delta holds a desired value.
json::object delta_metadata(const json::object& delta, const json::object& desired_meta) {
  json::object out;
  for (const auto& [key, value] : delta) {
    const json::value* meta = desired_meta.if_contains(key);
    if (meta == nullptr) continue;  // cannot happen if mirrored
    if (value.is_object() && meta->is_object()) {
      out.emplace(key, delta_metadata(value.get_object(), meta->get_object()));
    } else {
      out.emplace(key, *meta);
    }
  }
  return out;
}

// ------------------------------------------------------------- payloads ---

json::object sections_object(const json::object& desired, const json::object& reported) {
  json::object out;
  if (!desired.empty()) out.emplace("desired", desired);
  if (!reported.empty()) out.emplace("reported", reported);
  return out;
}

json::object state_object(const Shadow& s) {
  return sections_object(s.desired(), s.reported());
}

json::object metadata_object(const Shadow& s) {
  return sections_object(s.desired_metadata(), s.reported_metadata());
}

void add_stamp(json::object& out, std::int64_t version, std::int64_t now,
               const std::optional<std::string>& client_token) {
  out.emplace("version", version);
  out.emplace("timestamp", now);
  if (client_token) out.emplace("clientToken", *client_token);
}

// The payloads below are written straight to text: building them as
// json::objects first would copy every section of the shadow, per update.

// ,"timestamp":T[,"clientToken":"..."]
void append_time_and_token(std::string& out, std::int64_t now,
                           const std::optional<std::string>& client_token) {
  out.append(",\"timestamp\":");
  append_json_int(out, now);
  if (client_token) {
    out.append(",\"clientToken\":");
    append_json_string(out, *client_token);
  }
}

// ,"version":V,"timestamp":T[,"clientToken":"..."] (what add_stamp adds).
void append_stamp(std::string& out, std::int64_t version, std::int64_t now,
                  const std::optional<std::string>& client_token) {
  out.append(",\"version\":");
  append_json_int(out, version);
  append_time_and_token(out, now, client_token);
}

// The text of sections_object(desired, reported).
void append_sections(std::string& out, const json::object& desired, const json::object& reported) {
  out.push_back('{');
  if (!desired.empty()) {
    out.append("\"desired\":");
    append_json(out, desired);
  }
  if (!reported.empty()) {
    if (!desired.empty()) out.push_back(',');
    out.append("\"reported\":");
    append_json(out, reported);
  }
  out.push_back('}');
}

// {"state":..,"metadata":..,"version":V}, or null for a shadow that does not exist.
void append_snapshot(std::string& out, const Shadow& s) {
  if (!s.exists()) {
    out.append("null");
    return;
  }
  out.append("{\"state\":");
  append_sections(out, s.desired(), s.reported());
  out.append(",\"metadata\":");
  append_sections(out, s.desired_metadata(), s.reported_metadata());
  out.append(",\"version\":");
  append_json_int(out, s.version());
  out.push_back('}');
}

std::string accepted_payload(const UpdateRequest& request, std::int64_t version, std::int64_t now) {
  std::string out = "{\"state\":";
  append_json(out, *request.state);
  out.append(",\"metadata\":");
  append_json(out, request_metadata(*request.state, now));
  append_stamp(out, version, now, request.client_token);
  out.push_back('}');
  return out;
}

std::string documents_payload(const Shadow& previous, const Shadow& current, std::int64_t now,
                              const std::optional<std::string>& client_token) {
  std::string out = "{\"previous\":";
  append_snapshot(out, previous);
  out.append(",\"current\":");
  append_snapshot(out, current);
  append_time_and_token(out, now, client_token);
  out.push_back('}');
  return out;
}

bool delta_due(const UpdateRequest& request, const ShadowLimits& limits) {
  return limits.delta_on_every_update || request.section("desired") != nullptr;
}

std::optional<std::string> delta_payload(const Shadow& s, const UpdateRequest& request,
                                         std::int64_t now, const ShadowLimits& limits) {
  if (!delta_due(request, limits)) return std::nullopt;
  json::object delta = compute_delta(s.desired(), s.reported());
  if (delta.empty()) return std::nullopt;
  json::object metadata = delta_metadata(delta, s.desired_metadata());
  json::object out;
  out.emplace("state", std::move(delta));
  out.emplace("metadata", std::move(metadata));
  add_stamp(out, s.version(), now, request.client_token);
  return to_json(out);
}

// ------------------------------------------------------ storage decoding ---

Error corrupt(std::string_view what) {
  return internal_error("Corrupt shadow record: " + std::string(what) + ".");
}

// Reads {"desired":..,"reported":..} into the shadow's state or metadata.
Status read_sections(const json::value* v, Shadow& shadow, bool metadata) {
  if (v == nullptr) return {};
  const auto* o = v->if_object();
  if (o == nullptr) return corrupt("sections must be objects");
  for (const auto& [key, value] : *o) {
    const auto* section = value.if_object();
    if (section == nullptr || (key != "desired" && key != "reported")) {
      return corrupt("unexpected section '" + std::string(key) + "'");
    }
    Section which = key == "desired" ? Section::kDesired : Section::kReported;
    (metadata ? ShadowAccess::metadata(shadow, which) : ShadowAccess::state(shadow, which)) =
        *section;
  }
  return {};
}

Status check_invariants(const Shadow& s) {
  for (const auto& [section, name] : kSections) {
    const auto& state = section == Section::kDesired ? s.desired() : s.reported();
    const auto& meta = section == Section::kDesired ? s.desired_metadata() : s.reported_metadata();
    if (state.empty() != meta.empty()) return corrupt("metadata does not match state");
    if (!state.empty() && !mirrors(state, meta)) return corrupt("metadata does not match state");
    if (!s.exists() && !state.empty()) return corrupt("a deleted shadow has state");
  }
  return {};
}

Status read_record_fields(const json::object& record, Shadow& shadow) {
  for (const auto& [key, value] : record) {
    if (key != "version" && key != "exists" && key != "state" && key != "metadata") {
      return corrupt("unknown key '" + std::string(key) + "'");
    }
  }
  const json::value* version = record.if_contains("version");
  const json::value* exists = record.if_contains("exists");
  std::optional<std::int64_t> v = version ? as_version(*version) : std::nullopt;
  if (!v) return corrupt("bad version");
  if (exists == nullptr || !exists->is_bool()) return corrupt("bad exists flag");
  ShadowAccess::set_version(shadow, *v);
  ShadowAccess::set_exists(shadow, exists->get_bool());
  if (auto st = read_sections(record.if_contains("state"), shadow, false); !st) return st;
  return read_sections(record.if_contains("metadata"), shadow, true);
}

// ------------------------------------------------------------- REST view ---

json::object overlay(const json::object& base, const json::object& top) {
  json::object out = base;
  for (const auto& [key, value] : top) {
    json::value* existing = out.if_contains(key);
    if (existing != nullptr && existing->is_object() && value.is_object()) {
      *existing = overlay(existing->get_object(), value.get_object());
    } else {
      out[key] = value;
    }
  }
  return out;
}

// `o` as stored: null members gone, empty objects dropped (recursively),
// arrays untouched.
json::object normalized(const json::object& o) {
  json::object out;
  for (const auto& [key, value] : o) {
    if (value.is_null()) continue;
    if (const auto* child = value.if_object()) {
      json::object n = normalized(*child);
      if (!n.empty()) out.emplace(key, std::move(n));
    } else {
      out.emplace(key, value);
    }
  }
  return out;
}

// The desired patch turning `current` into `target` (both normalized).
json::object replacement_patch(const json::object& current, const json::object& target) {
  json::object patch;
  for (const auto& [key, value] : current) {
    if (!target.contains(key)) patch.emplace(key, nullptr);
  }
  for (const auto& [key, value] : target) {
    const json::value* existing = current.if_contains(key);
    if (existing != nullptr && existing->is_object() && value.is_object()) {
      json::object sub = replacement_patch(existing->get_object(), value.get_object());
      if (!sub.empty()) patch.emplace(key, std::move(sub));
    } else if (existing == nullptr || !values_equal(*existing, value, NumberMode::kExact)) {
      patch.emplace(key, value);
    }
  }
  return patch;
}

// ---------------------------------------------------------------- topics ---

constexpr std::string_view kTopicRoot = "$aws/things/";

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
         c == '_' || c == '-';
}

bool is_valid_name(std::string_view name, std::size_t max_bytes) {
  if (name.empty() || name.size() > max_bytes) return false;
  for (char c : name) {
    if (!is_name_char(c)) return false;
  }
  return true;
}

std::optional<ShadowOperation> operation_from_name(std::string_view name) {
  if (name == "get") return ShadowOperation::kGet;
  if (name == "update") return ShadowOperation::kUpdate;
  if (name == "delete") return ShadowOperation::kDelete;
  return std::nullopt;
}

// Splits on '/', keeping empty levels. False when there are more levels than
// `levels` holds (no shadow topic has more than 7), so long input costs little.
bool split_levels(std::string_view topic, std::array<std::string_view, 8>& levels,
                  std::size_t& count) {
  count = 0;
  for (;;) {
    if (count == levels.size()) return false;
    std::size_t slash = topic.find('/');
    levels[count++] = topic.substr(0, slash);
    if (slash == std::string_view::npos) return true;
    topic.remove_prefix(slash + 1);
  }
}

std::string topic_prefix(std::string_view thing_name, std::string_view shadow_name) {
  std::string out(kTopicRoot);
  out.append(thing_name).append("/shadow");
  if (!shadow_name.empty()) out.append("/name/").append(shadow_name);
  return out;
}

std::string_view reply_suffix(ShadowReply reply) {
  switch (reply) {
    case ShadowReply::kGetAccepted:
      return "get/accepted";
    case ShadowReply::kGetRejected:
      return "get/rejected";
    case ShadowReply::kUpdateAccepted:
      return "update/accepted";
    case ShadowReply::kUpdateRejected:
      return "update/rejected";
    case ShadowReply::kUpdateDelta:
      return "update/delta";
    case ShadowReply::kUpdateDocuments:
      return "update/documents";
    case ShadowReply::kDeleteAccepted:
      return "delete/accepted";
    case ShadowReply::kDeleteRejected:
      return "delete/rejected";
  }
  return "";
}

}  // namespace

// ================================================================= public ===

void throw_exception_from_error(const ShadowError& e, const boost::source_location& loc) {
  throw std::logic_error("unchecked ShadowResult error at " + std::string(loc.file_name()) + ":" +
                         std::to_string(loc.line()) + ": " + std::to_string(e.code) + " " +
                         e.message);
}

std::string to_storage_json(const Shadow& shadow) {
  std::string out = "{\"version\":";
  append_json_int(out, shadow.version());
  out.append(shadow.exists() ? ",\"exists\":true" : ",\"exists\":false");
  if (!shadow.desired().empty() || !shadow.reported().empty()) {
    out.append(",\"state\":");
    append_sections(out, shadow.desired(), shadow.reported());
  }
  if (!shadow.desired_metadata().empty() || !shadow.reported_metadata().empty()) {
    out.append(",\"metadata\":");
    append_sections(out, shadow.desired_metadata(), shadow.reported_metadata());
  }
  out.push_back('}');
  return out;
}

Result<Shadow> shadow_from_storage(std::string_view text) {
  auto parsed = parse_json(text);
  if (!parsed) return corrupt(parsed.error().message);
  const auto* record = parsed->if_object();
  if (record == nullptr) return corrupt("not an object");
  Shadow shadow;
  if (auto st = read_record_fields(*record, shadow); !st) return st.error();
  if (auto st = check_invariants(shadow); !st) return st.error();
  return shadow;
}

ShadowResult<UpdateOutcome> apply_update(const Shadow& current, std::string_view payload,
                                         std::int64_t now, const ShadowLimits& limits) {
  auto doc = parse_payload_object(payload, limits.max_payload_bytes);
  if (!doc) return doc.error();
  auto request = validate_update(*doc);
  if (!request) return request.error();
  const auto& token = request->client_token;
  if (request->version && *request->version != current.version()) {
    return make_error(409, kMsgVersionConflict, token);
  }
  if (current.version() == kMaxVersion) return make_error(500, kMsgInternal, token);
  Shadow next = merged(current, *request, now);
  if (compact_size(next.desired()) + compact_size(next.reported()) > limits.max_state_bytes) {
    return make_error(413, kMsgTooLarge, token);
  }
  ShadowAccess::set_version(next, current.version() + 1);
  ShadowAccess::set_exists(next, true);
  UpdateOutcome outcome;
  outcome.accepted = accepted_payload(*request, next.version(), now);
  outcome.documents = documents_payload(current, next, now, token);
  outcome.delta = delta_payload(next, *request, now, limits);
  outcome.shadow = std::move(next);
  return outcome;
}

json::object compute_delta(const json::object& desired, const json::object& reported) {
  json::object delta;
  for (const auto& [key, want] : desired) {
    const json::value* have = reported.if_contains(key);
    if (have != nullptr && want.is_object() && have->is_object()) {
      json::object sub = compute_delta(want.get_object(), have->get_object());
      if (!sub.empty()) delta.emplace(key, std::move(sub));
    } else if (have == nullptr || !values_equal(want, *have, NumberMode::kByValue)) {
      delta.emplace(key, want);
    }
  }
  return delta;
}

ShadowResult<ShadowRequest> parse_get_request(std::string_view payload) {
  return parse_simple_request(payload, /*keep_version=*/false);
}

ShadowResult<ShadowRequest> parse_delete_request(std::string_view payload) {
  return parse_simple_request(payload, /*keep_version=*/true);
}

std::string_view shadow_display_name(std::string_view thing_name, std::string_view shadow_name) {
  return shadow_name.empty() ? thing_name : shadow_name;
}

ShadowError shadow_not_found(std::string_view name, std::optional<std::string> client_token) {
  return ShadowError{404, "No shadow exists with name: '" + std::string(name) + "'",
                     std::move(client_token)};
}

ShadowResult<std::string> get_document(const Shadow& shadow, std::string_view name,
                                       std::int64_t now, const ShadowRequest& request) {
  if (!shadow.exists()) return shadow_not_found(name, request.client_token);
  json::object state = state_object(shadow);
  json::object delta = compute_delta(shadow.desired(), shadow.reported());
  if (!delta.empty()) state.emplace("delta", std::move(delta));
  json::object out;
  out.emplace("state", std::move(state));
  out.emplace("metadata", metadata_object(shadow));
  add_stamp(out, shadow.version(), now, request.client_token);
  return to_json(out);
}

ShadowResult<DeleteOutcome> delete_shadow(const Shadow& current, std::string_view name,
                                          std::int64_t now, const ShadowRequest& request) {
  if (!current.exists()) return shadow_not_found(name, request.client_token);
  if (request.version && *request.version != current.version()) {
    return make_error(409, kMsgVersionConflict, request.client_token);
  }
  DeleteOutcome outcome;
  ShadowAccess::set_version(outcome.shadow, current.version());
  json::object out;
  add_stamp(out, current.version(), now, request.client_token);
  outcome.accepted = to_json(out);
  return outcome;
}

std::string error_document(int code, std::string_view message, std::int64_t now,
                           const std::optional<std::string>& client_token) {
  json::object out;
  out.emplace("code", code);
  out.emplace("message", message);
  out.emplace("timestamp", now);
  if (client_token) out.emplace("clientToken", *client_token);
  return to_json(out);
}

std::string error_document(const ShadowError& error, std::int64_t now) {
  return error_document(error.code, error.message, now, error.client_token);
}

std::string desired_replacement(const json::object& current_desired,
                                const json::object& new_desired,
                                std::optional<std::int64_t> version) {
  json::object target = normalized(new_desired);
  json::object desired_section;
  json::value desired = target.empty() && !current_desired.empty()
                            ? json::value(nullptr)
                            : json::value(replacement_patch(current_desired, target));
  desired_section.emplace("desired", std::move(desired));
  json::object out;
  out.emplace("state", std::move(desired_section));
  if (version) out.emplace("version", *version);
  return to_json(out);
}

json::object device_state_view(const Shadow& shadow) {
  return overlay(shadow.reported(), shadow.desired());
}

json::value shadow_view(const Shadow& shadow, std::int64_t now) {
  if (!shadow.exists()) return nullptr;
  json::object state;
  state.emplace("desired", shadow.desired());
  state.emplace("reported", shadow.reported());
  state.emplace("delta", compute_delta(shadow.desired(), shadow.reported()));
  json::object metadata;
  metadata.emplace("desired", shadow.desired_metadata());
  metadata.emplace("reported", shadow.reported_metadata());
  json::object out;
  out.emplace("state", std::move(state));
  out.emplace("metadata", std::move(metadata));
  add_stamp(out, shadow.version(), now, std::nullopt);
  return out;
}

std::string_view operation_name(ShadowOperation op) {
  switch (op) {
    case ShadowOperation::kGet:
      return "get";
    case ShadowOperation::kUpdate:
      return "update";
    case ShadowOperation::kDelete:
      return "delete";
  }
  return "";
}

ShadowReply accepted_reply(ShadowOperation op) {
  switch (op) {
    case ShadowOperation::kGet:
      return ShadowReply::kGetAccepted;
    case ShadowOperation::kUpdate:
      return ShadowReply::kUpdateAccepted;
    case ShadowOperation::kDelete:
      return ShadowReply::kDeleteAccepted;
  }
  return ShadowReply::kGetAccepted;
}

ShadowReply rejected_reply(ShadowOperation op) {
  switch (op) {
    case ShadowOperation::kGet:
      return ShadowReply::kGetRejected;
    case ShadowOperation::kUpdate:
      return ShadowReply::kUpdateRejected;
    case ShadowOperation::kDelete:
      return ShadowReply::kDeleteRejected;
  }
  return ShadowReply::kGetRejected;
}

bool is_valid_thing_name(std::string_view name) {
  return is_valid_name(name, kMaxThingNameBytes);
}

bool is_valid_shadow_name(std::string_view name) {
  return is_valid_name(name, kMaxShadowNameBytes);
}

std::optional<ShadowTopic> parse_shadow_topic(std::string_view topic) {
  std::array<std::string_view, 8> levels;
  std::size_t count = 0;
  if (!split_levels(topic, levels, count)) return std::nullopt;
  if (count != 5 && count != 7) return std::nullopt;
  if (levels[0] != "$aws" || levels[1] != "things" || levels[3] != "shadow") return std::nullopt;
  if (!is_valid_thing_name(levels[2])) return std::nullopt;
  if (count == 7 && (levels[4] != "name" || !is_valid_shadow_name(levels[5]))) {
    return std::nullopt;
  }
  auto op = operation_from_name(levels[count - 1]);
  if (!op) return std::nullopt;
  ShadowTopic out;
  out.thing_name = std::string(levels[2]);
  if (count == 7) out.shadow_name = std::string(levels[5]);
  out.operation = *op;
  return out;
}

std::string request_topic(std::string_view thing_name, std::string_view shadow_name,
                          ShadowOperation op) {
  return topic_prefix(thing_name, shadow_name).append("/").append(operation_name(op));
}

std::string reply_topic(std::string_view thing_name, std::string_view shadow_name,
                        ShadowReply reply) {
  return topic_prefix(thing_name, shadow_name).append("/").append(reply_suffix(reply));
}

}  // namespace para::iot
