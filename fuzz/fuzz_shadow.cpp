// Shadow update documents, get/delete requests and shadow topics.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "iot/shadow.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view payload(reinterpret_cast<const char*>(data), size);
  using namespace para::iot;
  static const Shadow base = [] {
    auto seeded = apply_update(
        Shadow{}, R"({"state":{"desired":{"a":{"b":[1,2]},"c":"x"},"reported":{"a":{"b":[1]}}}})",
        1);
    return seeded ? seeded->shadow : Shadow{};
  }();
  for (const Shadow* current : {&base}) {
    auto updated = apply_update(*current, payload, 1000);
    if (updated) {
      auto stored = shadow_from_storage(to_storage_json(updated->shadow));
      if (!stored || !(*stored == updated->shadow)) __builtin_trap();
      (void)shadow_view(updated->shadow, 1000);
      (void)device_state_view(updated->shadow);
    }
  }
  if (auto get = parse_get_request(payload)) (void)get_document(base, "t", 1, *get);
  if (auto del = parse_delete_request(payload)) (void)delete_shadow(base, "t", 1, *del);
  (void)parse_shadow_topic(payload);
  return 0;
}
