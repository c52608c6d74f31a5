// AwsBroker: Things with serviceBroker "AWS", provisioned in AWS IoT Core
// through its REST APIs (aws-iot.md sections 2 and 3).
//
// Create is a saga: CreateThing, CreateKeysAndCertificate (or
// CreateCertificateFromCsr), CreatePolicy (least privilege: the device may
// connect only as its own client id and use only its own shadow topics),
// AttachPolicy to the certificate, AttachThingPrincipal. If a step fails,
// the steps done are undone in the order AWS requires; if even that fails,
// a durable job (store) finishes the cleanup later. A provisioning job is
// also recorded before the first call, so a crash in the middle leaves
// nothing behind either: the reconciler removes resources whose Thing never
// reached the store.
//
// Delete records a durable job before the first call, then deactivates the
// certificate, detaches it, deletes certificate, policy (with its versions),
// thing and shadow, retrying AWS's eventual-consistency conflicts. If AWS
// cannot be cleaned now, the Thing stays (the client gets 503) and the
// reconciler finishes the deletion and removes the Thing when AWS is clean.
//
// Shadows are read from AWS in the request (GetThingShadow, one call) and
// written with optimistic locking (GetThingShadow + UpdateThingShadow with
// the version; a concurrent change is a 409, never a silent overwrite).
//
// Thread-safety: all methods may be called from any thread after start().
// Errors: kUpstreamFailed (502) with AWS's error code for AWS failures,
// kUnavailable (503) when AWS cannot be reached, kInvalidInput for a bad CSR
// or policy, kConflict for a shadow changed concurrently.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/config.h"
#include "iot/aws/aws_client.h"
#include "iot/broker.h"
#include "store/store.h"

namespace para::iot {

class AwsBroker final : public IoTBroker {
 public:
  AwsBroker(Store& store, const Config& config, AwsCredentials credentials, std::string region);
  ~AwsBroker() override;

  // Starts the reconciler. The account's data endpoint is discovered on
  // first use and cached.
  void start();
  void stop();

  std::string_view name() const override { return "AWS"; }
  Status check_available() const override { return {}; }
  Result<ProvisionedDevice> create_device(const ParaObject& thing,
                                          const json::object& request) override;
  Status delete_device(const ParaObject& thing) override;
  Result<std::optional<json::object>> get_shadow(const ParaObject& thing) override;
  Result<json::object> set_desired(const ParaObject& thing, const json::object& desired) override;

  // Runs the due reconciliation jobs once (the reconciler's loop body;
  // public for tests and tools). Returns how many finished.
  int reconcile_once();

 private:
  struct Device;  // what AWS holds for one thing
  Result<std::string> data_endpoint();
  AwsResult<json::object> call(AwsClient& client, AwsRequest request);
  Status remove_from_aws(const Device& device);
  Status record_job(const std::string& kind, const Device& device, std::int64_t delay_ms);
  Status drop_job(const std::string& kind, const std::string& thing_name);
  void run_reconciler();

  Store& store_;
  const Config& config_;
  const std::string region_;
  std::unique_ptr<AwsClient> control_;  // service "iot"
  std::unique_ptr<AwsClient> data_;     // service "iotdata"; made once the endpoint is known
  std::mutex endpoint_mutex_;
  std::string endpoint_host_;  // Data-ATS host for devices; guarded by endpoint_mutex_
  std::mutex reconciler_mutex_;
  std::condition_variable reconciler_wake_;
  bool stopping_ = false;  // guarded by reconciler_mutex_
  std::thread reconciler_;
};

// Checks a caller-supplied IoT policy document (deviceMetadata.policyJSON):
// a JSON object (or its text) with "Version" and a non-empty "Statement"
// array whose entries have Effect Allow|Deny, Action "iot:..." (string or
// list) and Resource (string or list), at most 2048 characters without
// whitespace. Returns the compact text. kInvalidInput saying what is wrong.
Result<std::string> validate_policy_document(const json::value& policy);

// The default least-privilege policy of a device.
std::string default_policy_document(std::string_view region, std::string_view account,
                                    std::string_view thing_name);

}  // namespace para::iot
