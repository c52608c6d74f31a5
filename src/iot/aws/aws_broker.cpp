#include "iot/aws/aws_broker.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "core/ids.h"
#include "core/text.h"
#include "iot/shadow.h"
#include "iot/thing_state.h"

namespace para::iot {

struct AwsBroker::Device {
  std::string thing_name;
  std::string appid;
  std::string object_id;
  std::string thing_arn;
  std::string cert_id;
  std::string cert_arn;
  std::string policy_name;

  json::object to_json() const {
    return {{"thingName", thing_name},  {"appid", appid},    {"objectId", object_id},
            {"thingARN", thing_arn},    {"certId", cert_id}, {"certARN", cert_arn},
            {"policyName", policy_name}};
  }
};

namespace {

using namespace std::chrono_literals;

constexpr std::string_view kDeleteJob = "aws-delete";
constexpr std::string_view kProvisionJob = "aws-provision";
// A provisioning job older than this belongs to a create that died.
constexpr std::int64_t kProvisionGraceMs = 2 * 60 * 1000;

// Requests per second per API, below AWS IoT's published per-account limits
// (aws-iot.md 7.4; CreateKeysAndCertificate has no published figure, so the
// strictest, 10), so a burst of creates is paced instead of throttled.
const std::map<std::string, double, std::less<>> kControlPlaneRates = {
    {"CreateThing", 12},
    {"DeleteThing", 12},
    {"AttachThingPrincipal", 12},
    {"DetachThingPrincipal", 12},
    {"AttachPolicy", 12},
    {"DetachPolicy", 12},
    {"CreatePolicy", 8},
    {"DeletePolicy", 8},
    {"ListPolicyVersions", 8},
    {"DeletePolicyVersion", 8},
    {"UpdateCertificate", 8},
    {"DeleteCertificate", 8},
    {"CreateKeysAndCertificate", 8},
    {"CreateCertificateFromCsr", 12},
    {"DescribeEndpoint", 8},
};

std::string str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string())
                                                  : std::string();
}

std::string label(std::string_view value) {
  return rfc3986_encode(value, false);
}

Error to_para_error(const AwsError& e) {
  if (e.transport()) return unavailable("AWS IoT is unreachable: " + e.describe());
  if (e.status == 429 || e.code == "ThrottlingException" || e.status == 503) {
    return unavailable("AWS IoT is busy: " + e.describe());
  }
  return Error{ErrorKind::kUpstreamFailed, "AWS IoT: " + e.describe()};
}

bool is_missing(const AwsError& e) {
  return e.status == 404 || e.code == "ResourceNotFoundException";
}

// AWS's eventual consistency after a detach: retry these a few times.
bool is_settling(const AwsError& e) {
  return e.code == "DeleteConflictException" ||
         (e.code == "InvalidRequestException" && e.message.find("attached") != std::string::npos);
}

std::string account_of(std::string_view arn) {
  // arn:aws:iot:<region>:<account>:thing/<name>
  auto parts = split_trimmed(arn, ':');
  return parts.size() >= 6 ? parts[4] : std::string();
}

AwsClientOptions client_options(const Config& config, const AwsCredentials& credentials,
                                const std::string& region, std::string service,
                                std::string endpoint) {
  AwsClientOptions o;
  o.credentials = credentials;
  o.region = region;
  o.service = std::move(service);
  o.endpoint = std::move(endpoint);
  o.max_attempts = static_cast<int>(config.iot_aws_max_attempts);
  o.request_timeout = std::chrono::milliseconds(config.iot_aws_timeout_ms);
  o.connect_timeout = std::min(o.request_timeout, std::chrono::milliseconds(3000));
  return o;
}

}  // namespace

std::string default_policy_document(std::string_view region, std::string_view account,
                                    std::string_view thing_name) {
  const std::string arn = "arn:aws:iot:" + std::string(region) + ":" + std::string(account) + ":";
  const std::string name(thing_name);
  json::array statements;
  auto allow = [&](json::value actions, std::string resource) {
    statements.push_back(json::object{
        {"Effect", "Allow"}, {"Action", std::move(actions)}, {"Resource", std::move(resource)}});
  };
  allow("iot:Connect", arn + "client/" + name);
  allow(json::array{"iot:Publish", "iot:Receive"}, arn + "topic/$aws/things/" + name + "/shadow/*");
  allow("iot:Subscribe", arn + "topicfilter/$aws/things/" + name + "/shadow/*");
  allow(json::array{"iot:GetThingShadow", "iot:UpdateThingShadow", "iot:DeleteThingShadow"},
        arn + "thing/" + name);
  return to_json(json::object{{"Version", "2012-10-17"}, {"Statement", std::move(statements)}});
}

Result<std::string> validate_policy_document(const json::value& policy) {
  auto bad = [](std::string why) {
    return invalid_input("deviceMetadata.policyJSON " + why + ".");
  };
  json::value doc = policy;
  if (policy.is_string()) {
    auto parsed = parse_json(policy.get_string());
    if (!parsed) return bad("is not valid JSON");
    doc = std::move(*parsed);
  }
  if (!doc.is_object()) return bad("must be a JSON object");
  const auto& o = doc.get_object();
  if (!o.contains("Version") || !o.at("Version").is_string()) return bad("needs a \"Version\"");
  auto statements = o.find("Statement");
  if (statements == o.end() || !statements->value().is_array() ||
      statements->value().get_array().empty()) {
    return bad("needs a non-empty \"Statement\" array");
  }
  auto strings = [](const json::value& v, bool iot_actions) {
    auto ok = [&](const json::value& s) {
      return s.is_string() && !s.get_string().empty() &&
             (!iot_actions || std::string_view(s.get_string()).starts_with("iot:") ||
              s.get_string() == "*");
    };
    if (v.is_array()) {
      for (const auto& s : v.get_array()) {
        if (!ok(s)) return false;
      }
      return !v.get_array().empty();
    }
    return ok(v);
  };
  for (const auto& s : statements->value().get_array()) {
    if (!s.is_object()) return bad("statements must be objects");
    const auto& st = s.get_object();
    std::string effect = str(st, "Effect");
    if (effect != "Allow" && effect != "Deny") return bad("statements need Effect Allow or Deny");
    if (!st.contains("Action") || !strings(st.at("Action"), true)) {
      return bad("statements need Action \"iot:...\" (a string or a list)");
    }
    if (!st.contains("Resource") || !strings(st.at("Resource"), false)) {
      return bad("statements need a Resource (a string or a list)");
    }
  }
  std::string text = to_json(doc);
  if (text.size() > 2048) return bad("is longer than 2048 characters");
  return text;
}

AwsBroker::AwsBroker(Store& store, const Config& config, AwsCredentials credentials,
                     std::string region)
    : store_(store), config_(config), region_(std::move(region)) {
  std::string endpoint = config.iot_aws_endpoint.empty()
                             ? "https://iot." + region_ + ".amazonaws.com"
                             : config.iot_aws_endpoint;
  auto control = client_options(config, credentials, region_, "iot", endpoint);
  control.rate_limits = kControlPlaneRates;
  control_ = std::make_unique<AwsClient>(control);
  if (!config.iot_aws_data_endpoint.empty()) {
    data_ = std::make_unique<AwsClient>(
        client_options(config, credentials, region_, "iotdata", config.iot_aws_data_endpoint));
  }
}

AwsBroker::~AwsBroker() {
  stop();
}

void AwsBroker::start() {
  reconciler_ = std::thread([this] { run_reconciler(); });
}

void AwsBroker::stop() {
  {
    std::lock_guard lock(reconciler_mutex_);
    stopping_ = true;
    reconciler_wake_.notify_all();
  }
  if (reconciler_.joinable()) reconciler_.join();
}

AwsResult<json::object> AwsBroker::call(AwsClient& client, AwsRequest request) {
  auto response = client.call(request);
  if (!response) return response.error();
  if (response->body.empty()) return json::object();
  auto parsed = parse_json(response->body);
  if (!parsed || !parsed->is_object()) return json::object();
  return std::move(parsed->get_object());
}

Result<std::string> AwsBroker::data_endpoint() {
  std::lock_guard lock(endpoint_mutex_);
  if (endpoint_host_.empty()) {
    // The account's ATS endpoint; cached, it never changes for an account.
    auto r = call(*control_,
                  {"DescribeEndpoint", "GET", "/endpoint", {{"endpointType", "iot:Data-ATS"}}});
    if (!r) return to_para_error(r.error());
    endpoint_host_ = str(*r, "endpointAddress");
    if (endpoint_host_.empty())
      return Error{ErrorKind::kUpstreamFailed, "AWS IoT returned no endpoint."};
    if (!data_) {
      data_ = std::make_unique<AwsClient>(client_options(config_, control_->options().credentials,
                                                         region_, "iotdata",
                                                         "https://" + endpoint_host_));
    }
  }
  return endpoint_host_;
}

Status AwsBroker::record_job(const std::string& kind, const Device& device, std::int64_t delay_ms) {
  WriteOp op;
  op.kind = WriteOp::Kind::kPutJob;
  op.job = Job{kind + ":" + device.thing_name, kind, to_json(device.to_json()),
               epoch_millis() + delay_ms, 0};
  auto written = store_.write(std::span(&op, 1));
  if (!written) return written.error();
  return {};
}

Status AwsBroker::drop_job(const std::string& kind, const std::string& thing_name) {
  WriteOp op;
  op.kind = WriteOp::Kind::kDeleteJob;
  op.job.id = kind + ":" + thing_name;
  auto written = store_.write(std::span(&op, 1));
  if (!written) return written.error();
  return {};
}

Result<ProvisionedDevice> AwsBroker::create_device(const ParaObject& thing,
                                                   const json::object& request) {
  Device d{thing_name(thing.appid, thing.id), thing.appid, thing.id, "", "", "", ""};
  d.policy_name = d.thing_name + "-Policy";
  std::optional<std::string> policy_override;
  if (auto p = request.find("policyJSON"); p != request.end() && !p->value().is_null()) {
    auto valid = validate_policy_document(p->value());
    if (!valid) return valid.error();
    policy_override = std::move(*valid);
  }
  std::string csr;
  if (auto c = request.find("csr"); c != request.end() && !c->value().is_null()) {
    if (!c->value().is_string()) return invalid_input("deviceMetadata.csr must be a PEM string.");
    csr = c->value().get_string();
  }
  auto host = data_endpoint();
  if (!host) return host.error();
  // Durable before the first change in AWS: if we die half-way, the
  // reconciler removes what this create left behind.
  if (auto st = record_job(std::string(kProvisionJob), d, kProvisionGraceMs); !st)
    return st.error();

  json::object cert;
  auto steps = [&]() -> AwsResult<json::object> {
    auto created =
        call(*control_,
             {"CreateThing",
              "POST",
              "/things/" + label(d.thing_name),
              {},
              {},
              to_json(json::object{{"attributePayload", {{"attributes", {{"appid", d.appid}}}}}}),
              "application/json"});
    if (!created) return created;
    d.thing_arn = str(*created, "thingArn");
    auto issued = csr.empty()
                      ? call(*control_, {"CreateKeysAndCertificate",
                                         "POST",
                                         "/keys-and-certificate",
                                         {{"setAsActive", "true"}}})
                      : call(*control_, {"CreateCertificateFromCsr",
                                         "POST",
                                         "/certificates",
                                         {{"setAsActive", "true"}},
                                         {},
                                         to_json(json::object{{"certificateSigningRequest", csr}}),
                                         "application/json"});
    if (!issued) return issued;
    cert = std::move(*issued);
    d.cert_id = str(cert, "certificateId");
    d.cert_arn = str(cert, "certificateArn");
    std::string document = policy_override.value_or(
        default_policy_document(region_, account_of(d.thing_arn), d.thing_name));
    auto policy = call(*control_, {"CreatePolicy",
                                   "POST",
                                   "/policies/" + label(d.policy_name),
                                   {},
                                   {},
                                   to_json(json::object{{"policyDocument", document}}),
                                   "application/json"});
    if (!policy) return policy;
    auto attach = call(*control_, {"AttachPolicy",
                                   "PUT",
                                   "/target-policies/" + label(d.policy_name),
                                   {},
                                   {},
                                   to_json(json::object{{"target", d.cert_arn}}),
                                   "application/json"});
    if (!attach) return attach;
    return call(*control_, {"AttachThingPrincipal",
                            "PUT",
                            "/things/" + label(d.thing_name) + "/principals",
                            {},
                            {{"x-amzn-principal", d.cert_arn}}});
  };
  if (auto done = steps(); !done) {
    const AwsError& e = done.error();
    spdlog::warn("iot: AWS provisioning of {} failed ({}); undoing", d.thing_name, e.describe());
    if (auto undone = remove_from_aws(d); undone) {
      (void)drop_job(std::string(kProvisionJob), d.thing_name);
    } else {
      // Leave it to the reconciler, now rather than after the grace period.
      (void)record_job(std::string(kDeleteJob), d, 0);
      (void)drop_job(std::string(kProvisionJob), d.thing_name);
    }
    if ((e.code == "CertificateValidationException" || e.code == "InvalidRequestException") &&
        !csr.empty() && e.operation == "CreateCertificateFromCsr") {
      return invalid_input("AWS IoT refused the CSR: " + e.message);
    }
    if (e.code == "MalformedPolicyException") {
      return invalid_input("AWS IoT refused deviceMetadata.policyJSON: " + e.message);
    }
    return to_para_error(e);
  }

  ProvisionedDevice device;
  auto& m = device.metadata;
  m["thingId"] = thing.id;
  m["thingName"] = d.thing_name;
  m["thingARN"] = d.thing_arn;
  m["clientId"] = d.thing_name;
  m["clientCertId"] = d.cert_id;
  m["clientCertARN"] = d.cert_arn;
  m["clientCert"] = str(cert, "certificatePem");
  m["policyName"] = d.policy_name;
  m["region"] = region_;
  m["host"] = *host;
  m["port"] = 8883;
  device.details = m;
  device.details.erase("policyName");
  if (auto keys = cert.find("keyPair"); keys != cert.end() && keys->value().is_object()) {
    device.details["privateKey"] = str(keys->value().get_object(), "PrivateKey");
    device.details["publicKey"] = str(keys->value().get_object(), "PublicKey");
  }
  spdlog::info("iot: AWS device {} provisioned (certificate {})", d.thing_name, d.cert_id);
  return device;
}

Status AwsBroker::remove_from_aws(const Device& d) {
  // Each step treats "not found" as done, so a retried removal converges.
  auto step = [&](AwsClient& client, AwsRequest request) -> Status {
    for (int attempt = 0;; ++attempt) {
      auto r = call(client, request);
      if (r || is_missing(r.error())) return {};
      if (!is_settling(r.error()) || attempt >= 3) return to_para_error(r.error());
      std::this_thread::sleep_for(std::chrono::milliseconds(500 << attempt));
    }
  };
  const std::string thing = "/things/" + label(d.thing_name);
  const std::string policy = "/policies/" + label(d.policy_name);
  if (!d.cert_id.empty()) {
    if (auto st = step(*control_, {"UpdateCertificate",
                                   "PUT",
                                   "/certificates/" + label(d.cert_id),
                                   {{"newStatus", "INACTIVE"}}});
        !st) {
      return st;
    }
  }
  if (!d.cert_arn.empty()) {
    if (auto st = step(*control_, {"DetachThingPrincipal",
                                   "DELETE",
                                   thing + "/principals",
                                   {},
                                   {{"x-amzn-principal", d.cert_arn}}});
        !st) {
      return st;
    }
    if (auto st = step(*control_, {"DetachPolicy",
                                   "POST",
                                   "/target-policies/" + label(d.policy_name),
                                   {},
                                   {},
                                   to_json(json::object{{"target", d.cert_arn}}),
                                   "application/json"});
        !st) {
      return st;
    }
  }
  if (!d.cert_id.empty()) {
    if (auto st = step(*control_, {"DeleteCertificate",
                                   "DELETE",
                                   "/certificates/" + label(d.cert_id),
                                   {{"forceDelete", "true"}}});
        !st) {
      return st;
    }
  }
  if (!d.policy_name.empty()) {
    auto versions = call(*control_, {"ListPolicyVersions", "GET", policy + "/version"});
    if (versions) {
      auto list = versions->find("policyVersions");
      if (list != versions->end() && list->value().is_array()) {
        for (const auto& v : list->value().get_array()) {
          if (!v.is_object() || (v.get_object().contains("isDefaultVersion") &&
                                 v.get_object().at("isDefaultVersion").is_bool() &&
                                 v.get_object().at("isDefaultVersion").get_bool())) {
            continue;
          }
          std::string id = str(v.get_object(), "versionId");
          if (auto st = step(*control_,
                             {"DeletePolicyVersion", "DELETE", policy + "/version/" + label(id)});
              !st) {
            return st;
          }
        }
      }
    } else if (!is_missing(versions.error())) {
      return to_para_error(versions.error());
    }
    if (auto st = step(*control_, {"DeletePolicy", "DELETE", policy}); !st) return st;
  }
  if (auto st = step(*control_, {"DeleteThing", "DELETE", thing}); !st) return st;
  // Shadows outlive their thing in AWS: remove the classic one too.
  if (auto host = data_endpoint(); !host) return host.error();
  return step(*data_, {"DeleteThingShadow", "DELETE", thing + "/shadow"});
}

Status AwsBroker::delete_device(const ParaObject& thing) {
  const json::object* m = nullptr;
  if (auto it = thing.fields.find("deviceMetadata");
      it != thing.fields.end() && it->value().is_object()) {
    m = &it->value().get_object();
  }
  Device d{thing_name(thing.appid, thing.id), thing.appid, thing.id, "", "", "", ""};
  if (m) {
    d.thing_arn = str(*m, "thingARN");
    d.cert_id = str(*m, "clientCertId");
    d.cert_arn = str(*m, "clientCertARN");
    d.policy_name = str(*m, "policyName");
  }
  if (d.policy_name.empty()) d.policy_name = d.thing_name + "-Policy";
  // Durable before the first call: a crash or an outage is finished later.
  if (auto st =
          record_job(std::string(kDeleteJob), d, config_.iot_aws_reconcile_interval_sec * 1000);
      !st) {
    return st;
  }
  if (auto st = remove_from_aws(d); !st) {
    spdlog::warn("iot: AWS removal of {} incomplete, the reconciler will finish it: {}",
                 d.thing_name, st.error().message);
    return unavailable(st.error().message +
                       " The removal is retried in the background; the Thing is deleted once AWS "
                       "holds nothing of it.");
  }
  (void)drop_job(std::string(kDeleteJob), d.thing_name);
  (void)drop_job(std::string(kProvisionJob), d.thing_name);
  spdlog::info("iot: AWS device {} removed", d.thing_name);
  return {};
}

Result<std::optional<json::object>> AwsBroker::get_shadow(const ParaObject& thing) {
  if (auto host = data_endpoint(); !host) return host.error();
  auto r = call(*data_, {"GetThingShadow", "GET",
                         "/things/" + label(thing_name(thing.appid, thing.id)) + "/shadow"});
  if (!r) {
    if (is_missing(r.error())) return std::optional<json::object>();
    return to_para_error(r.error());
  }
  return std::optional<json::object>(std::move(*r));
}

Result<json::object> AwsBroker::set_desired(const ParaObject& thing, const json::object& desired) {
  const std::string path = "/things/" + label(thing_name(thing.appid, thing.id)) + "/shadow";
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto current = get_shadow(thing);
    if (!current) return current.error();
    json::object current_desired;
    std::optional<std::int64_t> version;
    if (*current) {
      if (auto s = (*current)->find("state"); s != (*current)->end() && s->value().is_object()) {
        if (auto d = s->value().get_object().find("desired");
            d != s->value().get_object().end() && d->value().is_object()) {
          current_desired = d->value().get_object();
        }
      }
      if (auto v = (*current)->find("version"); v != (*current)->end() && v->value().is_int64()) {
        version = v->value().get_int64();
      }
    }
    std::string payload = desired_replacement(current_desired, desired, version);
    auto updated = call(*data_, {"UpdateThingShadow", "POST", path, {}, {}, payload});
    if (updated) {
      // The update's answer holds only what changed; the Thing shows the whole shadow.
      auto after = get_shadow(thing);
      if (!after) return after.error();
      return after->value_or(json::object());
    }
    const AwsError& e = updated.error();
    if (e.status == 409) continue;  // changed meanwhile: rebase on the new version
    if (e.status == 400 || e.status == 413) {
      return invalid_input("deviceState was refused by the AWS IoT shadow: " + e.message);
    }
    return to_para_error(e);
  }
  return Error{ErrorKind::kConflict,
               "The device shadow keeps changing in AWS IoT; read the Thing and try again."};
}

int AwsBroker::reconcile_once() {
  int finished = 0;
  const std::int64_t now = epoch_millis();
  auto reschedule = [&](Job job) {
    job.attempts += 1;
    job.due = now + std::min<std::int64_t>(config_.iot_aws_reconcile_interval_sec * 1000
                                               << std::min<std::int64_t>(job.attempts, 6),
                                           3600 * 1000);
    WriteOp op;
    op.kind = WriteOp::Kind::kPutJob;
    op.job = std::move(job);
    (void)store_.write(std::span(&op, 1));
  };
  auto device_of = [](const Job& job) {
    Device d;
    auto parsed = parse_json(job.payload);
    if (parsed && parsed->is_object()) {
      const auto& o = parsed->get_object();
      d = Device{str(o, "thingName"), str(o, "appid"),   str(o, "objectId"),  str(o, "thingARN"),
                 str(o, "certId"),    str(o, "certARN"), str(o, "policyName")};
    }
    return d;
  };
  for (std::string_view kind : {kDeleteJob, kProvisionJob}) {
    auto jobs = store_.due_jobs(kind, now, 50);
    if (!jobs) {
      spdlog::warn("iot: cannot read AWS reconciliation jobs: {}", jobs.error().message);
      continue;
    }
    for (auto& job : *jobs) {
      Device d = device_of(job);
      if (d.thing_name.empty()) {
        (void)drop_job(std::string(kind), job.id.substr(kind.size() + 1));
        continue;
      }
      if (kind == kProvisionJob) {
        // The create finished if its Thing reached the store.
        auto stored = store_.get(d.appid, d.object_id);
        if (stored && *stored) {
          (void)drop_job(std::string(kind), d.thing_name);
          continue;
        }
      }
      if (auto st = remove_from_aws(d); !st) {
        spdlog::warn("iot: AWS cleanup of {} failed again: {}", d.thing_name, st.error().message);
        reschedule(std::move(job));
        continue;
      }
      if (kind == kDeleteJob) {
        ParaObject gone;
        gone.appid = d.appid;
        gone.id = d.object_id;
        WriteOp op{WriteOp::Kind::kDelete, std::move(gone), 0};
        if (auto w = store_.write(std::span(&op, 1)); !w) {
          reschedule(std::move(job));
          continue;
        }
      }
      (void)drop_job(std::string(kind), d.thing_name);
      spdlog::info("iot: reconciler removed AWS device {} ({})", d.thing_name, kind);
      ++finished;
    }
  }
  return finished;
}

void AwsBroker::run_reconciler() {
  std::unique_lock lock(reconciler_mutex_);
  const auto interval = std::chrono::seconds(config_.iot_aws_reconcile_interval_sec);
  for (;;) {
    lock.unlock();
    reconcile_once();
    lock.lock();
    if (reconciler_wake_.wait_for(lock, interval, [this] { return stopping_; })) return;
  }
}

}  // namespace para::iot
