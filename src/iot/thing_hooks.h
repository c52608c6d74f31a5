// ThingHooks: the `thing` type's lifecycle (product.md, "The Thing contract"),
// plugged into ObjectService so that POST, GET, PATCH, PUT, batch writes and
// DELETE all provision, sync and remove the device through its IoT broker.
//
//   create  -> broker.create_device; deviceMetadata stored (never returned),
//              deviceDetails returned once; an initial deviceState becomes the
//              shadow's desired state; any failure undoes the device.
//   read    -> deviceState/deviceShadow from the broker's shadow, now.
//   update  -> serviceBroker and deviceMetadata kept as stored; a deviceState
//              sent by the client becomes the shadow's desired state exactly.
//   delete  -> broker.delete_device (certificate revoked, device cut off,
//              policy and shadows removed) before the object goes.
//
// Thread-safety: as TypeHooks; brokers are registered before serving.
// Errors: kInvalidInput (bad serviceBroker, deviceState, id), kUnavailable
// (broker not configured or down), and the broker's own errors.
#pragma once

#include <map>
#include <string>

#include "core/config.h"
#include "iot/broker.h"
#include "objects/type_hooks.h"

namespace para::iot {

class ThingHooks final : public TypeHooks {
 public:
  explicit ThingHooks(const Config& config);

  // Makes `broker` serve Things whose serviceBroker is broker->name().
  // Not owned; must outlive the hooks.
  void add_broker(IoTBroker* broker);

  Status before_create(const App& app, ParaObject& thing) override;
  void abort_create(const App& app, const ParaObject& thing) override;
  Status before_update(const App& app, const ParaObject& stored, ParaObject& updated,
                       const json::object& body, UpdateKind kind) override;
  Status before_delete(const App& app, const ParaObject& stored) override;
  Status after_read(const App& app, ParaObject& thing) override;

 private:
  Result<IoTBroker*> broker_for(std::string_view name) const;
  Result<IoTBroker*> broker_of(const ParaObject& thing) const;

  const std::string default_broker_;
  std::map<std::string, IoTBroker*, std::less<>> brokers_;
};

}  // namespace para::iot
