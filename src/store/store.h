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

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/para_object.h"
#include "search/query.h"

namespace para {

// A device shadow of the built-in IoT broker: an opaque document (owned by
// the iot layer) keyed by (thing name, shadow name), tied to the Thing object
// (appid, object_id) it belongs to. `version` mirrors the document's version
// so writes can compare-and-set without parsing it.
struct ShadowRow {
  std::string thing;  // thing name, e.g. "myapp-1234"
  std::string name;   // shadow name; empty for the classic shadow
  std::string appid;
  std::string object_id;
  std::string document;
  std::int64_t version = 0;
};

// A durable to-do item for a background reconciler (finishing the removal
// of an AWS device after a crash or an outage, say). Survives restarts;
// several nodes may see the same job, so running one must be idempotent.
struct Job {
  std::string id;             // unique, chosen by the owner, e.g. "aws-delete:myapp-123"
  std::string kind;           // which reconciler runs it
  std::string payload;        // JSON, owned by that reconciler
  std::int64_t due = 0;       // epoch ms; not run before
  std::int64_t attempts = 0;  // runs so far
};

// One operation of a write transaction.
struct WriteOp {
  enum class Kind {
    kInsert,            // create; outcome kAlreadyExists if the id is taken
    kUpsert,            // create or replace whatever is there
    kReplaceIfVersion,  // replace only if the stored version == expected_version
    kDelete,            // remove (appid, id); kMissing if absent
    kDeletePartition,   // remove every object (and shadow) of app `object.appid`
    kPutShadow,         // write `shadow` if its stored version == expected_version
                        // (-1: only if there is no row yet); kVersionMismatch otherwise
    kDeleteShadows,     // remove every shadow of thing `shadow.thing`
    kPutJob,            // create or replace job `job.id`
    kDeleteJob,         // remove job `job.id` (kMissing if absent)
  };
  Kind kind = Kind::kUpsert;
  ParaObject object;  // kDelete uses only appid and id
  std::int64_t expected_version = 0;
  ShadowRow shadow;  // for the shadow kinds
  Job job;           // for the job kinds
  // If this op does not apply, nothing of the transaction is committed,
  // whatever the atomicity (an app's type registration riding along a batch).
  bool required = false;
};

enum class WriteOutcome { kApplied, kMissing, kVersionMismatch, kAlreadyExists };

// Objects within `radius_km` of a point, by their `latlng` field ("lat,lng").
struct GeoFilter {
  double lat = 0;
  double lng = 0;
  double radius_km = 10;
};

// A search within one app. Everything a client sends arrives here as values;
// the store turns them into parameterised queries.
struct SearchRequest {
  std::string type;                          // empty: every type
  search::Query query = search::MatchAll{};  // the filter
  std::optional<GeoFilter> near;             // also within this distance
  std::vector<std::string> exclude_ids;      // never these objects
  std::string sort_field;                    // empty: timestamp; a common or custom field
  bool descending = true;
  std::int64_t limit = 30;
  std::int64_t offset = 0;
  std::string after;         // a last_key from a previous page
  bool count_only = false;   // only `total`
  bool client_json = false;  // the page as clients' JSON (client_json), not items
};

struct SearchPage {
  std::vector<ParaObject> items;
  std::vector<std::string> client_json;  // instead of items, if the request asked so
  std::int64_t total = 0;                // matches of the request, ignoring limit, offset and after
  std::string last_key;  // pass as `after` for the page after this one; empty at the end
};

struct StoreOptions {
  std::string data_dir;   // created if missing
  bool sync_full = true;  // fsync every commit (survives power loss)
  int cache_mb = 16;      // page cache of each connection (the writer and every reader)
  // The first MiB of the database file mapped into each connection: a read
  // there touches the kernel's file cache directly instead of copying the
  // page into the connection's cache (RSS then counts those pages once per
  // connection). It pays only while nothing writes: a connection whose next
  // read transaction follows another connection's commit drops its whole
  // mapping (munmap, a TLB shootdown across threads) and faults every page
  // in again. 0: none.
  int mmap_mb = 0;
  // Clients' JSON of objects that search pages showed, shared by all readers; 0: none.
  int object_cache_mb = 32;
  // A search running longer is stopped and answered with kInvalidInput; 0: no limit.
  int search_timeout_ms = 5000;
  // While a schema upgrade runs, "still upgrading" is logged this often, so
  // a long upgrade of a large database is seen to be alive.
  std::chrono::milliseconds upgrade_heartbeat{10000};
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

  // The shadow (thing, name), or nullopt. Shadows are addressed by thing name
  // because that is the device's authenticated identity (its certificate CN).
  virtual Result<std::optional<ShadowRow>> get_shadow(std::string_view thing,
                                                      std::string_view name) = 0;

  // Classic shadows whose Thing's stored copy (its deviceShadow.version) is
  // not at the shadow's version: copies a crash kept from being written.
  // Rows carry thing, appid and object_id only.
  virtual Result<std::vector<ShadowRow>> lagging_thing_copies() = 0;

  // Up to `limit` jobs of `kind` whose due time is <= now_ms, earliest first.
  virtual Result<std::vector<Job>> due_jobs(std::string_view kind, std::int64_t now_ms,
                                            std::size_t limit) = 0;

  // A page of app `appid`'s objects matching `request`, in sort order (ties
  // broken by id), so that pages never skip or repeat an object even while
  // others are inserted. Full-text terms match whole words, case-insensitively,
  // in the object's text (name, tags, string properties; never hidden fields);
  // field terms match the whole value (case-insensitively for text, by value
  // for numbers, any element for arrays). Reads see every committed write.
  // Errors: kInvalidInput for a malformed `after` or an unusable sort field.
  virtual Result<SearchPage> search(std::string_view appid, const SearchRequest& request) = 0;

  // Succeeds if the store can serve reads and writes.
  virtual Status check_health() = 0;
};

// Opens (creating if needed) the embedded SQLite store in options.data_dir.
Result<std::unique_ptr<Store>> open_sqlite_store(const StoreOptions& options);

}  // namespace para
