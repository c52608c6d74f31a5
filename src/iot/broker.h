// IoTBroker: where a Thing's device lives. Two implementations: the built-in
// broker (`local`: own CA, Mosquitto, shadows served by para-server) and AWS
// IoT Core (`AWS`). ThingHooks calls them from every Thing write path.
//
// A device is named `{appid}-{id}` (the thing name, also its MQTT client id
// and certificate CN). Everything a broker needs to find the device again is
// in the Thing's `deviceMetadata`, which it fills on create and which clients
// never see; the private key is never part of it.
//
// Thread-safety: every method may be called concurrently from any thread.
// Errors: kInvalidInput for bad client input (a malformed CSR or policy),
// kUnavailable when the broker cannot be reached or is not configured,
// kUpstreamFailed when it answered with an error, kConflict/kPreconditionFailed
// for a shadow version conflict.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/json.h"
#include "core/para_object.h"

namespace para::iot {

// What a create hands back.
struct ProvisionedDevice {
  json::object metadata;  // stored as deviceMetadata; no private key
  json::object details;   // returned once as deviceDetails; may hold the private key
};

class IoTBroker {
 public:
  virtual ~IoTBroker() = default;

  // "local" or "AWS", as stored in serviceBroker.
  virtual std::string_view name() const = 0;

  // Succeeds if the broker can serve requests now; else why not (kUnavailable).
  virtual Status check_available() const = 0;

  // Provisions the device of `thing` (id, appid set; `request` is the
  // client's deviceMetadata: keyType, csr, policyJSON). All or nothing: on
  // error nothing is left in the broker.
  virtual Result<ProvisionedDevice> create_device(const ParaObject& thing,
                                                  const json::object& request) = 0;

  // Removes the device, its credentials, its policy and its shadows. The
  // device is cut off. Idempotent: removing a removed device succeeds.
  virtual Status delete_device(const ParaObject& thing) = 0;

  // The classic shadow as AWS's GetThingShadow returns it ({state, metadata,
  // version, timestamp}); nullopt if the device has no shadow yet.
  virtual Result<std::optional<json::object>> get_shadow(const ParaObject& thing) = 0;

  // Makes the shadow's `desired` state equal `desired` exactly (keys not in
  // it are removed) and returns the shadow after the update, in the same form
  // as get_shadow. Devices subscribed to the shadow receive the update.
  virtual Result<json::object> set_desired(const ParaObject& thing,
                                           const json::object& desired) = 0;
};

}  // namespace para::iot
