// Store: durable storage of ParaObjects, partitioned by app.
//
// Every call names the app (its identifier, as in `ParaObject::appid`), and
// no call can read or change another app's objects: isolation is part of the
// interface, not a convention of the callers. The interface speaks only
// ParaObjects and plain values (no SQL, no driver types) so that SQLite (the
// embedded default) and PostgreSQL (later) are interchangeable.
//
// Thread-safety: every method may be called concurrently from any thread.
// Ownership: results are values owned by the caller.
// Durability: when write() returns success, its transaction is committed and
// survives a crash of the process (and, with synchronous=full, of the machine).
// Errors: a Result error means the store itself failed (I/O, corruption,
// closed): kUnavailable or kInternal. Expected outcomes of a write (missing
// object, stale version) are not errors; they are reported per operation.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/para_object.h"

namespace para {

// One operation of a write transaction.
struct WriteOp {
  enum class Kind {
    kInsert,            // create; outcome kAlreadyExists if the id is taken
    kUpsert,            // create or replace whatever is there
    kReplaceIfVersion,  // replace only if the stored version == expected_version
    kDelete,            // remove (appid, id); kMissing if absent
    kDeletePartition,   // remove every object of app `object.appid`
  };
  Kind kind = Kind::kUpsert;
  ParaObject object;  // kDelete uses only appid and id
  std::int64_t expected_version = 0;
};

enum class WriteOutcome { kApplied, kMissing, kVersionMismatch, kAlreadyExists };

struct ListQuery {
  std::string type;  // empty: every type
  std::int64_t limit = 30;
  std::int64_t offset = 0;
  bool newest_first = true;  // by timestamp, then id
};

struct ObjectPage {
  std::vector<ParaObject> items;
  std::int64_t total = 0;  // matches of the query, ignoring limit/offset
};

struct StoreOptions {
  std::string data_dir;   // created if missing
  bool sync_full = true;  // fsync every commit (survives power loss)
};

class Store {
 public:
  virtual ~Store() = default;

  // The object `id` of app `appid`, or nullopt if there is none.
  virtual Result<std::optional<ParaObject>> get(std::string_view appid, std::string_view id) = 0;

  // The objects of `ids` that exist, in the order of `ids` (missing ones skipped).
  virtual Result<std::vector<ParaObject>> get_many(std::string_view appid,
                                                   std::span<const std::string> ids) = 0;

  // Applies `ops` in one transaction and returns one outcome per op.
  // kAllOrNothing: the first op whose outcome is not kApplied rolls the whole
  // transaction back; the outcomes end at that op.
  // kEachOp: ops that are not kApplied change nothing, the others commit together.
  // On a Result error nothing is committed. Idempotent for kUpsert/kDelete.
  enum class Atomicity { kAllOrNothing, kEachOp };
  virtual Result<std::vector<WriteOutcome>> write(
      std::span<const WriteOp> ops, Atomicity atomicity = Atomicity::kAllOrNothing) = 0;

  // A page of app `appid`'s objects.
  virtual Result<ObjectPage> list(std::string_view appid, const ListQuery& query) = 0;

  // Succeeds if the store can serve reads and writes.
  virtual Status check_health() = 0;
};

// Opens (creating if needed) the embedded SQLite store in options.data_dir.
Result<std::unique_ptr<Store>> open_sqlite_store(const StoreOptions& options);

}  // namespace para
