#include "iot/local/local_broker.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "core/ids.h"
#include "iot/thing_state.h"

namespace para::iot {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The CRL the broker reads is valid for 30 days and rewritten when less than
// 7 remain: an expired CRL would lock every device out.
constexpr auto kCrlValidity = std::chrono::hours(24 * 30);
constexpr auto kCrlMargin = std::chrono::hours(24 * 7);
constexpr auto kCrlCheckInterval = std::chrono::hours(1);
// Disconnecting a deleted device failed: tried again this often, for ever.
constexpr auto kKickRetryInterval = std::chrono::seconds(2);
constexpr std::string_view kKickJob = "local-kick";

bool is_ip_address(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string string_field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string())
                                                  : std::string();
}

Result<crypto::KeyType> key_type_of(const json::object& request) {
  auto it = request.find("keyType");
  if (it == request.end() || it->value().is_null()) return crypto::KeyType::kEcP256;
  std::string_view type = it->value().is_string() ? std::string_view(it->value().get_string()) : "";
  if (type == "EC") return crypto::KeyType::kEcP256;
  if (type == "RSA") return crypto::KeyType::kRsa2048;
  return invalid_input(
      "deviceMetadata.keyType must be \"EC\" (P-256, the default) or \"RSA\" (2048 bits).");
}

}  // namespace

LocalBroker::LocalBroker(Store& store, const Config& config)
    : store_(store), config_(config), unavailable_reason_("The built-in IoT broker is starting.") {}

LocalBroker::~LocalBroker() {
  stop();
}

Status LocalBroker::start() {
  auto st = start_components();
  if (!st) {
    unavailable_reason_ = "The built-in IoT broker is not available: " + st.error().message;
    spdlog::error("iot: {}", unavailable_reason_);
    if (shadows_) shadows_->stop();
    if (mosquitto_) mosquitto_->stop();
    return st;
  }
  unavailable_reason_.clear();
  maintenance_ = std::thread([this] { maintain(); });
  return {};
}

Status LocalBroker::start_components() {
  const fs::path root = fs::path(config_.data_dir) / "iot";
  const fs::path broker_dir = root / "broker";
  crypto::CaOptions ca_options;
  ca_options.rsa_key_pool = static_cast<std::size_t>(config_.iot_local_rsa_key_pool);
  auto ca = crypto::CertificateAuthority::open(root / "ca", std::move(ca_options));
  if (!ca) return ca.error();
  ca_ = std::move(*ca);
  std::error_code ec;
  fs::create_directories(broker_dir, ec);
  if (ec) return unavailable("Cannot create " + broker_dir.string() + ": " + ec.message());

  crypto::ServerCertificateRequest tls;
  tls.certificate_path = broker_dir / "server.crt";
  tls.key_path = broker_dir / "server.key";
  tls.dns_names = {"localhost"};
  tls.ip_addresses = {"127.0.0.1"};
  const std::string& host = config_.iot_local_host;
  if (is_ip_address(host)) {
    if (host != "127.0.0.1") tls.ip_addresses.push_back(host);
  } else if (host != "localhost") {
    tls.dns_names.push_back(host);
  }
  if (auto written = ca_->ensure_server_certificate(tls); !written) return written.error();

  MosquittoOptions options;
  options.executable = config_.iot_local_mosquitto;
  options.directory = broker_dir.string();
  options.bind_address = config_.iot_local_bind_address;
  options.device_port = static_cast<int>(config_.iot_local_port);
  options.service_port = static_cast<int>(config_.iot_local_service_port);
  options.ca_file = ca_->ca_certificate_path().string();
  options.cert_file = tls.certificate_path.string();
  options.key_file = tls.key_path.string();
  options.crl_file = (broker_dir / "crl.pem").string();
  // Mosquitto refuses every client if the CRL is missing, and locks all
  // out if it expired: make sure a current one is in place before it starts.
  if (ca_->check_crl(options.crl_file, kCrlMargin).needs_refresh) {
    if (auto st = ca_->write_crl(options.crl_file, kCrlValidity); !st) return st;
  }
  mosquitto_ = std::make_unique<MosquittoSupervisor>(options);
  if (auto st = mosquitto_->start(); !st) return st;

  ShadowServiceOptions shadow_options;
  shadow_options.endpoint = {"127.0.0.1", mosquitto_->service_port(),
                             mosquitto_->options().service_user,
                             mosquitto_->options().service_password};
  shadow_options.limits.max_state_bytes = static_cast<std::size_t>(config_.iot_shadow_max_size);
  shadow_options.workers = static_cast<int>(config_.iot_shadow_workers);
  shadows_ = std::make_unique<ShadowService>(store_, shadow_options);
  return shadows_->start();
}

void LocalBroker::stop() {
  {
    std::lock_guard lock(maintenance_mutex_);
    stopping_ = true;
    maintenance_wake_.notify_all();
  }
  if (maintenance_.joinable()) maintenance_.join();
  if (shadows_) shadows_->stop();
  if (mosquitto_) mosquitto_->stop();
}

Status LocalBroker::check_available() const {
  if (!unavailable_reason_.empty()) return unavailable(unavailable_reason_);
  if (!shadows_->connected()) {
    return unavailable("The built-in IoT broker is restarting; try again in a few seconds.");
  }
  return {};
}

Result<ProvisionedDevice> LocalBroker::create_device(const ParaObject& thing,
                                                     const json::object& request) {
  const std::string name = thing_name(thing.appid, thing.id);
  const int days = static_cast<int>(config_.iot_local_cert_lifetime_days);
  const json::string* csr = nullptr;
  if (auto it = request.find("csr"); it != request.end() && !it->value().is_null()) {
    if (!it->value().is_string()) return invalid_input("deviceMetadata.csr must be a PEM string.");
    csr = &it->value().get_string();
  }
  auto type = key_type_of(request);
  if (!type) return type.error();
  // The name before the certificate: a certificate is for one Thing only.
  if (auto st = shadows_->register_thing(name, thing.appid, thing.id); !st) return st.error();
  auto cert = csr ? ca_->sign_device_csr(*csr, name, days)
                  : ca_->issue_device_certificate(name, *type, days);
  if (!cert) {
    (void)shadows_->forget_thing(name);
    return cert.error();
  }
  ProvisionedDevice device;
  auto& m = device.metadata;
  m["thingName"] = name;
  m["clientId"] = name;
  m["clientCertId"] = cert->certificate_id;
  m["clientCertSerial"] = cert->serial_hex;
  m["clientCert"] = cert->certificate_pem;
  m["certificateNotAfter"] = cert->not_after.time_since_epoch().count();
  m["host"] = config_.iot_local_host;
  m["port"] = config_.iot_local_port;
  auto& d = device.details;
  d["thingId"] = thing.id;
  d["thingName"] = name;
  d["clientId"] = name;
  d["clientCertId"] = cert->certificate_id;
  d["clientCert"] = cert->certificate_pem;
  if (!cert->private_key_pem.empty()) d["privateKey"] = cert->private_key_pem;
  d["publicKey"] = cert->public_key_pem;
  d["caCert"] = ca_->ca_certificate_pem();
  d["host"] = config_.iot_local_host;
  d["port"] = config_.iot_local_port;
  spdlog::info("iot: device {} provisioned (certificate {})", name, cert->serial_hex);
  return device;
}

Status LocalBroker::publish_crl() {
  std::lock_guard lock(crl_mutex_);
  if (auto st = ca_->write_crl(mosquitto_->options().crl_file, kCrlValidity); !st) return st;
  return mosquitto_->reload();
}

Status LocalBroker::delete_device(const ParaObject& thing) {
  const std::string name = thing_name(thing.appid, thing.id);
  const json::object* metadata = nullptr;
  if (auto it = thing.fields.find("deviceMetadata");
      it != thing.fields.end() && it->value().is_object()) {
    metadata = &it->value().get_object();
  }
  if (std::string cert = metadata ? string_field(*metadata, "clientCert") : ""; !cert.empty()) {
    // Revoke first and make the broker load the new CRL before the kick, so
    // the device's immediate reconnect is refused at the handshake.
    auto st = ca_->revoke_certificate(cert, crypto::RevocationReason::kCessationOfOperation);
    if (!st) return st;
    if (auto kicked = cut_off(name); !kicked) {
      schedule_cut_off(name, 0);
      return kicked;
    }
    // A retry an earlier attempt left is done now; run later, it would cut
    // off a new Thing given the same id.
    cancel_cut_off(name);
  }
  if (auto st = shadows_->forget_thing(name); !st) return st;
  spdlog::info("iot: device {} removed (certificate revoked, disconnected)", name);
  return {};
}

Result<std::optional<json::object>> LocalBroker::get_shadow(const ParaObject& thing) {
  return shadows_->read(thing_name(thing.appid, thing.id));
}

Result<json::object> LocalBroker::set_desired(const ParaObject& thing,
                                              const json::object& desired) {
  return shadows_->set_desired(thing_name(thing.appid, thing.id), desired);
}

Status LocalBroker::cut_off(const std::string& name) {
  if (auto published = publish_crl(); !published) return published;
  const auto& o = mosquitto_->options();
  MqttEndpoint endpoint{"127.0.0.1", o.service_port, o.service_user, o.service_password};
  return kick_client(endpoint, name, 2s);
}

void LocalBroker::schedule_cut_off(const std::string& name, std::int64_t attempts) {
  WriteOp op{WriteOp::Kind::kPutJob};
  op.job = Job{std::string(kKickJob) + ":" + name, std::string(kKickJob), name,
               epoch_millis() + kKickRetryInterval / 1ms, attempts};
  if (auto written = store_.write(std::span(&op, 1)); !written) {
    spdlog::error(
        "iot: device {} is revoked but still connected, and its retry cannot be "
        "recorded: {}",
        name, written.error().message);
  }
}

void LocalBroker::cancel_cut_off(const std::string& name) {
  WriteOp op{WriteOp::Kind::kDeleteJob};
  op.job.id = std::string(kKickJob) + ":" + name;
  if (auto written = store_.write(std::span(&op, 1)); !written) {
    spdlog::warn("iot: pending disconnect of {} not removed: {}", name, written.error().message);
  }
}

void LocalBroker::retry_kicks() {
  auto due = store_.due_jobs(kKickJob, epoch_millis(), 32);
  if (!due) return spdlog::warn("iot: cannot read pending disconnects: {}", due.error().message);
  for (Job& job : *due) {
    if (auto kicked = cut_off(job.payload); !kicked) {
      spdlog::warn("iot: revoked device {} still not disconnected (attempt {}): {}", job.payload,
                   job.attempts + 1, kicked.error().message);
      schedule_cut_off(job.payload, job.attempts + 1);
      continue;
    }
    spdlog::info("iot: revoked device {} disconnected on attempt {}", job.payload,
                 job.attempts + 1);
    cancel_cut_off(job.payload);
  }
}

void LocalBroker::maintain() {
  auto next_crl_check = std::chrono::steady_clock::now() + kCrlCheckInterval;
  std::unique_lock lock(maintenance_mutex_);
  while (!maintenance_wake_.wait_for(lock, kKickRetryInterval, [this] { return stopping_; })) {
    lock.unlock();
    retry_kicks();
    if (std::chrono::steady_clock::now() >= next_crl_check) {
      next_crl_check = std::chrono::steady_clock::now() + kCrlCheckInterval;
      auto check = ca_->check_crl(mosquitto_->options().crl_file, kCrlMargin);
      if (check.needs_refresh) {
        spdlog::info("iot: refreshing the certificate revocation list ({})", check.reason);
        if (auto st = publish_crl(); !st)
          spdlog::error("iot: CRL refresh failed: {}", st.error().message);
      }
    }
    lock.lock();
  }
}

}  // namespace para::iot
