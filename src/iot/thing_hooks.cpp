#include "iot/thing_hooks.h"

#include <spdlog/spdlog.h>

#include "iot/thing_state.h"

namespace para::iot {
namespace {

constexpr std::string_view kBroker = "serviceBroker";
constexpr std::string_view kState = "deviceState";
constexpr std::string_view kShadow = "deviceShadow";
constexpr std::string_view kMetadata = "deviceMetadata";

// The object value of field `key` of `fields`, {} if absent or null.
Result<json::object> object_field(const json::object& fields, std::string_view key) {
  auto it = fields.find(key);
  if (it == fields.end() || it->value().is_null()) return json::object();
  if (!it->value().is_object()) {
    return invalid_input("Field '" + std::string(key) + "' must be an object.");
  }
  return it->value().get_object();
}

// Stores the synced copy of the shadow in the object (lists and search show it).
void set_shadow_fields(ParaObject& thing, const json::object& shadow) {
  thing.fields[kState] = device_state(shadow);
  thing.fields[kShadow] = shadow;
}

}  // namespace

ThingHooks::ThingHooks(const Config& config) : default_broker_(config.iot_default_broker) {}

void ThingHooks::add_broker(IoTBroker* broker) {
  brokers_[std::string(broker->name())] = broker;
}

Result<IoTBroker*> ThingHooks::broker_for(std::string_view name) const {
  auto it = brokers_.find(name);
  if (it == brokers_.end()) {
    return unavailable("The IoT broker '" + std::string(name) +
                       "' is not configured on this server.");
  }
  if (auto st = it->second->check_available(); !st) return st.error();
  return it->second;
}

Result<IoTBroker*> ThingHooks::broker_of(const ParaObject& thing) const {
  auto it = thing.fields.find(kBroker);
  if (it == thing.fields.end() || !it->value().is_string()) {
    return internal_error("Thing " + thing.id + " has no serviceBroker.");
  }
  return broker_for(it->value().get_string());
}

Status ThingHooks::before_create(const App& app, ParaObject& thing) {
  if (auto st = check_thing_id(app.identifier, thing.id); !st) return st;
  std::string requested = default_broker_;
  if (auto it = thing.fields.find(kBroker); it != thing.fields.end()) {
    if (!it->value().is_string()) return invalid_input("Field 'serviceBroker' must be a string.");
    requested = it->value().get_string();
  }
  auto name = normalize_broker_name(requested);
  if (!name) return name.error();
  auto broker = broker_for(*name);
  if (!broker) return broker.error();
  auto request = object_field(thing.fields, kMetadata);
  if (!request) return request.error();
  auto desired = object_field(thing.fields, kState);
  if (!desired) return desired.error();

  thing.fields[kBroker] = *name;
  thing.fields.erase(kShadow);
  auto device = (*broker)->create_device(thing, *request);
  if (!device) return device.error();
  thing.fields[kMetadata] = std::move(device->metadata);
  thing.response_extras["deviceDetails"] = std::move(device->details);
  thing.fields[kState] = json::object();
  if (!desired->empty()) {
    auto shadow = (*broker)->set_desired(thing, *desired);
    if (!shadow) {
      abort_create(app, thing);
      return shadow.error();
    }
    set_shadow_fields(thing, *shadow);
  }
  return {};
}

void ThingHooks::abort_create(const App&, const ParaObject& thing) {
  auto broker = broker_of(thing);
  if (!broker) return;
  if (auto st = (*broker)->delete_device(thing); !st) {
    spdlog::error("iot: could not undo the device of thing {} in broker {}: {}", thing.id,
                  (*broker)->name(), st.error().message);
  }
}

Status ThingHooks::before_update(const App&, const ParaObject& stored, ParaObject& updated,
                                 const json::object& body, UpdateKind kind) {
  // What only the broker may change stays as stored, whatever the body says.
  const auto& broker_field = stored.fields.at(kBroker);
  if (auto it = body.find(kBroker); it != body.end() && it->value().is_string()) {
    auto asked = normalize_broker_name(it->value().get_string());
    if (!asked || *asked != broker_field.as_string()) {
      return invalid_input("serviceBroker cannot be changed after a Thing is created.");
    }
  }
  updated.fields[kBroker] = broker_field;
  updated.fields[kMetadata] =
      stored.fields.contains(kMetadata) ? stored.fields.at(kMetadata) : json::object();
  if (stored.fields.contains(kShadow)) {
    updated.fields[kShadow] = stored.fields.at(kShadow);
  } else {
    updated.fields.erase(kShadow);
  }
  const bool writes_state = kind == UpdateKind::kOverwrite || body.contains(kState);
  if (!writes_state) {
    if (stored.fields.contains(kState)) updated.fields[kState] = stored.fields.at(kState);
    return {};
  }
  auto desired = object_field(body, kState);
  if (!desired) return desired.error();
  auto broker = broker_of(stored);
  if (!broker) return broker.error();
  auto shadow = (*broker)->set_desired(stored, *desired);
  if (!shadow) return shadow.error();
  set_shadow_fields(updated, *shadow);
  return {};
}

Status ThingHooks::before_delete(const App&, const ParaObject& stored) {
  auto broker = broker_of(stored);
  if (!broker) return broker.error();
  return (*broker)->delete_device(stored);
}

Status ThingHooks::after_read(const App&, ParaObject& thing) {
  auto broker = broker_of(thing);
  if (!broker) return broker.error();
  auto shadow = (*broker)->get_shadow(thing);
  if (!shadow) return shadow.error();
  if (*shadow) {
    set_shadow_fields(thing, **shadow);
  } else {
    thing.fields[kState] = json::object();
    thing.fields.erase(kShadow);
  }
  return {};
}

}  // namespace para::iot
