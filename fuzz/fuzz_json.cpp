// Client JSON -> ParaObject and back: parsing, field rules, PATCH, storage.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/para_object.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = para::parse_json(text);
  if (!parsed) return 0;
  // Whatever parses must print and parse back to the same value.
  std::string printed = para::to_json(*parsed);
  auto again = para::parse_json(printed);
  if (!again || para::to_json(*again) != printed) __builtin_trap();
  if (!parsed->is_object()) return 0;
  for (const char* type : {"cat", "thing", "app", "user"}) {
    auto object = para::object_from_json(parsed->get_object(), type);
    if (!object) continue;
    object->type = type;
    (void)para::apply_patch(*object, parsed->get_object());
    (void)para::to_client_json(*object, para::FieldSelection("name,tags,x"));
    auto stored = para::object_from_storage(para::to_storage_json(*object));
    if (!stored || para::to_storage_json(*stored) != para::to_storage_json(*object))
      __builtin_trap();
  }
  return 0;
}
