// TypeHooks: the lifecycle rules of one object type that reach outside the
// store (an IoT Thing provisions a device in its broker, keeps its shadow in
// sync and removes the device on delete). ObjectService calls them on EVERY
// path that touches an object of that type: POST, GET, PATCH, PUT, DELETE and
// batch writes, so no path can bypass them.
//
// Thread-safety: implementations are called concurrently from any thread.
// Errors: a hook error aborts the operation before anything is stored and is
// returned to the client as is, so hooks use the ErrorKind that fits
// (kInvalidInput for bad fields, kUnavailable / kUpstreamFailed for a broker).
#pragma once

#include "core/error.h"
#include "core/json.h"
#include "core/para_object.h"
#include "objects/apps.h"

namespace para {

enum class UpdateKind {
  kPatch,      // PATCH: `body` holds only the fields to change
  kOverwrite,  // PUT: `body` is the whole new object
};

class TypeHooks {
 public:
  virtual ~TypeHooks() = default;

  // Before a new object is stored. May set fields and response extras (they
  // are stored / returned as set). On error nothing is stored and nothing may
  // be left outside the store.
  virtual Status before_create(const App& app, ParaObject& object) = 0;

  // The store refused or failed to commit an object that before_create
  // accepted: undo what before_create did outside the store. Best effort;
  // must not throw.
  virtual void abort_create(const App& app, const ParaObject& object) = 0;

  // Before `stored` is replaced by `updated` (already merged from `body`).
  // May change `updated`; must keep what the client may not change.
  virtual Status before_update(const App& app, const ParaObject& stored, ParaObject& updated,
                               const json::object& body, UpdateKind kind) = 0;

  // Before `stored` is deleted: remove everything outside the store.
  // Idempotent: a retried delete must succeed.
  virtual Status before_delete(const App& app, const ParaObject& stored) = 0;

  // After a single-object read (not lists): may refresh fields from outside.
  virtual Status after_read(const App& app, ParaObject& object) = 0;
};

}  // namespace para
