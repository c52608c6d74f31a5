// Apps: the tenants. Each app is an `app` ParaObject stored in the root app's
// partition (id "app:<identifier>"), holding its secret key, its state flags
// and the custom types it created. Its own objects live in the partition of
// its identifier.
//
// AppDirectory reads apps for every authenticated request, so it keeps a
// small cache (entries expire after a few seconds so several nodes sharing
// one database converge); every change made through it updates the cache.
//
// Thread-safety: AppDirectory may be used from any thread.
// Errors: store failures pass through; kInvalidInput for a bad app name;
// kNotFound for an unknown app; kForbidden for what only the root app may do.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/config.h"
#include "core/para_object.h"
#include "store/store.h"

namespace para {

struct App {
  std::string identifier;  // "myapp"; objects of this app carry appid == identifier
  std::string secret;      // the SigV4 / JWT key; never logged, never returned after creation
  bool active = true;
  bool read_only = false;
  bool root = false;
  std::map<std::string, std::string, std::less<>> datatypes;  // plural -> singular, custom types
  ParaObject record;                                          // the stored `app` object

  std::string id() const { return "app:" + identifier; }
};

// What /v1/_setup and /v1/_newkeys return.
struct AppCredentials {
  std::string access_key;  // "app:<identifier>"
  std::string secret_key;
};

// Para's App.id(): spaces become '-', other symbols are dropped, "app:" is
// stripped. Empty result means the name is unusable; apps are only created
// with identifiers of at most kMaxAppIdentifier characters.
std::string app_identifier_from(std::string_view name);
inline constexpr std::size_t kMaxAppIdentifier = 128;

class AppDirectory {
 public:
  AppDirectory(Store& store, const Config& config);

  // The app `identifier` (without "app:"), or kNotFound "App not found.".
  Result<std::shared_ptr<const App>> find(std::string_view identifier);

  const std::string& root_identifier() const { return root_identifier_; }

  // Creates the root app if it does not exist. Returns its credentials when
  // this call created it, nullopt when it already existed.
  Result<std::optional<AppCredentials>> setup_root();

  // Creates the child app `identifier` (root only). Nullopt if it exists.
  Result<std::optional<AppCredentials>> create_child(std::string_view identifier,
                                                     std::string_view name,
                                                     std::string_view creatorid);

  // Replaces the secret of `app`. kInvalidInput for a root app whose secret is
  // fixed by configuration.
  Result<AppCredentials> new_keys(const App& app);

  // Whether objects of `type` make the app register it as a custom type.
  static bool is_new_type(const App& app, std::string_view type);
  // How many more custom types the app may register (para.max_datatypes_per_app).
  std::int64_t type_slots_left(const App& app) const;

  // Adds `types` to the app's custom types where they are not there yet. The
  // returned op (if any) must be committed in the same transaction as the
  // first objects of those types; call forget() after the transaction.
  // kInvalidInput when the app would exceed para.max_datatypes_per_app.
  Result<std::optional<WriteOp>> type_registration(const App& app,
                                                   std::span<const std::string> types);

  // Drops the cached copy of app `identifier` (after any change to its record).
  void forget(std::string_view identifier);

  // An App from its stored record.
  App app_from_record(ParaObject record) const;

 private:
  Result<std::optional<AppCredentials>> create(std::string_view identifier, std::string_view name,
                                               std::string_view creatorid);
  std::string effective_secret(const App& app, std::string stored) const;

  struct CacheEntry {
    std::shared_ptr<const App> app;
    std::chrono::steady_clock::time_point expires;
  };

  Store& store_;
  const Config& config_;
  const std::string root_identifier_;
  std::shared_mutex cache_mutex_;
  std::unordered_map<std::string, CacheEntry> cache_;  // guarded by cache_mutex_
};

}  // namespace para
