// LocalBroker: the built-in IoT broker, for Things with serviceBroker
// "local". No cloud account: para-server's own certificate authority issues
// device certificates, Mosquitto (a supervised child process) terminates
// mutual TLS on para.iot.local.port, and ShadowService answers the AWS
// shadow topics.
//
// Files under <data_dir>/iot/: ca/ (the CA key, mode 0600, and its
// revocation list) and broker/ (Mosquitto's config, ACLs, TLS certificate,
// CRL). Device private keys are never written anywhere.
//
// Deleting a device revokes its certificate, writes a new CRL atomically,
// makes Mosquitto reload it (and waits until it has), then disconnects the
// device by client-id takeover: the device is cut off at once and its
// reconnect is refused at the TLS handshake. If either fails (the broker
// does not answer), the delete fails too, and a durable job repeats both
// every few seconds until they work, whether or not the client retries: a
// revoked device must not stay connected.
//
// Thread-safety: all methods may be called from any thread after start().
// Errors: as IoTBroker; check_available() says why the broker cannot serve
// (e.g. Mosquitto is not installed).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/config.h"
#include "crypto/certificate_authority.h"
#include "iot/broker.h"
#include "iot/local/mosquitto.h"
#include "iot/local/shadow_service.h"
#include "store/store.h"

namespace para::iot {

class LocalBroker final : public IoTBroker {
 public:
  LocalBroker(Store& store, const Config& config);
  ~LocalBroker() override;

  // Opens the CA, starts Mosquitto and the shadow service. On failure the
  // broker stays registered but unavailable, with the reason.
  Status start();
  void stop();

  std::string_view name() const override { return "local"; }
  Status check_available() const override;
  Result<ProvisionedDevice> create_device(const ParaObject& thing,
                                          const json::object& request) override;
  Status delete_device(const ParaObject& thing) override;
  Result<std::optional<json::object>> get_shadow(const ParaObject& thing) override;
  Result<json::object> set_desired(const ParaObject& thing, const json::object& desired) override;

 private:
  Status start_components();
  Status publish_crl();
  // Makes the broker load the current CRL, then disconnects device `name`.
  Status cut_off(const std::string& name);
  // Records that device `name` must still be cut off (a durable job).
  void schedule_cut_off(const std::string& name, std::int64_t attempts);
  // Forgets that record, once device `name` is cut off.
  void cancel_cut_off(const std::string& name);
  // The maintenance thread: cut-offs that failed, again; the CRL, before expiry.
  void maintain();
  void retry_kicks();

  Store& store_;
  const Config& config_;
  std::unique_ptr<crypto::CertificateAuthority> ca_;
  std::unique_ptr<MosquittoSupervisor> mosquitto_;
  std::unique_ptr<ShadowService> shadows_;
  std::string unavailable_reason_;  // set once by start()
  std::mutex crl_mutex_;            // one CRL write + reload at a time
  std::mutex maintenance_mutex_;
  std::condition_variable maintenance_wake_;
  bool stopping_ = false;  // guarded by maintenance_mutex_
  std::thread maintenance_;
};

}  // namespace para::iot
