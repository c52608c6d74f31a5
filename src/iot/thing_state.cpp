#include "iot/thing_state.h"

#include <algorithm>

#include "core/text.h"

namespace para::iot {
namespace {

const json::object* section(const json::object& shadow, std::string_view name) {
  auto state = shadow.find("state");
  if (state == shadow.end() || !state->value().is_object()) return nullptr;
  auto it = state->value().get_object().find(name);
  return it != state->value().get_object().end() && it->value().is_object()
             ? &it->value().get_object()
             : nullptr;
}

void merge_over(json::object& base, const json::object& over) {
  for (const auto& [key, value] : over) {
    auto it = base.find(key);
    if (it != base.end() && it->value().is_object() && value.is_object()) {
      merge_over(it->value().get_object(), value.get_object());
    } else {
      base[key] = value;
    }
  }
}

}  // namespace

std::string thing_name(std::string_view appid, std::string_view id) {
  std::string name(appid);
  name.push_back('-');
  name.append(id);
  return name;
}

Status check_thing_id(std::string_view appid, std::string_view id) {
  bool ok = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':' || c == '-';
  });
  if (!ok) {
    return invalid_input(
        "A Thing id must be 1 to 64 letters, digits, '_', ':' or '-' (it names "
        "the device in MQTT topics).");
  }
  // The name is the device certificate's CN, which X.509 caps at 64.
  if (thing_name(appid, id).size() > 64) {
    return invalid_input("The thing name '" + thing_name(appid, id) +
                         "' ({appid}-{id}) is longer than 64 characters; use a shorter id.");
  }
  return {};
}

Result<std::string> normalize_broker_name(std::string_view name) {
  std::string lower = to_lower(name);
  if (lower == "local") return std::string("local");
  if (lower == "aws") return std::string("AWS");
  return invalid_input("Invalid serviceBroker '" + std::string(name) +
                       "': use 'local' (the built-in broker) or 'AWS'.");
}

json::object device_state(const json::object& shadow) {
  json::object state;
  if (const json::object* reported = section(shadow, "reported")) state = *reported;
  if (const json::object* desired = section(shadow, "desired")) merge_over(state, *desired);
  return state;
}

}  // namespace para::iot
