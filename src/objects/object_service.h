// ObjectService: Para's rules for reading and writing objects, on top of the
// Store. Every API write path (single and, later, batch) goes through here so
// that ids, timestamps, versions, type registration, the app-record rules and
// per-type lifecycle rules are applied in one place.
//
// Versions: every successful update increments `version`. A client that sends
// `version` > 0 asks for optimistic locking: if it is not the stored version
// the write fails with kPreconditionFailed "Update failed due to 'version'
// mismatch." and nothing changes.
//
// Thread-safety: may be used from any thread.
// Errors: kInvalidInput (bad object, bad type), kNotFound, kForbidden (app
// rules), kPreconditionFailed (stale version), kUnavailable (no IoT broker for
// things), and store failures.
#pragma once

#include <string_view>

#include "core/config.h"
#include "core/ids.h"
#include "core/para_object.h"
#include "objects/apps.h"
#include "store/store.h"

namespace para {

class ObjectService {
 public:
  ObjectService(Store& store, AppDirectory& apps, IdGenerator& ids, const Config& config);

  // Creates `object` in `app` (POST). Generates id and timestamp when absent;
  // an existing object with the same id is replaced, as in Para.
  Result<ParaObject> create(const App& app, ParaObject object);

  // The object `id` of `app`; an app may also read its own `app:` record.
  Result<ParaObject> read(const App& app, std::string_view id);

  // PATCH: merges `body` into the stored object (locked fields ignored).
  Result<ParaObject> patch(const App& app, std::string_view id, const json::object& body);

  // PUT: replaces (or creates) object `object.id` with `object`.
  Result<ParaObject> overwrite(const App& app, ParaObject object);

  // DELETE. Deleting an app (root only) also deletes all of its objects.
  Status remove(const App& app, std::string_view id);

  // A page of the app's objects, newest first.
  Result<ObjectPage> list(const App& app, const ListQuery& query);

 private:
  Status check_new_object(const ParaObject& object) const;
  Result<WriteOutcome> commit(const App& app, WriteOp& op);
  Result<ParaObject> read_stored(const App& app, std::string_view id);
  std::string_view partition_of(const App& app, std::string_view id) const;

  Store& store_;
  AppDirectory& apps_;
  IdGenerator& ids_;
  const Config& config_;
};

}  // namespace para
