#include "core/para_object.h"

#include <algorithm>
#include <charconv>

#include "core/text.h"
#include "core/types.h"

namespace para {
namespace {

Error wrong_type(std::string_view field, std::string_view expected) {
  return invalid_input("Field '" + std::string(field) + "' must be " + std::string(expected) + ".");
}

// Strings: null and "" both mean "not set", as in Para.
Status read_string(std::string_view field, const json::value& v, std::string& out) {
  if (v.is_null()) return {};
  if (!v.is_string()) return wrong_type(field, "a string");
  out.assign(v.get_string().data(), v.get_string().size());
  return {};
}

Status read_int(std::string_view field, const json::value& v, std::int64_t& out) {
  if (v.is_null()) return {};
  if (v.is_int64()) {
    out = v.get_int64();
    return {};
  }
  if (v.is_uint64()) return wrong_type(field, "an integer no larger than 9223372036854775807");
  if (v.is_double()) {
    double d = v.get_double();
    // Accept 5.0 but not 5.5: a client library may send whole numbers as doubles.
    if (d == static_cast<double>(static_cast<std::int64_t>(d)) && d >= -9.2e18 && d <= 9.2e18) {
      out = static_cast<std::int64_t>(d);
      return {};
    }
  }
  return wrong_type(field, "an integer");
}

Status read_bool(std::string_view field, const json::value& v, bool& out) {
  if (v.is_null()) return {};
  if (!v.is_bool()) return wrong_type(field, "true or false");
  out = v.get_bool();
  return {};
}

Status read_tags(const json::value& v, std::optional<std::vector<std::string>>& out) {
  if (v.is_null()) return {};
  if (!v.is_array()) return wrong_type("tags", "an array of strings");
  std::vector<std::string> tags;
  tags.reserve(v.get_array().size());
  for (const auto& item : v.get_array()) {
    if (item.is_null()) continue;
    if (!item.is_string()) return wrong_type("tags", "an array of strings");
    tags.emplace_back(item.get_string());
  }
  out = std::move(tags);
  return {};
}

// Sets one common field from its JSON value.
Status read_common_field(ParaObject& o, std::string_view key, const json::value& v) {
  if (key == "id") return read_string(key, v, o.id);
  if (key == "type") return read_string(key, v, o.type);
  if (key == "appid") return read_string(key, v, o.appid);
  if (key == "parentid") return read_string(key, v, o.parentid);
  if (key == "creatorid") return read_string(key, v, o.creatorid);
  if (key == "name") return read_string(key, v, o.name);
  if (key == "timestamp") return read_int(key, v, o.timestamp);
  if (key == "updated") return read_int(key, v, o.updated);
  if (key == "votes") return read_int(key, v, o.votes);
  if (key == "version") return read_int(key, v, o.version);
  if (key == "stored") return read_bool(key, v, o.stored);
  if (key == "indexed") return read_bool(key, v, o.indexed);
  if (key == "cached") return read_bool(key, v, o.cached);
  if (key == "tags") return read_tags(v, o.tags);
  return {};
}

bool is_derived_field(std::string_view key) {
  return key == "plural" || key == "objectURI";
}

// Where a body comes from: a client's is checked; a stored one is read as
// well as it can be (it was checked when it was written, maybe by older rules).
enum class Source { kClient, kStorage };

// Whether `key` names a field of the object itself: in client JSON,
// properties sit beside those fields, so a property of that name would be a
// second, conflicting key (a forged id, type or deviceState).
bool is_own_field(std::string_view key, const TypeSchema* schema) {
  return key == "properties" || is_common_field(key) || is_derived_field(key) ||
         (schema && schema->find(key));
}

Status read_properties(ParaObject& o, const json::value& v, const TypeSchema* schema,
                       Source source) {
  if (v.is_null()) return {};
  if (!v.is_object()) return wrong_type("properties", "an object");
  json::object properties;
  for (const auto& [k, item] : v.get_object()) {
    if (is_own_field(k, schema)) {
      if (source == Source::kStorage) continue;
      return invalid_input("'properties' cannot hold '" + std::string(k) +
                           "': that is a field of the object itself; set it at the top level.");
    }
    if (!item.is_null()) properties[k] = item;
  }
  o.properties = std::move(properties);
  return {};
}

// Applies every key of `body` to `o`. With `patch`, locked fields are skipped.
Status apply_fields(ParaObject& o, const json::object& body, const TypeSchema* schema, bool patch,
                    Source source = Source::kClient) {
  // `properties` first: it replaces the whole map, loose keys then add to it.
  if (auto it = body.find("properties"); it != body.end()) {
    if (auto st = read_properties(o, it->value(), schema, source); !st) return st;
  }
  for (const auto& [key, value] : body) {
    std::string_view k = key;
    if (k == "properties" || is_derived_field(k)) continue;
    if (is_common_field(k)) {
      if (patch && is_locked_common_field(k)) continue;
      if (auto st = read_common_field(o, k, value); !st) return st;
      continue;
    }
    if (const DeclaredField* f = schema ? schema->find(k) : nullptr) {
      if ((patch && f->locked) || value.is_null()) continue;
      o.fields[k] = value;
      continue;
    }
    if (value.is_null()) {
      o.properties.erase(k);
    } else {
      o.properties[k] = value;
    }
  }
  return {};
}

void append_key(std::string& out, bool& first, std::string_view key) {
  if (!first) out.push_back(',');
  first = false;
  append_json_string(out, key);
  out.push_back(':');
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, err] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// Writes the common fields, as clients see them (`client`) or as stored.
void append_common_fields(std::string& out, bool& first, const ParaObject& o, bool client,
                          const FieldSelection& select) {
  auto str = [&](std::string_view key, const std::string& v) {
    if (!v.empty() && select.allows(key)) {
      append_key(out, first, key);
      append_json_string(out, v);
    }
  };
  auto num = [&](std::string_view key, std::int64_t v, bool always) {
    if ((always || v != 0) && select.allows(key)) {
      append_key(out, first, key);
      append_int(out, v);
    }
  };
  auto flag = [&](std::string_view key, bool v) {
    if (select.allows(key)) {
      append_key(out, first, key);
      out.append(v ? "true" : "false");
    }
  };
  str("id", o.id);
  num("timestamp", o.timestamp, false);
  str("type", o.type);
  str("appid", o.appid);
  str("parentid", o.parentid);
  str("creatorid", o.creatorid);
  num("updated", o.updated, false);
  if (client && o.name.empty()) {
    str("name", "ParaObject " + o.id);
  } else {
    str("name", o.name);
  }
  if (o.tags && select.allows("tags")) {
    append_key(out, first, "tags");
    out.push_back('[');
    for (std::size_t i = 0; i < o.tags->size(); ++i) {
      if (i) out.push_back(',');
      append_json_string(out, (*o.tags)[i]);
    }
    out.push_back(']');
  }
  num("votes", o.votes, true);
  num("version", o.version, true);
  flag("stored", o.stored);
  flag("indexed", o.indexed);
  flag("cached", o.cached);
}

}  // namespace

FieldSelection::FieldSelection(std::string_view comma_separated)
    : names_(split_trimmed(comma_separated, ',')) {}

bool FieldSelection::allows(std::string_view field) const {
  return names_.empty() || std::find(names_.begin(), names_.end(), field) != names_.end();
}

Result<ParaObject> object_from_json(const json::object& body, std::string_view type) {
  ParaObject o;
  if (auto st = apply_fields(o, body, find_core_type(type), false); !st) return st.error();
  return o;
}

Status apply_patch(ParaObject& object, const json::object& body) {
  return apply_fields(object, body, find_core_type(object.type), true);
}

std::string object_uri(const ParaObject& object) {
  std::string uri = "/" + form_url_encode(object.type);
  if (!object.id.empty()) uri += "/" + form_url_encode(object.id);
  return uri;
}

namespace {

void append_client_fields(std::string& out, const ParaObject& o, const FieldSelection& select,
                          bool with_extras) {
  const TypeSchema* schema = find_core_type(o.type);
  bool first = true;
  out.push_back('{');
  append_common_fields(out, first, o, true, select);
  if (select.allows("plural")) {
    append_key(out, first, "plural");
    append_json_string(out, plural_of(o.type));
  }
  if (select.allows("objectURI")) {
    append_key(out, first, "objectURI");
    append_json_string(out, object_uri(o));
  }
  for (const auto& [k, v] : o.fields) {
    const DeclaredField* f = schema ? schema->find(k) : nullptr;
    if ((f && f->hidden) || !select.allows(k)) continue;
    append_key(out, first, k);
    append_json(out, v);
  }
  for (const auto* extra : {&o.properties, &o.response_extras}) {
    if (extra == &o.response_extras && !with_extras) break;
    for (const auto& [k, v] : *extra) {
      if (!select.allows(k)) continue;
      // What a hook adds to a response (deviceDetails) wins over a property.
      if (extra == &o.properties && with_extras && o.response_extras.contains(k)) continue;
      append_key(out, first, k);
      append_json(out, v);
    }
  }
  out.push_back('}');
}

}  // namespace

void append_client_json(std::string& out, const ParaObject& o, const FieldSelection& select) {
  append_client_fields(out, o, select, true);
}

std::string to_stored_client_json(const ParaObject& object) {
  std::string out;
  append_client_fields(out, object, {}, false);
  return out;
}

std::string to_client_json(const ParaObject& object, const FieldSelection& select) {
  std::string out;
  append_client_json(out, object, select);
  return out;
}

std::string to_storage_json(const ParaObject& o) {
  std::string out;
  bool first = true;
  out.push_back('{');
  append_common_fields(out, first, o, false, {});
  for (const auto& [k, v] : o.fields) {
    append_key(out, first, k);
    append_json(out, v);
  }
  if (!o.properties.empty()) {
    append_key(out, first, "properties");
    append_json(out, o.properties);
  }
  out.push_back('}');
  return out;
}

Result<ParaObject> object_from_storage(std::string_view storage_json) {
  auto parsed = parse_json(storage_json);
  if (!parsed) return internal_error("Stored object is corrupt: " + parsed.error().message);
  if (!parsed->is_object()) return internal_error("Stored object is not a JSON object.");
  const auto& body = parsed->get_object();
  auto type = body.find("type");
  std::string_view type_name = type != body.end() && type->value().is_string()
                                   ? std::string_view(type->value().get_string())
                                   : std::string_view();
  ParaObject o;
  if (auto st = apply_fields(o, body, find_core_type(type_name), false, Source::kStorage); !st) {
    return internal_error("Stored object is corrupt: " + st.error().message);
  }
  return o;
}

}  // namespace para
