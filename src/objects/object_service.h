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
// rules), kPreconditionFailed (stale version), errors of the type's hooks
// (e.g. an unavailable IoT broker), and store failures.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string_view>

#include "core/config.h"
#include "core/ids.h"
#include "core/para_object.h"
#include "objects/apps.h"
#include "objects/type_hooks.h"
#include "store/store.h"

namespace para {

class ObjectService {
 public:
  ObjectService(Store& store, AppDirectory& apps, IdGenerator& ids);

  // Routes every write and single read of objects of `type` through `hooks`
  // (not owned; must outlive the service). Call before serving requests.
  void set_hooks(std::string type, TypeHooks* hooks);

  // Creates `object` in `app` (POST). Generates id and timestamp when absent;
  // an existing object with the same id is replaced, as in Para.
  Result<ParaObject> create(const App& app, ParaObject object);

  // The object `id` of `app`; an app may also read its own `app:` record.
  Result<ParaObject> read(const App& app, std::string_view id);

  // PATCH: merges `body` into the stored object (locked fields ignored).
  Result<ParaObject> patch(const App& app, std::string_view id, const json::object& body);

  // PUT: replaces (or creates) object `object.id` with `object`, built from
  // `body` (which the type's hooks see).
  Result<ParaObject> overwrite(const App& app, ParaObject object, const json::object& body);

  // DELETE. Deleting an app (root only) also deletes all of its objects.
  Status remove(const App& app, std::string_view id);

  // Batch create (POST/PUT /v1/_batch): stores every valid object in one
  // transaction and returns them. Invalid objects, apps, and objects their
  // type's hooks refuse are skipped (logged), as in Para. Things are
  // provisioned through their hooks and unprovisioned if the commit fails.
  Result<std::vector<ParaObject>> create_all(const App& app, std::vector<ParaObject> objects);

  // GET /v1/_batch: the objects of `ids` that exist, in order (hooks' reads applied).
  Result<std::vector<ParaObject>> read_all(const App& app, std::span<const std::string> ids);

  // PATCH /v1/_batch: merges each body (which names its `id`) into its object,
  // in one transaction. Items that are invalid, missing, apps, or stale (a
  // `version` that is not the stored one) are left out of `updated`.
  struct BatchUpdate {
    std::vector<ParaObject> updated;
    std::size_t attempted = 0;          // items that named an existing object
    std::size_t version_conflicts = 0;  // of those, how many failed on `version`
  };
  Result<BatchUpdate> update_all(const App& app, const json::array& bodies);

  // DELETE /v1/_batch: deletes the objects of `ids` that exist (not apps), in
  // one transaction, after their hooks removed what they own outside.
  Status delete_all(const App& app, std::span<const std::string> ids);

  // A page of the app's objects matching `request` (lists and searches).
  // Things show their last synced deviceState.
  Result<SearchPage> search(const App& app, const SearchRequest& request);

 private:
  Status check_new_object(const ParaObject& object) const;
  Result<std::vector<WriteOutcome>> commit(const App& app, std::span<const WriteOp> ops,
                                           Store::Atomicity atomicity);
  Result<WriteOutcome> commit_one(const App& app, const WriteOp& op);
  Result<ParaObject> read_stored(const App& app, std::string_view id);
  std::string_view partition_of(const App& app, std::string_view id) const;

  TypeHooks* hooks_for(std::string_view type) const;
  Status check_type_change(const ParaObject& stored, std::string_view new_type) const;
  Result<ParaObject> create_with_hooks(const App& app, WriteOp op);
  Status remove_app(const ParaObject& record);

  // Writes to one object are serialised within this process, so concurrent
  // PATCHes merge one after the other instead of failing each other's
  // compare-and-set (which then only guards against other nodes), and a
  // Thing's hooks run once per write.
  std::mutex& lock_for(std::string_view appid, std::string_view id);

  Store& store_;
  AppDirectory& apps_;
  IdGenerator& ids_;
  std::map<std::string, TypeHooks*, std::less<>> hooks_;  // set before serving, then read-only
  std::array<std::mutex, 256> object_locks_;
  // The first objects of new types rewrite their app's record (its types):
  // one such write per app at a time in this process (taken inside an
  // object lock, never the other way round).
  std::array<std::mutex, 16> type_locks_;
};

}  // namespace para
