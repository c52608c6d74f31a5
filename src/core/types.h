// Para's object types: the core types with their declared fields, and the
// plural/singular naming rules used in URLs.
//
// A declared field belongs to a type's schema (a Thing's `deviceState`, an
// App's `secret`); every other key a client sends is a user property. Locked
// fields are set on create only (PATCH ignores them); hidden fields are
// stored but never returned to a client.
//
// Thread-safety: immutable data and pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace para {

struct DeclaredField {
  std::string_view name;
  bool locked = false;  // ignored by PATCH and batch update
  bool hidden = false;  // stored, never serialised to clients
};

struct TypeSchema {
  std::string_view type;  // singular, as stored in `type`; the URL segment is plural_of(type)
  std::span<const DeclaredField> fields;

  const DeclaredField* find(std::string_view field) const;
};

// The types every app has. Custom types are plain objects with properties.
std::span<const TypeSchema> core_types();

// The schema of a core type, or nullptr for a custom type.
const TypeSchema* find_core_type(std::string_view type);

// True for the fields every object has (`id`, `type`, `name`, `tags`, ...).
bool is_common_field(std::string_view field);
// True for the common fields that are set on create only.
bool is_locked_common_field(std::string_view field);

// Para's singularToPlural: "es"/"ies" endings stay, "s" gets "es", "y" becomes
// "ies", anything else gets "s".
std::string plural_of(std::string_view singular);

// A type name a client may create: 1 to 64 characters, letters, digits, '-'
// and '_', not starting with '_', not a reserved word (`search`, `utils`).
bool is_valid_type_name(std::string_view type);

}  // namespace para
