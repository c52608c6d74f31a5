#include "objects/apps.h"

#include <mutex>

#include "core/ids.h"
#include "core/types.h"
#include "crypto/digest.h"

namespace para {
namespace {

constexpr auto kCacheTtl = std::chrono::seconds(5);

std::string new_secret() {
  return crypto::base64_encode(crypto::random_bytes(40));
}

bool field_bool(const json::object& fields, std::string_view key, bool fallback) {
  auto it = fields.find(key);
  return it != fields.end() && it->value().is_bool() ? it->value().get_bool() : fallback;
}

}  // namespace

std::string app_identifier_from(std::string_view name) {
  if (name.starts_with("app:")) name.remove_prefix(4);
  std::string id;
  for (char c : name) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_') {
      id.push_back(c);
    } else if (c == ' ' && !id.empty() && id.back() != '-') {
      id.push_back('-');
    }
  }
  while (!id.empty() && id.back() == '-')
    id.pop_back();
  return id;
}

AppDirectory::AppDirectory(Store& store, const Config& config)
    : store_(store), config_(config), root_identifier_(app_identifier_from(config.app_name)) {}

App AppDirectory::app_from_record(ParaObject record) const {
  App app;
  app.identifier = record.id.substr(4);
  app.root = app.identifier == root_identifier_;
  const auto& f = record.fields;
  app.active = field_bool(f, "active", true);
  app.read_only = field_bool(f, "readOnly", false);
  if (auto it = f.find("datatypes"); it != f.end() && it->value().is_object()) {
    for (const auto& [plural, type] : it->value().get_object()) {
      if (type.is_string()) app.datatypes.emplace(plural, type.get_string());
    }
  }
  std::string stored_secret;
  if (auto it = f.find("secret"); it != f.end() && it->value().is_string()) {
    stored_secret = it->value().get_string();
  }
  app.secret = effective_secret(app, std::move(stored_secret));
  app.record = std::move(record);
  return app;
}

std::string AppDirectory::effective_secret(const App& app, std::string stored) const {
  // The override always wins for the root app, as in Para: operators use it
  // to pin the root keys across data resets.
  if (app.root && !config_.root_secret_override.empty()) return config_.root_secret_override;
  return stored;
}

Result<std::shared_ptr<const App>> AppDirectory::find(std::string_view identifier) {
  auto now = std::chrono::steady_clock::now();
  {
    std::shared_lock lock(cache_mutex_);
    if (auto it = cache_.find(std::string(identifier));
        it != cache_.end() && it->second.expires > now) {
      return it->second.app;
    }
  }
  auto record = store_.get(root_identifier_, "app:" + std::string(identifier));
  if (!record) return record.error();
  if (!*record || (*record)->type != "app") return not_found("App not found.");
  auto app = std::make_shared<const App>(app_from_record(std::move(**record)));
  std::unique_lock lock(cache_mutex_);
  cache_[std::string(identifier)] = {app, now + kCacheTtl};
  return app;
}

void AppDirectory::forget(std::string_view identifier) {
  std::unique_lock lock(cache_mutex_);
  cache_.erase(std::string(identifier));
}

Result<std::optional<AppCredentials>> AppDirectory::setup_root() {
  return create(root_identifier_, root_identifier_, "");
}

Result<std::optional<AppCredentials>> AppDirectory::create_child(std::string_view identifier,
                                                                 std::string_view name,
                                                                 std::string_view creatorid) {
  if (identifier == root_identifier_) return std::optional<AppCredentials>();
  return create(identifier, name, creatorid);
}

Result<std::optional<AppCredentials>> AppDirectory::create(std::string_view identifier,
                                                           std::string_view name,
                                                           std::string_view creatorid) {
  if (identifier.empty()) return invalid_input("App name is missing or has no usable characters.");
  if (identifier.size() > kMaxAppIdentifier) {
    return invalid_input("App name is too long: its identifier has " +
                         std::to_string(identifier.size()) + " characters, at most " +
                         std::to_string(kMaxAppIdentifier) + " are allowed.");
  }
  ParaObject record;
  record.id = "app:" + std::string(identifier);
  record.type = "app";
  record.appid = root_identifier_;
  record.name = name.empty() ? std::string(identifier) : std::string(name);
  record.creatorid = std::string(creatorid);
  record.timestamp = epoch_millis();
  const bool root = identifier == root_identifier_;
  std::string secret =
      root && !config_.root_secret_override.empty() ? config_.root_secret_override : new_secret();
  record.fields["secret"] = secret;
  record.fields["active"] = true;
  record.fields["readOnly"] = false;
  record.fields["sharingIndex"] = false;
  record.fields["sharingTable"] = false;
  record.fields["datatypes"] = json::object();
  WriteOp op{WriteOp::Kind::kInsert, std::move(record), 0};
  auto outcome = store_.write(std::span(&op, 1));
  if (!outcome) return outcome.error();
  if ((*outcome)[0] == WriteOutcome::kAlreadyExists) return std::optional<AppCredentials>();
  forget(identifier);
  return std::optional<AppCredentials>(AppCredentials{"app:" + std::string(identifier), secret});
}

Result<AppCredentials> AppDirectory::new_keys(const App& app) {
  if (app.root && !config_.root_secret_override.empty()) {
    return invalid_input(
        "The root app's secret is fixed by para.root_secret_override; change it there.");
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto current = store_.get(root_identifier_, app.id());
    if (!current) return current.error();
    if (!*current) return not_found("App not found.");
    ParaObject record = std::move(**current);
    std::string secret = new_secret();
    std::int64_t expected = record.version;
    record.fields["secret"] = secret;
    record.version = expected + 1;
    record.updated = epoch_millis();
    WriteOp op{WriteOp::Kind::kReplaceIfVersion, std::move(record), expected};
    auto outcome = store_.write(std::span(&op, 1));
    if (!outcome) return outcome.error();
    forget(app.identifier);
    if ((*outcome)[0] == WriteOutcome::kApplied) return AppCredentials{app.id(), secret};
    if ((*outcome)[0] == WriteOutcome::kMissing) return not_found("App not found.");
  }
  return Error{ErrorKind::kConflict, "The app is being changed concurrently; try again."};
}

bool AppDirectory::is_new_type(const App& app, std::string_view type) {
  return !find_core_type(type) && !app.datatypes.contains(plural_of(type));
}

std::int64_t AppDirectory::type_slots_left(const App& app) const {
  return config_.max_datatypes_per_app - static_cast<std::int64_t>(app.datatypes.size());
}

Result<std::optional<WriteOp>> AppDirectory::type_registration(const App& app,
                                                               std::span<const std::string> types) {
  std::vector<std::string> fresh;
  for (const auto& type : types) {
    if (!is_new_type(app, type)) continue;
    if (std::find(fresh.begin(), fresh.end(), type) == fresh.end()) fresh.push_back(type);
  }
  if (fresh.empty()) return std::optional<WriteOp>();
  if (static_cast<std::int64_t>(fresh.size()) > type_slots_left(app)) {
    return invalid_input("App '" + app.identifier + "' would have more than " +
                         std::to_string(config_.max_datatypes_per_app) +
                         " custom types (para.max_datatypes_per_app).");
  }
  // Re-read so the registration applies to the latest record (CAS on version).
  auto current = store_.get(root_identifier_, app.id());
  if (!current) return current.error();
  if (!*current) return not_found("App not found.");
  ParaObject record = std::move(**current);
  std::int64_t expected = record.version;
  auto& registered = record.fields["datatypes"];
  if (!registered.is_object()) registered = json::object();
  bool changed = false;
  for (const auto& type : fresh) {
    auto& map = registered.get_object();
    if (!map.contains(plural_of(type))) {
      map[plural_of(type)] = type;
      changed = true;
    }
  }
  if (!changed) return std::optional<WriteOp>();
  record.version = expected + 1;
  return std::optional<WriteOp>(
      WriteOp{WriteOp::Kind::kReplaceIfVersion, std::move(record), expected});
}

}  // namespace para
