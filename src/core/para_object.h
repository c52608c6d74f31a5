// ParaObject: the one data model of the API. Every stored thing (an app, a
// user's object, an IoT thing) is a ParaObject with Para's common fields, the
// declared fields of its core type and free-form user properties.
//
// Conversions:
//   client JSON  --object_from_json-->  ParaObject  --append_client_json-->  client JSON
//   PATCH body   --apply_patch------->  ParaObject
//   ParaObject   <--storage JSON----->  store (to_storage_json / object_from_storage)
//
// Client JSON flattens `properties` to top-level keys, drops hidden fields and
// adds the derived `plural` and `objectURI`. Storage JSON keeps every field and
// nests `properties`, so reading back is exact.
//
// Thread-safety: plain value type; functions are pure.
// Errors: kInvalidInput naming the offending field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/json.h"

namespace para {

struct ParaObject {
  std::string id;
  std::string type;
  std::string appid;  // app identifier, without the "app:" prefix
  std::string parentid;
  std::string creatorid;
  std::string name;            // empty: not set; clients see "ParaObject <id>"
  std::int64_t timestamp = 0;  // creation time, epoch ms; 0: not set
  std::int64_t updated = 0;    // last update, epoch ms; 0: never updated
  std::optional<std::vector<std::string>> tags;
  std::int64_t votes = 0;
  std::int64_t version = 0;  // optimistic-locking counter
  bool stored = true;
  bool indexed = true;
  bool cached = true;
  json::object fields;           // declared fields of the core type (see core/types.h)
  json::object properties;       // user-defined fields
  json::object response_extras;  // returned in this response only, never stored
};

// A `select=a,b` list. Empty means every field.
class FieldSelection {
 public:
  FieldSelection() = default;
  explicit FieldSelection(std::string_view comma_separated);
  bool empty() const { return names_.empty(); }
  bool allows(std::string_view field) const;

 private:
  std::vector<std::string> names_;
};

// Builds an object from a client body (POST, PUT, batch create): every known
// field, locked ones included; unknown keys become properties. `type` decides
// which keys are declared fields, so the caller resolves it first.
Result<ParaObject> object_from_json(const json::object& body, std::string_view type);

// PATCH: replaces the non-locked fields present (and non-null) in `body`.
// A `properties` object replaces all properties; a null unknown key removes
// that property.
Status apply_patch(ParaObject& object, const json::object& body);

// Client JSON of `object`, restricted to `select` when it is not empty.
void append_client_json(std::string& out, const ParaObject& object,
                        const FieldSelection& select = {});
std::string to_client_json(const ParaObject& object, const FieldSelection& select = {});
// Client JSON without the response extras: what a store may keep so that
// listings copy objects out instead of rendering each one.
std::string to_stored_client_json(const ParaObject& object);

// Storage JSON: every field, properties nested, response extras dropped.
std::string to_storage_json(const ParaObject& object);
Result<ParaObject> object_from_storage(std::string_view storage_json);

// "/" + type + "/" + id, each form-url-encoded (Para's objectURI).
std::string object_uri(const ParaObject& object);

}  // namespace para
