// The embedded store: one SQLite database file in WAL mode.
//
// Concurrency: one writer connection behind a mutex (SQLite allows one writer
// at a time anyway; queueing here avoids SQLITE_BUSY retries) and a pool of
// reader connections, which WAL lets run in parallel with the writer.
// Every connection caches its prepared statements.
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <unordered_map>

#include "crypto/digest.h"
#include "store/object_cache.h"
#include "store/page_selection.h"
#include "store/sqlite_query.h"
#include "store/store.h"

namespace para {
namespace {

// The tag and property postings of the row `new` of objects, each value
// once per object (up to case).
constexpr std::string_view kPostNewRow = R"sql(
  INSERT INTO object_tags (obj, appid, type, tag, timestamp, id)
    SELECT DISTINCT new.rowid, new.appid, new.type, value, new.timestamp, new.id
    FROM json_each(new.json, '$.tags') WHERE type = 'text';
  INSERT INTO object_props (obj, appid, type, key, value, timestamp, id)
    SELECT DISTINCT new.rowid, new.appid, new.type, k, v COLLATE NOCASE, new.timestamp, new.id
    FROM (SELECT para_prop_key(new.type, fullkey) AS k,
                 CASE WHEN type IN ('true', 'false') THEN type ELSE value END AS v
          FROM json_tree(new.json) WHERE type NOT IN ('object', 'array', 'null'))
    WHERE k IS NOT NULL;
)sql";

// What every search index holds for the row `new` of objects: its words and
// their scope (app, type), its keys, its tags and its property values.
const std::string kIndexNewRow = R"sql(
  INSERT INTO objects_fts (rowid, text, scope)
    VALUES (new.rowid, para_text(new.json), para_fts_scope(new.appid, new.type));
  INSERT INTO object_keys (obj, appid, type, timestamp, id)
    VALUES (new.rowid, new.appid, new.type, new.timestamp, new.id);
)sql" + std::string(kPostNewRow);

// The same in schema version 5, before the scope (migrations are history).
const std::string kIndexNewRowV5 = R"sql(
  INSERT INTO objects_fts (rowid, text) VALUES (new.rowid, para_text(new.json));
)sql" + std::string(kPostNewRow);

// Removes the row `old` of objects from every search index.
constexpr std::string_view kUnindexOldRow = R"sql(
  DELETE FROM objects_fts WHERE rowid = old.rowid;
  DELETE FROM object_tags WHERE obj = old.rowid;
  DELETE FROM object_props WHERE obj = old.rowid;
)sql";

// The trigger that indexes (`index_new_row`) and counts each new object.
std::string insert_trigger(const std::string& index_new_row) {
  return "CREATE TRIGGER objects_after_insert AFTER INSERT ON objects BEGIN\n" + index_new_row +
         R"sql(
  INSERT INTO object_counts (appid, type, n) VALUES (new.appid, new.type, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
)sql";
}

// Where an object keeps its position ("lat,lng"), given its storage JSON
// column: `latlng`, else `properties.latlng`.
std::string latlng_of(std::string_view json) {
  std::string j(json);
  return "coalesce(json_extract(" + j + ", '$.latlng'), json_extract(" + j +
         ", '$.properties.latlng'))";
}

// The row `new` of objects into the places index, if it has a valid position
// (most objects have none: a substring test spares them two JSON parses).
const std::string kPlaceNewRow = R"sql(
  INSERT INTO object_places (obj, min_lat, max_lat, min_lng, max_lng, min_app, max_app,
                             min_type, max_type, appid, type, timestamp, id)
    SELECT new.rowid, lat, lat, lng, lng, app, app + 1, type, type + 1,
           new.appid, new.type, new.timestamp, new.id
    FROM (SELECT para_place_units(p, 0) AS lat, para_place_units(p, 1) AS lng,
                 para_place_key(new.appid) AS app, para_place_key(new.type) AS type
          FROM (SELECT )sql" + latlng_of("new.json") +
                                 R"sql( AS p WHERE instr(new.json, '"latlng"') > 0))
    WHERE lat IS NOT NULL AND lng IS NOT NULL;
)sql";

// The lengths of the indexed name prefixes (sqlite_query.h,
// kIndexedNamePrefix) as the rows of a VALUES clause: "(1), (2), ...".
std::string name_prefix_lengths() {
  std::string lengths;
  for (int n = 1; n <= sqlite::kIndexedNamePrefix; ++n)
    lengths += (n > 1 ? ", (" : "(") + std::to_string(n) + ")";
  return lengths;
}

// The name prefixes of the row `new` of objects: one row per length, up to
// the name's own length.
std::string name_prefixes_of_new_row() {
  return R"sql(
  INSERT INTO object_name_prefixes (appid, prefix, type, timestamp, id, obj)
    SELECT new.appid, prefix, new.type, new.timestamp, new.id, new.rowid
    FROM (SELECT para_name_prefix(new.name, column1) AS prefix FROM (VALUES )sql" +
         name_prefix_lengths() + R"sql())
    WHERE prefix IS NOT NULL;
)sql";
}

// Schema migrations, applied in order; PRAGMA user_version records how many ran.
const std::string kMigrations[] = {
    R"sql(
CREATE TABLE IF NOT EXISTS objects (
  appid     TEXT NOT NULL,
  id        TEXT NOT NULL,
  type      TEXT NOT NULL,
  name      TEXT COLLATE NOCASE,
  parentid  TEXT,
  creatorid TEXT,
  timestamp INTEGER NOT NULL DEFAULT 0,
  updated   INTEGER NOT NULL DEFAULT 0,
  version   INTEGER NOT NULL DEFAULT 0,
  json      TEXT NOT NULL,
  PRIMARY KEY (appid, id)
);
CREATE INDEX IF NOT EXISTS objects_by_type_time ON objects (appid, type, timestamp, id);
CREATE INDEX IF NOT EXISTS objects_by_time ON objects (appid, timestamp, id);
CREATE INDEX IF NOT EXISTS objects_by_parent ON objects (appid, parentid);
CREATE INDEX IF NOT EXISTS objects_by_name ON objects (appid, name);
)sql",
    R"sql(
CREATE TABLE shadows (
  thing     TEXT NOT NULL,
  name      TEXT NOT NULL,
  appid     TEXT NOT NULL,
  object_id TEXT NOT NULL,
  version   INTEGER NOT NULL,
  document  TEXT NOT NULL,
  PRIMARY KEY (thing, name)
);
CREATE INDEX shadows_by_app ON shadows (appid);
)sql",
    // Search: a full-text index and a tag index, kept by triggers in the same
    // transaction as every object write (read-your-writes).
    R"sql(
CREATE VIRTUAL TABLE objects_fts USING fts5(text, tokenize = 'unicode61 remove_diacritics 2');
CREATE TABLE object_tags (obj INTEGER NOT NULL, tag TEXT NOT NULL);
CREATE INDEX object_tags_by_tag ON object_tags (tag, obj);
CREATE INDEX object_tags_by_obj ON object_tags (obj);
CREATE TRIGGER objects_after_insert AFTER INSERT ON objects BEGIN
  INSERT INTO objects_fts (rowid, text) VALUES (new.rowid, para_text(new.json));
  INSERT INTO object_tags (obj, tag)
    SELECT new.rowid, value FROM json_each(new.json, '$.tags') WHERE type = 'text';
END;
CREATE TRIGGER objects_after_update AFTER UPDATE OF json ON objects BEGIN
  DELETE FROM objects_fts WHERE rowid = old.rowid;
  INSERT INTO objects_fts (rowid, text) VALUES (new.rowid, para_text(new.json));
  DELETE FROM object_tags WHERE obj = old.rowid;
  INSERT INTO object_tags (obj, tag)
    SELECT new.rowid, value FROM json_each(new.json, '$.tags') WHERE type = 'text';
END;
CREATE TRIGGER objects_after_delete AFTER DELETE ON objects BEGIN
  DELETE FROM objects_fts WHERE rowid = old.rowid;
  DELETE FROM object_tags WHERE obj = old.rowid;
END;
)sql",
    R"sql(
CREATE TABLE jobs (
  id       TEXT PRIMARY KEY,
  kind     TEXT NOT NULL,
  payload  TEXT NOT NULL,
  due      INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_due ON jobs (kind, due);
)sql",
    // Every custom field is indexed, as Lucene indexes every field: one
    // property row per leaf value (array elements included), keyed by its
    // dotted path; `value` has no affinity, so numbers stay numbers and text
    // stays text. Tag and property rows carry each object's app, type,
    // timestamp and id, and hold each value once per object, so a
    // one-condition search counts and pages from the index alone; the name
    // indexes (with and without the type first) likewise. Triggers keep every
    // index in the write's transaction, and so the counts of objects per app
    // and type and per app, tag and type: an unfiltered listing or one tag
    // does not count rows. Each row also keeps the object as clients see it,
    // so a page of results is copied out rather than re-rendered.
    R"sql(
DROP TRIGGER objects_after_insert;
DROP TRIGGER objects_after_update;
DROP TRIGGER objects_after_delete;
DROP TABLE object_tags;
DROP INDEX objects_by_name;
ALTER TABLE objects ADD COLUMN client_json TEXT;
UPDATE objects SET client_json = para_client_json(json);
CREATE INDEX objects_by_name ON objects (appid, name, type, timestamp, id);
CREATE INDEX objects_by_type_name ON objects (appid, type, name, timestamp, id);
CREATE TABLE object_tags (
  obj       INTEGER NOT NULL,
  appid     TEXT NOT NULL,
  type      TEXT NOT NULL,
  tag       TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  id        TEXT NOT NULL
);
CREATE INDEX object_tags_by_tag ON object_tags (appid, tag, type, timestamp, id, obj);
CREATE INDEX object_tags_by_obj ON object_tags (obj, tag);
CREATE TABLE object_props (
  obj       INTEGER NOT NULL,
  appid     TEXT NOT NULL,
  type      TEXT NOT NULL,
  key       TEXT NOT NULL,
  value     COLLATE NOCASE,
  timestamp INTEGER NOT NULL,
  id        TEXT NOT NULL
);
CREATE INDEX object_props_by_value ON object_props (appid, key, value, type, timestamp, id, obj);
CREATE INDEX object_props_by_obj ON object_props (obj, key, value);
CREATE TABLE object_counts (
  appid TEXT NOT NULL,
  type  TEXT NOT NULL,
  n     INTEGER NOT NULL,
  PRIMARY KEY (appid, type)
) WITHOUT ROWID;
)sql" + insert_trigger(kIndexNewRowV5) +
        R"sql(
CREATE TRIGGER objects_after_update AFTER UPDATE OF json ON objects BEGIN
)sql" + std::string(kUnindexOldRow) +
        kIndexNewRowV5 +
        R"sql(
END;
CREATE TRIGGER objects_after_retype AFTER UPDATE OF appid, type ON objects
  WHEN old.appid <> new.appid OR old.type <> new.type BEGIN
  UPDATE object_counts SET n = n - 1 WHERE appid = old.appid AND type = old.type;
  INSERT INTO object_counts (appid, type, n) VALUES (new.appid, new.type, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER objects_after_delete AFTER DELETE ON objects BEGIN
)sql" + std::string(kUnindexOldRow) +
        R"sql(
  UPDATE object_counts SET n = n - 1 WHERE appid = old.appid AND type = old.type;
END;
INSERT INTO object_tags (obj, appid, type, tag, timestamp, id)
  SELECT DISTINCT o.rowid, o.appid, o.type, j.value, o.timestamp, o.id
  FROM objects o, json_each(o.json, '$.tags') j WHERE j.type = 'text';
INSERT INTO object_props (obj, appid, type, key, value, timestamp, id)
  SELECT DISTINCT obj, appid, type, k, v COLLATE NOCASE, timestamp, id
  FROM (SELECT o.rowid AS obj, o.appid, o.type, o.timestamp, o.id,
               para_prop_key(o.type, t.fullkey) AS k,
               CASE WHEN t.type IN ('true', 'false') THEN t.type ELSE t.value END AS v
        FROM objects o, json_tree(o.json) t WHERE t.type NOT IN ('object', 'array', 'null'))
  WHERE k IS NOT NULL;
INSERT INTO object_counts (appid, type, n)
  SELECT appid, type, count(*) FROM objects GROUP BY appid, type;
CREATE TABLE object_tag_counts (
  appid TEXT NOT NULL,
  tag   TEXT NOT NULL,
  type  TEXT NOT NULL,
  n     INTEGER NOT NULL,
  PRIMARY KEY (appid, tag, type)
) WITHOUT ROWID;
INSERT INTO object_tag_counts (appid, tag, type, n)
  SELECT appid, tag, type, count(*) FROM object_tags GROUP BY appid, tag, type;
CREATE TRIGGER object_tags_after_insert AFTER INSERT ON object_tags BEGIN
  INSERT INTO object_tag_counts (appid, tag, type, n) VALUES (new.appid, new.tag, new.type, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER object_tags_after_delete AFTER DELETE ON object_tags BEGIN
  UPDATE object_tag_counts SET n = n - 1
    WHERE appid = old.appid AND tag = old.tag AND type = old.type;
  DELETE FROM object_tag_counts
    WHERE appid = old.appid AND tag = old.tag AND type = old.type AND n <= 0;
END;
)sql",
    // Positions in an R*Tree (one point per object that has a valid latlng),
    // so a nearby search visits only the points of its app (and type) in a
    // rectangle around the circle. Coordinates are integers of 1e-7 degree,
    // the app and the type 30-bit keys (see sqlite_query.h) stored as
    // [key, key + 1]: a dimension of zero extent would make every box's
    // volume zero and blind the R*-tree's choice of subtree. The app, type,
    // timestamp and id beside each point let an unfiltered nearby search
    // count and page without reading the objects.
    //
    // The full-text index gains a `scope` column (app, and app and type), so
    // FTS5 itself keeps a search within its app and type; object_keys, a
    // narrow copy of each object's app, type, timestamp and id by rowid,
    // lets a full-text search count and page its matches without reading
    // the objects.
    R"sql(
DROP TRIGGER objects_after_insert;
DROP TRIGGER objects_after_update;
DROP TABLE objects_fts;
CREATE VIRTUAL TABLE objects_fts USING fts5(
  text, scope, tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO objects_fts (rowid, text, scope)
  SELECT rowid, para_text(json), para_fts_scope(appid, type) FROM objects;
CREATE TABLE object_keys (
  obj       INTEGER PRIMARY KEY,
  appid     TEXT NOT NULL,
  type      TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  id        TEXT NOT NULL
);
INSERT INTO object_keys (obj, appid, type, timestamp, id)
  SELECT rowid, appid, type, timestamp, id FROM objects;
CREATE TRIGGER objects_after_delete_keys AFTER DELETE ON objects BEGIN
  DELETE FROM object_keys WHERE obj = old.rowid;
END;
)sql" + insert_trigger(kIndexNewRow) +
        R"sql(
CREATE TRIGGER objects_after_update AFTER UPDATE OF json, appid, type, timestamp, id
  ON objects BEGIN
)sql" + std::string(kUnindexOldRow) +
        "  DELETE FROM object_keys WHERE obj = old.rowid;\n" + kIndexNewRow +
        R"sql(
END;
CREATE VIRTUAL TABLE object_places USING rtree_i32(
  obj, min_lat, max_lat, min_lng, max_lng, min_app, max_app, min_type, max_type,
  +appid, +type, +timestamp, +id);
INSERT INTO object_places (obj, min_lat, max_lat, min_lng, max_lng, min_app, max_app,
                           min_type, max_type, appid, type, timestamp, id)
  SELECT obj, lat, lat, lng, lng, app, app + 1, type_key, type_key + 1, appid, type, timestamp, id
  FROM (SELECT obj, appid, type, timestamp, id,
               para_place_units(p, 0) AS lat, para_place_units(p, 1) AS lng,
               para_place_key(appid) AS app, para_place_key(type) AS type_key
        FROM (SELECT rowid AS obj, appid, type, timestamp, id, )sql" +
        latlng_of("json") +
        R"sql( AS p FROM objects))
  WHERE lat IS NOT NULL AND lng IS NOT NULL;
CREATE TRIGGER objects_after_insert_place AFTER INSERT ON objects BEGIN
)sql" + kPlaceNewRow +
        R"sql(
END;
CREATE TRIGGER objects_after_update_place AFTER UPDATE OF json, appid, type, timestamp, id
  ON objects BEGIN
  DELETE FROM object_places WHERE obj = old.rowid;
)sql" + kPlaceNewRow +
        R"sql(
END;
CREATE TRIGGER objects_after_delete_place AFTER DELETE ON objects BEGIN
  DELETE FROM object_places WHERE obj = old.rowid;
END;
)sql",
    // The name-prefix index (sqlite_query.h, kIndexedNamePrefix): each
    // object's name by its first characters, with the app, type, timestamp
    // and id beside them, and counts per app, prefix and type, so a short
    // prefix search pages and counts like a tag search. An update rewrites
    // an object's prefixes only when what they hold changes.
    R"sql(
CREATE TABLE object_name_prefixes (
  appid     TEXT NOT NULL,
  prefix    TEXT NOT NULL,
  type      TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  id        TEXT NOT NULL,
  obj       INTEGER NOT NULL,
  PRIMARY KEY (appid, prefix, type, timestamp, id, obj)
) WITHOUT ROWID;
CREATE INDEX object_name_prefixes_by_obj ON object_name_prefixes (obj, prefix);
CREATE TABLE object_name_prefix_counts (
  appid  TEXT NOT NULL,
  prefix TEXT NOT NULL,
  type   TEXT NOT NULL,
  n      INTEGER NOT NULL,
  PRIMARY KEY (appid, prefix, type)
) WITHOUT ROWID;
INSERT INTO object_name_prefixes (appid, prefix, type, timestamp, id, obj)
  SELECT appid, prefix, type, timestamp, id, obj
  FROM (SELECT o.appid, o.type, o.timestamp, o.id, o.rowid AS obj,
               para_name_prefix(o.name, k.column1) AS prefix
        FROM objects o, (VALUES )sql" +
        name_prefix_lengths() + R"sql() k)
  WHERE prefix IS NOT NULL;
INSERT INTO object_name_prefix_counts (appid, prefix, type, n)
  SELECT appid, prefix, type, count(*) FROM object_name_prefixes GROUP BY appid, prefix, type;
CREATE TRIGGER object_name_prefixes_after_insert AFTER INSERT ON object_name_prefixes BEGIN
  INSERT INTO object_name_prefix_counts (appid, prefix, type, n)
    VALUES (new.appid, new.prefix, new.type, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER object_name_prefixes_after_delete AFTER DELETE ON object_name_prefixes BEGIN
  UPDATE object_name_prefix_counts SET n = n - 1
    WHERE appid = old.appid AND prefix = old.prefix AND type = old.type;
  DELETE FROM object_name_prefix_counts
    WHERE appid = old.appid AND prefix = old.prefix AND type = old.type AND n <= 0;
END;
CREATE TRIGGER objects_after_insert_name AFTER INSERT ON objects BEGIN
)sql" + name_prefixes_of_new_row() +
        R"sql(
END;
CREATE TRIGGER objects_after_update_name AFTER UPDATE OF name, appid, type, timestamp, id
  ON objects
  WHEN old.name IS NOT new.name OR old.appid IS NOT new.appid OR old.type IS NOT new.type
    OR old.timestamp IS NOT new.timestamp OR old.id IS NOT new.id BEGIN
  DELETE FROM object_name_prefixes WHERE obj = old.rowid;
)sql" + name_prefixes_of_new_row() +
        R"sql(
END;
CREATE TRIGGER objects_after_delete_name AFTER DELETE ON objects BEGIN
  DELETE FROM object_name_prefixes WHERE obj = old.rowid;
END;
)sql",
};
const int kSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr const char* kSelectOne = "SELECT json FROM objects WHERE appid = ?1 AND id = ?2";
constexpr const char* kInsert =
    "INSERT INTO objects (appid, id, type, name, parentid, creatorid, timestamp, updated, "
    "version, json, client_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12) "
    "ON CONFLICT DO NOTHING";
constexpr const char* kUpsert =
    "INSERT INTO objects (appid, id, type, name, parentid, creatorid, timestamp, updated, "
    "version, json, client_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12) "
    "ON CONFLICT (appid, id) DO UPDATE SET type = ?3, name = ?4, parentid = ?5, "
    "creatorid = ?6, timestamp = ?7, updated = ?8, version = ?9, json = ?10, client_json = ?12";
constexpr const char* kReplaceIfVersion =
    "UPDATE objects SET type = ?3, name = ?4, parentid = ?5, creatorid = ?6, timestamp = ?7, "
    "updated = ?8, version = ?9, json = ?10, client_json = ?12 "
    "WHERE appid = ?1 AND id = ?2 AND version = ?11";
constexpr const char* kExists = "SELECT 1 FROM objects WHERE appid = ?1 AND id = ?2";
constexpr const char* kDelete = "DELETE FROM objects WHERE appid = ?1 AND id = ?2";
constexpr const char* kDeletePartition = "DELETE FROM objects WHERE appid = ?1";
// Approximate statistics (a few hundred rows per index): enough for the
// planner, and quick even on large databases.
constexpr const char* kAnalyze = "PRAGMA analysis_limit = 400; ANALYZE;";
constexpr const char* kDeleteAppShadows = "DELETE FROM shadows WHERE appid = ?1";
constexpr const char* kLaggingThingCopies =
    "SELECT s.thing, s.appid, s.object_id FROM shadows s "
    "JOIN objects o ON o.appid = s.appid AND o.id = s.object_id "
    "WHERE s.name = '' AND coalesce(json_extract(o.json, '$.deviceShadow.version'), 0) <> "
    "s.version";
constexpr const char* kSelectShadow =
    "SELECT appid, object_id, version, document FROM shadows WHERE thing = ?1 AND name = ?2";
constexpr const char* kInsertShadow =
    "INSERT INTO shadows (thing, name, appid, object_id, version, document) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING";
constexpr const char* kUpdateShadow =
    "UPDATE shadows SET appid = ?3, object_id = ?4, version = ?5, document = ?6 "
    "WHERE thing = ?1 AND name = ?2 AND version = ?7";
constexpr const char* kDeleteShadows = "DELETE FROM shadows WHERE thing = ?1";
constexpr const char* kPutJob =
    "INSERT INTO jobs (id, kind, payload, due, attempts) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (id) DO UPDATE SET kind = ?2, payload = ?3, due = ?4, attempts = ?5";
constexpr const char* kDeleteJob = "DELETE FROM jobs WHERE id = ?1";
constexpr const char* kDueJobs =
    "SELECT id, kind, payload, due, attempts FROM jobs WHERE kind = ?1 AND due <= ?2 "
    "ORDER BY due LIMIT ?3";

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  std::string message = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  int primary = rc & 0xFF;
  bool transient = primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_BUSY ||
                   primary == SQLITE_LOCKED || primary == SQLITE_CANTOPEN;
  return {transient ? ErrorKind::kUnavailable : ErrorKind::kInternal, std::move(message)};
}

// A prepared statement in use: reset and unbound when the scope ends, so the
// cached statement is ready for the next caller.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Statement() {
    if (!stmt_) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;

  void bind(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  }
  void bind(int index, std::int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  void bind_value(int index, const sqlite::SqlValue& value) {
    if (const auto* i = std::get_if<std::int64_t>(&value)) {
      sqlite3_bind_int64(stmt_, index, *i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      sqlite3_bind_double(stmt_, index, *d);
    } else {
      const auto& text = std::get<std::string>(value);
      sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    }
  }
  void bind_pointer(int index, void* pointer, const char* type) {
    sqlite3_bind_pointer(stmt_, index, pointer, type, nullptr);
  }
  void bind_all(const std::vector<sqlite::SqlValue>& values) {
    for (std::size_t i = 0; i < values.size(); ++i)
      bind_value(static_cast<int>(i + 1), values[i]);
  }
  // Column `column` as a SqlValue (NULL reads as "").
  sqlite::SqlValue value(int column) {
    switch (sqlite3_column_type(stmt_, column)) {
      case SQLITE_INTEGER:
        return sqlite3_column_int64(stmt_, column);
      case SQLITE_FLOAT:
        return sqlite3_column_double(stmt_, column);
      default:
        return std::string(text(column));
    }
  }
  int step() { return sqlite3_step(stmt_); }
  void reset() { sqlite3_reset(stmt_); }
  std::string_view text(int column) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
             : std::string_view();
  }
  std::int64_t integer(int column) { return sqlite3_column_int64(stmt_, column); }

 private:
  sqlite3_stmt* stmt_;
};

// An SQL function's text argument (numbers as their text), or nullopt for NULL.
std::optional<std::string_view> text_arg(sqlite3_value* value) {
  auto* text = reinterpret_cast<const char*>(sqlite3_value_text(value));
  if (!text) return std::nullopt;
  return std::string_view(text, static_cast<std::size_t>(sqlite3_value_bytes(value)));
}

void result_text(sqlite3_context* ctx, const std::string& text) {
  sqlite3_result_text(ctx, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

void sql_para_text(sqlite3_context* ctx, int, sqlite3_value** argv) {
  auto json = text_arg(argv[0]);
  result_text(ctx, json ? sqlite::indexed_text(*json) : std::string());
}

void sql_distance_km(sqlite3_context* ctx, int, sqlite3_value** argv) {
  sqlite3_result_double(
      ctx, sqlite::distance_km({sqlite3_value_double(argv[0]), sqlite3_value_double(argv[1])},
                               {sqlite3_value_double(argv[2]), sqlite3_value_double(argv[3])}));
}

// para_place_units(latlng, 0 | 1): the latitude or longitude of a valid
// "lat,lng" in units of 1e-7 degree, else NULL. para_place_key(text): the
// 30-bit key of an app or a type in the places index.
void sql_place_units(sqlite3_context* ctx, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) return sqlite3_result_null(ctx);
  auto at = sqlite::parse_latlng(text_arg(argv[0]).value_or(""));
  if (!at) return sqlite3_result_null(ctx);
  sqlite3_result_int64(ctx,
                       sqlite::place_units(sqlite3_value_int(argv[1]) == 0 ? at->lat : at->lng));
}

void sql_place_key(sqlite3_context* ctx, int, sqlite3_value** argv) {
  sqlite3_result_int64(ctx, sqlite::place_key(text_arg(argv[0]).value_or("")));
}

void sql_fts_scope(sqlite3_context* ctx, int, sqlite3_value** argv) {
  result_text(ctx,
              sqlite::fts_scope(text_arg(argv[0]).value_or(""), text_arg(argv[1]).value_or("")));
}

void sql_name_prefix(sqlite3_context* ctx, int, sqlite3_value** argv) {
  auto name = text_arg(argv[0]);
  if (!name) return sqlite3_result_null(ctx);
  auto prefix = sqlite::name_prefix(*name, sqlite3_value_int(argv[1]));
  if (!prefix) return sqlite3_result_null(ctx);
  result_text(ctx, *prefix);
}

void sql_prop_key(sqlite3_context* ctx, int, sqlite3_value** argv) {
  auto type = text_arg(argv[0]);
  auto path = text_arg(argv[1]);
  if (!type || !path) return sqlite3_result_null(ctx);
  auto key = sqlite::property_key(*type, *path);
  if (!key) return sqlite3_result_null(ctx);
  result_text(ctx, *key);
}

void sql_client_json(sqlite3_context* ctx, int, sqlite3_value** argv) {
  auto json = text_arg(argv[0]);
  if (!json) return sqlite3_result_null(ctx);
  auto object = object_from_storage(*json);
  if (!object) return sqlite3_result_null(ctx);
  result_text(ctx, to_stored_client_json(*object));
}

// para_select_page(key, id, rowid, selection): offers each row to the
// PageSelection bound as `selection` (a pointer only C++ can bind).
constexpr const char* kPageSelectionPointer = "para_page_selection";

void sql_select_page_step(sqlite3_context* ctx, int, sqlite3_value** argv) {
  // The pointer is looked up once per scan and kept in the aggregate's context.
  auto** cached = static_cast<sqlite::PageSelection**>(
      sqlite3_aggregate_context(ctx, sizeof(sqlite::PageSelection*)));
  if (!cached) return sqlite3_result_error_nomem(ctx);
  if (!*cached) {
    *cached =
        static_cast<sqlite::PageSelection*>(sqlite3_value_pointer(argv[3], kPageSelectionPointer));
  }
  sqlite::PageSelection* selection = *cached;
  if (!selection) return sqlite3_result_error(ctx, "para_select_page: no selection bound", -1);
  // The id as stored (the blob view of text needs no terminating copy).
  auto read_id = [argv] {
    auto* id = static_cast<const char*>(sqlite3_value_blob(argv[1]));
    return id ? std::string_view(id, static_cast<std::size_t>(sqlite3_value_bytes(argv[1])))
              : std::string_view();
  };
  try {
    selection->offer(sqlite3_value_int64(argv[0]), sqlite3_value_int64(argv[2]), read_id);
  } catch (const std::bad_alloc&) {
    sqlite3_result_error_nomem(ctx);
  }
}

void sql_select_page_final(sqlite3_context* ctx) {
  sqlite3_result_null(ctx);
}

// The SQL functions the schema's triggers and the search queries use.
void register_functions(sqlite3* db) {
  const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  sqlite3_create_function(db, "para_text", 1, flags, nullptr, sql_para_text, nullptr, nullptr);
  sqlite3_create_function(db, "para_prop_key", 2, flags, nullptr, sql_prop_key, nullptr, nullptr);
  sqlite3_create_function(db, "para_client_json", 1, flags, nullptr, sql_client_json, nullptr,
                          nullptr);
  sqlite3_create_function(db, "para_distance_km", 4, flags, nullptr, sql_distance_km, nullptr,
                          nullptr);
  sqlite3_create_function(db, "para_place_units", 2, flags, nullptr, sql_place_units, nullptr,
                          nullptr);
  sqlite3_create_function(db, "para_fts_scope", 2, flags, nullptr, sql_fts_scope, nullptr, nullptr);
  sqlite3_create_function(db, "para_place_key", 1, flags, nullptr, sql_place_key, nullptr, nullptr);
  sqlite3_create_function(db, "para_name_prefix", 2, flags, nullptr, sql_name_prefix, nullptr,
                          nullptr);
  sqlite3_create_function(db, "para_select_page", 4, SQLITE_UTF8 | SQLITE_DIRECTONLY, nullptr,
                          nullptr, sql_select_page_step, sql_select_page_final);
}

// Process-wide SQLite settings, before the first connection: no memory
// statistics, whose global mutex every allocation of every connection would
// otherwise take.
void configure_sqlite_library() {
  static std::once_flag once;
  std::call_once(once, [] { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

class Connection {
 public:
  static Result<std::unique_ptr<Connection>> open(const std::string& path,
                                                  const StoreOptions& options) {
    sqlite3* db = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    auto conn = std::unique_ptr<Connection>(new Connection(db));
    if (rc != SQLITE_OK) return sqlite_error(db, rc, "cannot open " + path);
    sqlite3_busy_timeout(db, 10000);
    register_functions(db);
    std::string pragmas = "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; ";
    pragmas += options.sync_full ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = NORMAL;";
    pragmas +=
        " PRAGMA cache_size = -" + std::to_string(std::max(1, options.cache_mb) * 1024) + ";";
    pragmas += " PRAGMA mmap_size = " +
               std::to_string(static_cast<std::int64_t>(std::max(0, options.mmap_mb)) << 20) + ";";
    if (auto st = conn->exec(pragmas); !st) return st.error();
    return conn;
  }

  ~Connection() {
    // Every statement we prepared must be finalized, or close_v2 leaves a
    // zombie connection behind. (Not sqlite3_next_stmt: FTS5 owns some.)
    for (auto& [sql, stmt] : statements_)
      sqlite3_finalize(stmt);
    for (auto& [sql, stmt] : dynamic_)
      sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  Status exec(const std::string& sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return {};
    std::string text = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return sqlite_error(nullptr, rc, text);
  }

  // Runs one statement without results through the statement cache: the
  // transaction control of every write, which exec() would compile each time.
  Status run(const char* sql) {
    auto stmt = prepare(sql);
    if (!stmt) return stmt.error();
    const int rc = stmt->step();
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return {};
    return sqlite_error(db_, rc, sql);
  }

  // The cached statement for `sql` (a string constant: cached by address).
  Result<Statement> prepare(const char* sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      sqlite3_stmt* stmt = nullptr;
      int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return sqlite_error(db_, rc, "prepare");
      it = statements_.emplace(sql, stmt).first;
    }
    return Statement(it->second);
  }

  // A statement for generated SQL (searches), cached by its text; the cache
  // is bounded because queries vary with user input.
  Result<Statement> prepare_dynamic(const std::string& sql) {
    auto it = dynamic_.find(sql);
    if (it == dynamic_.end()) {
      if (dynamic_.size() >= 128) {
        for (auto& [text, stmt] : dynamic_)
          sqlite3_finalize(stmt);
        dynamic_.clear();
      }
      sqlite3_stmt* stmt = nullptr;
      int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                  SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return sqlite_error(db_, rc, "prepare search");
      it = dynamic_.emplace(sql, stmt).first;
    }
    return Statement(it->second);
  }

  sqlite3* handle() const { return db_; }

  // Statements running past `deadline` stop with SQLITE_INTERRUPT; until
  // clear_deadline(). SQLite checks every few thousand instructions.
  void set_deadline(std::chrono::steady_clock::time_point deadline) {
    deadline_ = deadline;
    sqlite3_progress_handler(db_, kProgressInterval, &Connection::past_deadline, this);
  }
  void clear_deadline() { sqlite3_progress_handler(db_, 0, nullptr, nullptr); }

  // Which planner statistics this connection has loaded (see SqliteStore).
  std::uint64_t stats_generation = 0;

 private:
  static constexpr int kProgressInterval = 4096;  // VM instructions (~20-50 us) between checks

  explicit Connection(sqlite3* db) : db_(db) {}
  static int past_deadline(void* self) {
    return std::chrono::steady_clock::now() > static_cast<Connection*>(self)->deadline_ ? 1 : 0;
  }

  sqlite3* db_;
  std::chrono::steady_clock::time_point deadline_{};
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
  std::unordered_map<std::string, sqlite3_stmt*> dynamic_;
};

class SqliteStore final : public Store {
 public:
  SqliteStore(std::unique_ptr<Connection> writer, std::vector<std::unique_ptr<Connection>> readers,
              std::size_t object_cache_bytes, std::chrono::milliseconds search_timeout)
      : writer_(std::move(writer)),
        object_cache_(object_cache_bytes),
        search_timeout_(search_timeout) {
    for (auto& r : readers)
      free_readers_.push_back(r.get());
    readers_ = std::move(readers);
  }

  Result<std::optional<ParaObject>> get(std::string_view appid, std::string_view id) override {
    auto reader = borrow_reader();
    return read_one(*reader.conn, appid, id);
  }

  Result<std::vector<ParaObject>> get_many(std::string_view appid,
                                           std::span<const std::string> ids) override {
    auto reader = borrow_reader();
    std::vector<ParaObject> found;
    found.reserve(ids.size());
    for (const auto& id : ids) {
      auto one = read_one(*reader.conn, appid, id);
      if (!one) return one.error();
      if (*one) found.push_back(std::move(**one));
    }
    return found;
  }

  // Group commit: concurrent writers queue up; one of them (the leader)
  // commits everything queued in one transaction, each writer's ops inside
  // its own savepoint, so a failed all-or-nothing write undoes only itself.
  // One fsync then acknowledges many writes.
  Result<std::vector<WriteOutcome>> write(std::span<const WriteOp> ops,
                                          Atomicity atomicity) override {
    PendingWrite mine{ops, atomicity};
    std::unique_lock lock(queue_mutex_);
    queue_.push_back(&mine);
    queue_changed_.wait(lock, [&] { return mine.done || !leader_active_; });
    if (mine.done) return std::move(mine.result);
    leader_active_ = true;
    while (!mine.done) {
      std::vector<PendingWrite*> batch;
      batch.swap(queue_);
      lock.unlock();
      commit_batch(batch);
      lock.lock();
      for (PendingWrite* p : batch)
        p->done = true;
      queue_changed_.notify_all();
    }
    leader_active_ = false;
    queue_changed_.notify_all();  // a queued writer takes over as leader
    return std::move(mine.result);
  }

  Result<SearchPage> search(std::string_view appid, const SearchRequest& request) override;

  Result<std::optional<ShadowRow>> get_shadow(std::string_view thing,
                                              std::string_view name) override {
    auto reader = borrow_reader();
    auto stmt = reader.conn->prepare(kSelectShadow);
    if (!stmt) return stmt.error();
    stmt->bind(1, thing);
    stmt->bind(2, name);
    int rc = stmt->step();
    if (rc == SQLITE_DONE) return std::optional<ShadowRow>();
    if (rc != SQLITE_ROW) return sqlite_error(reader.conn->handle(), rc, "shadow");
    ShadowRow row;
    row.thing = thing;
    row.name = name;
    row.appid = stmt->text(0);
    row.object_id = stmt->text(1);
    row.version = stmt->integer(2);
    row.document = stmt->text(3);
    return std::optional<ShadowRow>(std::move(row));
  }

  Result<std::vector<ShadowRow>> lagging_thing_copies() override {
    auto reader = borrow_reader();
    auto stmt = reader.conn->prepare(kLaggingThingCopies);
    if (!stmt) return stmt.error();
    std::vector<ShadowRow> rows;
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW) {
      ShadowRow row;
      row.thing = stmt->text(0);
      row.appid = stmt->text(1);
      row.object_id = stmt->text(2);
      rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) return sqlite_error(reader.conn->handle(), rc, "lagging thing copies");
    return rows;
  }

  Result<std::vector<Job>> due_jobs(std::string_view kind, std::int64_t now_ms,
                                    std::size_t limit) override {
    auto reader = borrow_reader();
    auto stmt = reader.conn->prepare(kDueJobs);
    if (!stmt) return stmt.error();
    stmt->bind(1, kind);
    stmt->bind(2, now_ms);
    stmt->bind(3, static_cast<std::int64_t>(limit));
    std::vector<Job> jobs;
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW) {
      jobs.push_back(Job{std::string(stmt->text(0)), std::string(stmt->text(1)),
                         std::string(stmt->text(2)), stmt->integer(3), stmt->integer(4)});
    }
    if (rc != SQLITE_DONE) return sqlite_error(reader.conn->handle(), rc, "jobs");
    return jobs;
  }

  Status check_health() override {
    auto reader = borrow_reader();
    return reader.conn->exec("SELECT count(*) FROM sqlite_master");
  }

 private:
  // A reader connection on loan; returned to the pool when it goes out of scope.
  struct Loan {
    SqliteStore* store;
    Connection* conn;
    Loan(SqliteStore* s, Connection* c) : store(s), conn(c) {}
    Loan(const Loan&) = delete;
    Loan& operator=(const Loan&) = delete;
    ~Loan() { store->return_reader(conn); }
  };

  Loan borrow_reader() {
    Connection* c;
    {
      std::unique_lock lock(readers_mutex_);
      readers_available_.wait(lock, [this] { return !free_readers_.empty(); });
      c = free_readers_.back();
      free_readers_.pop_back();
    }
    // A connection does not see statistics another one gathered until it
    // reloads them; without them its plans ignore selective indexes.
    if (const std::uint64_t generation = stats_generation_; c->stats_generation != generation) {
      (void)c->exec("ANALYZE sqlite_schema");
      c->stats_generation = generation;
    }
    return Loan(this, c);
  }

  void return_reader(Connection* c) {
    {
      std::lock_guard lock(readers_mutex_);
      free_readers_.push_back(c);
    }
    readers_available_.notify_one();
  }

  static Result<std::optional<ParaObject>> read_one(Connection& c, std::string_view appid,
                                                    std::string_view id) {
    auto stmt = c.prepare(kSelectOne);
    if (!stmt) return stmt.error();
    stmt->bind(1, appid);
    stmt->bind(2, id);
    int rc = stmt->step();
    if (rc == SQLITE_DONE) return std::optional<ParaObject>();
    if (rc != SQLITE_ROW) return sqlite_error(c.handle(), rc, "read");
    auto object = object_from_storage(stmt->text(0));
    if (!object) return object.error();
    return std::optional<ParaObject>(std::move(*object));
  }

  static void bind_object(Statement& s, const ParaObject& o, const std::string& json,
                          const std::string& client_json) {
    s.bind(1, o.appid);
    s.bind(2, o.id);
    s.bind(3, o.type);
    s.bind(4, o.name);  // '' rather than NULL: sorts and cursors compare plain values
    s.bind(5, o.parentid);
    s.bind(6, o.creatorid);
    s.bind(7, o.timestamp);
    s.bind(8, o.updated);
    s.bind(9, o.version);
    s.bind(10, json);
    s.bind(12, client_json);
  }

  static Result<WriteOutcome> apply(Connection& c, const WriteOp& op) {
    if (op.kind == WriteOp::Kind::kPutShadow) return put_shadow(c, op);
    if (op.kind == WriteOp::Kind::kPutJob || op.kind == WriteOp::Kind::kDeleteJob) {
      return write_job(c, op);
    }
    if (op.kind == WriteOp::Kind::kDeleteShadows) {
      auto stmt = c.prepare(kDeleteShadows);
      if (!stmt) return stmt.error();
      stmt->bind(1, op.shadow.thing);
      if (int rc = stmt->step(); rc != SQLITE_DONE) return sqlite_error(c.handle(), rc, "delete");
      return WriteOutcome::kApplied;
    }
    const ParaObject& o = op.object;
    if (op.kind == WriteOp::Kind::kDelete || op.kind == WriteOp::Kind::kDeletePartition) {
      const bool one = op.kind == WriteOp::Kind::kDelete;
      auto stmt = c.prepare(one ? kDelete : kDeletePartition);
      if (!stmt) return stmt.error();
      stmt->bind(1, o.appid);
      if (one) stmt->bind(2, o.id);
      if (int rc = stmt->step(); rc != SQLITE_DONE) return sqlite_error(c.handle(), rc, "delete");
      if (!one) {
        auto shadows = c.prepare(kDeleteAppShadows);
        if (!shadows) return shadows.error();
        shadows->bind(1, o.appid);
        if (int rc = shadows->step(); rc != SQLITE_DONE)
          return sqlite_error(c.handle(), rc, "delete");
        return WriteOutcome::kApplied;
      }
      // Emptying a partition succeeds even when it was empty already.
      return !one || sqlite3_changes(c.handle()) ? WriteOutcome::kApplied : WriteOutcome::kMissing;
    }
    const std::string json = to_storage_json(o);
    const std::string client_json = to_stored_client_json(o);
    const char* sql = op.kind == WriteOp::Kind::kInsert   ? kInsert
                      : op.kind == WriteOp::Kind::kUpsert ? kUpsert
                                                          : kReplaceIfVersion;
    {
      auto stmt = c.prepare(sql);
      if (!stmt) return stmt.error();
      bind_object(*stmt, o, json, client_json);
      if (op.kind == WriteOp::Kind::kReplaceIfVersion) stmt->bind(11, op.expected_version);
      if (int rc = stmt->step(); rc != SQLITE_DONE) return sqlite_error(c.handle(), rc, "write");
    }
    if (sqlite3_changes(c.handle()) > 0) return WriteOutcome::kApplied;
    if (op.kind == WriteOp::Kind::kInsert) return WriteOutcome::kAlreadyExists;
    auto exists = read_exists(c, o.appid, o.id);
    if (!exists) return exists.error();
    return *exists ? WriteOutcome::kVersionMismatch : WriteOutcome::kMissing;
  }

  static Result<WriteOutcome> put_shadow(Connection& c, const WriteOp& op) {
    const ShadowRow& r = op.shadow;
    const bool insert = op.expected_version < 0;
    auto stmt = c.prepare(insert ? kInsertShadow : kUpdateShadow);
    if (!stmt) return stmt.error();
    stmt->bind(1, r.thing);
    stmt->bind(2, r.name);
    stmt->bind(3, r.appid);
    stmt->bind(4, r.object_id);
    stmt->bind(5, r.version);
    stmt->bind(6, r.document);
    if (!insert) stmt->bind(7, op.expected_version);
    if (int rc = stmt->step(); rc != SQLITE_DONE) return sqlite_error(c.handle(), rc, "shadow");
    return sqlite3_changes(c.handle()) ? WriteOutcome::kApplied : WriteOutcome::kVersionMismatch;
  }

  static Result<WriteOutcome> write_job(Connection& c, const WriteOp& op) {
    const bool put = op.kind == WriteOp::Kind::kPutJob;
    auto stmt = c.prepare(put ? kPutJob : kDeleteJob);
    if (!stmt) return stmt.error();
    stmt->bind(1, op.job.id);
    if (put) {
      stmt->bind(2, op.job.kind);
      stmt->bind(3, op.job.payload);
      stmt->bind(4, op.job.due);
      stmt->bind(5, op.job.attempts);
    }
    if (int rc = stmt->step(); rc != SQLITE_DONE) return sqlite_error(c.handle(), rc, "job");
    return put || sqlite3_changes(c.handle()) ? WriteOutcome::kApplied : WriteOutcome::kMissing;
  }

  static Result<bool> read_exists(Connection& c, std::string_view appid, std::string_view id) {
    auto stmt = c.prepare(kExists);
    if (!stmt) return stmt.error();
    stmt->bind(1, appid);
    stmt->bind(2, id);
    int rc = stmt->step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite_error(c.handle(), rc, "exists");
    return rc == SQLITE_ROW;
  }

  struct PendingWrite {
    std::span<const WriteOp> ops;
    Atomicity atomicity;
    Result<std::vector<WriteOutcome>> result = internal_error("write not run");
    bool done = false;  // guarded by queue_mutex_
  };

  // Runs on the leader only, so the writer connection needs no other lock.
  void commit_batch(const std::vector<PendingWrite*>& batch) {
    Connection& c = *writer_;
    if (auto st = c.run("BEGIN IMMEDIATE"); !st) {
      for (PendingWrite* p : batch)
        p->result = st.error();
      return;
    }
    std::size_t applied = 0;
    for (PendingWrite* p : batch) {
      p->result = apply_in_savepoint(c, *p);
      if (p->result) applied += p->ops.size();
    }
    // The cache serves none of these objects while they become visible,
    // and none is cached again from before (see ObjectCache).
    for (const PendingWrite* p : batch)
      mark_cached_writes(p->ops, true);
    const Status committed = c.run("COMMIT");
    if (!committed) (void)c.exec("ROLLBACK");
    for (const PendingWrite* p : batch)
      mark_cached_writes(p->ops, false);
    if (!committed) {
      for (PendingWrite* p : batch)
        p->result = committed.error();
      return;
    }
    // Keep the planner's statistics current as data grows: without them it
    // prefers walking the sort index over a selective one (name, tags).
    writes_since_analyze_ += applied;
    if (writes_since_analyze_ >= 20000) {
      writes_since_analyze_ = 0;
      if (c.exec(kAnalyze)) ++stats_generation_;
    }
  }

  // Begins (or ends) the cache's view of a write to the objects the ops may change.
  void mark_cached_writes(std::span<const WriteOp> ops, bool begin) {
    for (const WriteOp& op : ops) {
      switch (op.kind) {
        case WriteOp::Kind::kInsert:
        case WriteOp::Kind::kUpsert:
        case WriteOp::Kind::kReplaceIfVersion:
        case WriteOp::Kind::kDelete:
          begin ? object_cache_.begin_write(op.object.appid, op.object.id)
                : object_cache_.end_write(op.object.appid, op.object.id);
          break;
        case WriteOp::Kind::kDeletePartition:
          begin ? object_cache_.begin_write_all() : object_cache_.end_write_all();
          break;
        case WriteOp::Kind::kPutShadow:
        case WriteOp::Kind::kDeleteShadows:
        case WriteOp::Kind::kPutJob:
        case WriteOp::Kind::kDeleteJob:
          break;  // not objects
      }
    }
  }

  static Result<std::vector<WriteOutcome>> apply_in_savepoint(Connection& c,
                                                              const PendingWrite& p) {
    if (auto st = c.run("SAVEPOINT write"); !st) return st.error();
    std::vector<WriteOutcome> outcomes;
    outcomes.reserve(p.ops.size());
    auto undo = [&] { return c.exec("ROLLBACK TO write; RELEASE write"); };
    for (const auto& op : p.ops) {
      auto outcome = apply(c, op);
      if (!outcome) {
        (void)undo();
        return outcome.error();
      }
      outcomes.push_back(*outcome);
      if (*outcome != WriteOutcome::kApplied &&
          (p.atomicity == Atomicity::kAllOrNothing || op.required)) {
        if (auto st = undo(); !st) return st.error();
        return outcomes;
      }
    }
    if (auto st = c.run("RELEASE write"); !st) return st.error();
    return outcomes;
  }

  std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::vector<PendingWrite*> queue_;                // guarded by queue_mutex_
  bool leader_active_ = false;                      // guarded by queue_mutex_
  std::unique_ptr<Connection> writer_;              // used by the leader only
  std::size_t writes_since_analyze_ = 0;            // leader only
  std::atomic<std::uint64_t> stats_generation_{0};  // bumped after each ANALYZE

  std::mutex readers_mutex_;
  std::condition_variable readers_available_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::vector<Connection*> free_readers_;  // guarded by readers_mutex_

  sqlite::ObjectCache object_cache_;                // clients' JSON of objects pages showed
  const std::chrono::milliseconds search_timeout_;  // 0: none
};

// A search's time limit on its reader connection, for as long as it lives.
class SearchDeadline {
 public:
  SearchDeadline(Connection& c, std::chrono::milliseconds timeout) : c_(c) {
    if (timeout.count() <= 0) return;
    deadline_ = std::chrono::steady_clock::now() + timeout;
    c_.set_deadline(deadline_);
  }
  ~SearchDeadline() { c_.clear_deadline(); }
  SearchDeadline(const SearchDeadline&) = delete;
  SearchDeadline& operator=(const SearchDeadline&) = delete;

  bool passed() const { return std::chrono::steady_clock::now() > deadline_; }

 private:
  Connection& c_;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
};

// lastKey: the sort value and id of the last object of a page, as opaque
// base64url(JSON [value, id]).
std::string encode_cursor(const sqlite::SqlValue& sort_value, const std::string& id) {
  json::array cursor;
  std::visit([&](const auto& v) { cursor.emplace_back(v); }, sort_value);
  cursor.emplace_back(id);
  return crypto::base64url_encode(to_json(cursor));
}

Result<std::pair<sqlite::SqlValue, std::string>> decode_cursor(std::string_view key) {
  const Error bad = invalid_input("Invalid lastKey: pass back the lastKey of a previous page.");
  auto text = crypto::base64url_decode(key);
  if (!text) return bad;
  auto cursor = parse_json(*text);
  if (!cursor || !cursor->is_array() || cursor->get_array().size() != 2) return bad;
  const auto& v = cursor->get_array()[0];
  const auto& id = cursor->get_array()[1];
  if (!id.is_string()) return bad;
  sqlite::SqlValue value;
  if (v.is_int64()) {
    value = v.get_int64();
  } else if (v.is_double()) {
    value = v.get_double();
  } else if (v.is_string()) {
    value = std::string(v.get_string());
  } else {
    return bad;
  }
  return std::make_pair(std::move(value), std::string(id.get_string()));
}

// ` AND o.id NOT IN (...)` (or on `column`) for the excluded ids.
void exclude_ids(sqlite::SqlFragment& f, const SearchRequest& r, std::string_view column) {
  if (r.exclude_ids.empty()) return;
  f.sql += " AND " + std::string(column) + " NOT IN (";
  for (std::size_t i = 0; i < r.exclude_ids.size(); ++i) {
    f.sql += i ? ", ?" : "?";
    f.params.emplace_back(r.exclude_ids[i]);
  }
  f.sql += ")";
}

// The places of app `appid` (and `type`) within the distance, as a
// subquery with columns obj, timestamp, id: the points in the rectangles
// around the circle, checked by distance.
sqlite::SqlFragment places_near(std::string_view appid, std::string_view type,
                                const GeoFilter& near) {
  sqlite::SqlFragment f{"(", {}};
  const std::int64_t app_key = sqlite::place_key(appid);
  for (const auto& box : sqlite::bounding_boxes(near.lat, near.lng, near.radius_km)) {
    if (!f.params.empty()) f.sql += " UNION ALL ";
    // The distance first: it reads the tree's own coordinates, while app
    // and type (checked because keys may collide) need a lookup each.
    f.sql +=
        "SELECT obj, timestamp, id FROM object_places WHERE max_lat >= ? AND min_lat <= ? AND "
        "max_lng >= ? AND min_lng <= ? AND min_app = ?";
    f.params.insert(f.params.end(), {std::int64_t{sqlite::place_units(box.min_lat) - 1},
                                     std::int64_t{sqlite::place_units(box.max_lat) + 1},
                                     std::int64_t{sqlite::place_units(box.min_lng) - 1},
                                     std::int64_t{sqlite::place_units(box.max_lng) + 1}, app_key});
    if (!type.empty()) {
      f.sql += " AND min_type = ?";
      f.params.emplace_back(sqlite::place_key(type));
    }
    f.sql += " AND para_distance_km(min_lat / 1e7, min_lng / 1e7, ?, ?) <= ? AND appid = ?";
    f.params.insert(f.params.end(), {near.lat, near.lng, near.radius_km});
    f.params.emplace_back(std::string(appid));
    if (!type.empty()) {
      f.sql += " AND type = ?";
      f.params.emplace_back(std::string(type));
    }
  }
  f.sql += ")";
  return f;
}

// FROM and WHERE of a search over the objects: the app's partition, the
// type, the query (`where`, its translation), the distance and the exclusions.
sqlite::SqlFragment search_scope(std::string_view appid, const SearchRequest& r,
                                 const sqlite::SqlFragment& where) {
  sqlite::SqlFragment f{" FROM ", {}};
  if (r.near) {
    f.append(places_near(appid, r.type, *r.near));
    f.sql += " g CROSS JOIN objects o ON o.rowid = g.obj";
  } else {
    f.sql += "objects o";
  }
  f.sql += " WHERE o.appid = ?";
  f.params.emplace_back(std::string(appid));
  if (!r.type.empty()) {
    f.sql += " AND o.type = ?";
    f.params.emplace_back(r.type);
  }
  if (!std::holds_alternative<search::MatchAll>(r.query)) {
    f.sql += " AND ";
    f.append(where);
  }
  exclude_ids(f, r, "o.id");
  return f;
}

// Where a search finds its matches, and what the page and the count read.
// By default the objects (alias o); sorted by timestamp, narrower sources
// that hold everything a page needs:
//   - postings (alias p) for one tag or custom-field condition, or a
//     conjunction of them, in timestamp order;
//   - FTS5 and object_keys (alias k) for a query of words only;
//   - the places index (alias g) for a nearby search with no other condition.
struct MatchSource {
  sqlite::SqlFragment from_where;  // " FROM ... WHERE ..."
  sqlite::SqlFragment counted;     // " FROM <counts table> WHERE ...", if there is one
  std::string rowid;               // the object's rowid
  sqlite::SqlFragment key;         // the sort value, never NULL
  std::string id;
  bool distinct = false;       // an object can appear more than once
  bool in_sort_order = false;  // its index yields the matches in the order of the sort
};

MatchSource postings_source(const SearchRequest& r, const sqlite::Postings& postings) {
  MatchSource s{{" FROM " + postings.table + " p WHERE ", {}},
                {},
                "p.obj",
                {"p.timestamp", {}},
                "p.id",
                postings.may_repeat,
                true};
  s.from_where.append(postings.where);
  if (!postings.counts_table.empty() && r.exclude_ids.empty()) {
    s.counted = {" FROM " + postings.counts_table + " p WHERE ", {}};
    s.counted.append(postings.where);
  }
  exclude_ids(s.from_where, r, "p.id");
  return s;
}

MatchSource words_source(std::string_view appid, const SearchRequest& r,
                         const std::string& fts_query) {
  MatchSource s{{" FROM objects_fts JOIN object_keys k ON k.obj = objects_fts.rowid "
                 "WHERE objects_fts MATCH ? AND k.appid = ?",
                 {fts_query, std::string(appid)}},
                {},
                "k.obj",
                {"k.timestamp", {}},
                "k.id"};
  if (!r.type.empty()) {
    s.from_where.sql += " AND k.type = ?";
    s.from_where.params.emplace_back(r.type);
  }
  exclude_ids(s.from_where, r, "k.id");
  return s;
}

MatchSource places_source(std::string_view appid, const SearchRequest& r) {
  MatchSource s{{" FROM ", {}}, {}, "g.obj", {"g.timestamp", {}}, "g.id"};
  s.from_where.append(places_near(appid, r.type, *r.near));
  s.from_where.sql += " g WHERE true";
  exclude_ids(s.from_where, r, "g.id");
  return s;
}

Result<MatchSource> match_source(std::string_view appid, const SearchRequest& r) {
  sqlite::Translation query = sqlite::translate(r.query, appid, r.type);
  if (r.sort_field.empty() || r.sort_field == "timestamp") {
    if (!r.near && query.postings) return postings_source(r, *query.postings);
    if (!r.near && query.text_only) return words_source(appid, r, *query.text_only);
    if (r.near && std::holds_alternative<search::MatchAll>(r.query)) return places_source(appid, r);
  }
  auto sort = sqlite::sort_expression(r.sort_field);
  if (!sort) return sort.error();
  // Columns are never NULL, so a column sort can follow an index; a JSON
  // field may be absent and sorts as ''.
  if (!sort->sql.starts_with("o.")) sort->sql = "ifnull(" + sort->sql + ", '')";
  return MatchSource{search_scope(appid, r, query.where), {}, "o.rowid", std::move(*sort), "o.id"};
}

// How many objects match: from kept counts when nothing filters or one tag
// does, else by counting the source's rows.
Result<std::int64_t> count_matches(Connection& c, std::string_view appid, const SearchRequest& r,
                                   const MatchSource& source) {
  sqlite::SqlFragment count;
  if (std::holds_alternative<search::MatchAll>(r.query) && !r.near && r.exclude_ids.empty()) {
    count = {"SELECT coalesce(sum(n), 0) FROM object_counts WHERE appid = ?", {std::string(appid)}};
    if (!r.type.empty()) {
      count.sql += " AND type = ?";
      count.params.emplace_back(r.type);
    }
  } else if (!source.counted.sql.empty()) {
    count.sql = "SELECT coalesce(sum(p.n), 0)";
    count.append(source.counted);
  } else {
    count.sql = source.distinct ? "SELECT count(DISTINCT " + source.rowid + ")" : "SELECT count(*)";
    count.append(source.from_where);
  }
  auto stmt = c.prepare_dynamic(count.sql);
  if (!stmt) return stmt.error();
  stmt->bind_all(count.params);
  if (int rc = stmt->step(); rc != SQLITE_ROW) return sqlite_error(c.handle(), rc, "count");
  return stmt->integer(0);
}

// Logs, at most every `interval`, that an upgrade step is still running;
// SQLite calls it back every kHeartbeatSteps virtual-machine instructions.
struct UpgradeHeartbeat {
  static constexpr int kHeartbeatSteps = 1000;
  std::int64_t version;
  std::chrono::milliseconds interval;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_said = started;

  static int on_progress(void* self) {
    auto* h = static_cast<UpgradeHeartbeat*>(self);
    auto now = std::chrono::steady_clock::now();
    if (now - h->last_said >= h->interval) {
      h->last_said = now;
      spdlog::info("store: still upgrading the schema to version {} ({} s so far)", h->version,
                   std::chrono::duration_cast<std::chrono::seconds>(now - h->started).count());
    }
    return 0;  // never interrupt
  }
};

Status migrate(Connection& c, std::chrono::milliseconds heartbeat) {
  std::int64_t version = 0;
  {
    auto stmt = c.prepare("PRAGMA user_version");
    if (!stmt) return stmt.error();
    if (int rc = stmt->step(); rc != SQLITE_ROW)
      return sqlite_error(c.handle(), rc, "user_version");
    version = stmt->integer(0);
  }
  if (version > kSchemaVersion) {
    return internal_error("The database was written by a newer para-server (schema " +
                          std::to_string(version) + "); refusing to open it.");
  }
  for (std::int64_t step = version; step < kSchemaVersion; ++step) {
    // Steps that rebuild an index take a while on a large database: say so.
    if (version > 0) spdlog::info("store: upgrading the schema to version {}...", step + 1);
    UpgradeHeartbeat alive{step + 1, heartbeat};
    if (version > 0) {
      sqlite3_progress_handler(c.handle(), UpgradeHeartbeat::kHeartbeatSteps,
                               UpgradeHeartbeat::on_progress, &alive);
    }
    std::string sql = std::string("BEGIN; ") + kMigrations[step] +
                      "PRAGMA user_version = " + std::to_string(step + 1) + "; COMMIT;";
    Status st = c.exec(sql);
    sqlite3_progress_handler(c.handle(), 0, nullptr, nullptr);
    if (!st) {
      (void)c.exec("ROLLBACK");
      return st;
    }
    if (version > 0) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - alive.started);
      spdlog::info("store: schema version {} in {} ms", step + 1, ms.count());
    }
  }
  return {};
}

// A read transaction on a reader: the statements of one search see one
// state of the store, so its page and its total agree.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Connection& c) : c_(c) {}
  ~ReadSnapshot() {
    if (!open_) return;
    c_.clear_deadline();  // a search's time limit must not stop the end of its snapshot
    if (auto commit = c_.prepare("COMMIT")) (void)commit->step();
    // Never hand the connection back inside a transaction.
    if (!sqlite3_get_autocommit(c_.handle())) (void)c_.exec("ROLLBACK");
  }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;

  Status begin() {
    auto stmt = c_.prepare("BEGIN");
    if (!stmt) return stmt.error();
    if (int rc = stmt->step(); rc != SQLITE_DONE) return sqlite_error(c_.handle(), rc, "begin");
    open_ = true;
    return {};
  }

 private:
  Connection& c_;
  bool open_ = false;
};

// Whether one scan of the matches through a PageSelection answers the
// request, instead of a sorted page and a count: the matches come in no
// order of the sort (unlike postings, or a listing, which an index keeps in
// timestamp order with counts beside it), so both the page and the count
// would visit every match; and the sort is by an integer column.
bool selects_in_one_pass(const SearchRequest& r, const MatchSource& s) {
  const bool listing =
      std::holds_alternative<search::MatchAll>(r.query) && !r.near && r.exclude_ids.empty();
  return !listing && !s.in_sort_order && !s.distinct &&
         sqlite::sorts_by_integer_column(r.sort_field);
}

// One result: the stored client JSON as it is, or the object from its storage JSON.
Status add_to_page(SearchPage& page, bool client_json, std::string_view text) {
  if (client_json) {
    page.client_json.emplace_back(text);
    return {};
  }
  auto object = object_from_storage(text);
  if (!object) return object.error();
  page.items.push_back(std::move(*object));
  return {};
}

constexpr const char* kClientJsonByRowid =
    "SELECT coalesce(client_json, para_client_json(json)) FROM objects WHERE rowid = ?1";
constexpr const char* kJsonByRowid = "SELECT json FROM objects WHERE rowid = ?1";

// How a search reads the rows of its page: clients' JSON from the object
// cache where it holds them, else (and all stored JSON) from the table.
struct PageReads {
  std::string_view appid;
  bool client_json;
  sqlite::ObjectCache& cache;
  sqlite::ObjectCache::Ticket ticket;  // taken before the search's snapshot began
};

// Adds the rows (rowid, id), in order, to the page.
template <class Rows>
Status read_page_rows(Connection& c, const PageReads& reads, const Rows& rows, SearchPage& page) {
  std::optional<Statement> fetch;
  for (const auto& row : rows) {
    if (reads.client_json) {
      if (auto cached = reads.cache.find(reads.ticket, reads.appid, row.id)) {
        page.client_json.push_back(std::move(*cached));
        continue;
      }
    }
    if (!fetch) {
      auto prepared = c.prepare(reads.client_json ? kClientJsonByRowid : kJsonByRowid);
      if (!prepared) return prepared.error();
      fetch.emplace(std::move(*prepared));
    }
    fetch->bind(1, row.rowid);
    int rc = fetch->step();
    if (rc == SQLITE_ROW) {
      if (reads.client_json) reads.cache.insert(reads.ticket, reads.appid, row.id, fetch->text(0));
      if (auto st = add_to_page(page, reads.client_json, fetch->text(0)); !st) return st;
    } else if (rc != SQLITE_DONE) {
      return sqlite_error(c.handle(), rc, "search");
    }
    fetch->reset();
  }
  return {};
}

Result<SearchPage> select_in_one_pass(Connection& c, const PageReads& reads, const SearchRequest& r,
                                      const MatchSource& s) {
  std::optional<sqlite::PageCursor> cursor;
  if (!r.after.empty()) {
    auto decoded = decode_cursor(r.after);
    if (!decoded) return decoded.error();
    cursor = sqlite::PageCursor{std::move(decoded->first), std::move(decoded->second)};
  }
  const auto skip = static_cast<std::size_t>(cursor ? 0 : r.offset);
  sqlite::PageSelection selection(skip + static_cast<std::size_t>(r.limit), r.descending,
                                  std::move(cursor));
  // The first parameter is the selection; it is bound as a pointer below.
  sqlite::SqlFragment scan{
      "SELECT para_select_page(" + s.key.sql + ", " + s.id + ", " + s.rowid + ", ?)", s.key.params};
  scan.params.emplace_back(std::int64_t{0});
  const int selection_index = static_cast<int>(scan.params.size());
  scan.append(s.from_where);
  {
    auto stmt = c.prepare_dynamic(scan.sql);
    if (!stmt) return stmt.error();
    stmt->bind_all(scan.params);
    stmt->bind_pointer(selection_index, &selection, kPageSelectionPointer);
    if (int rc = stmt->step(); rc != SQLITE_ROW) return sqlite_error(c.handle(), rc, "search");
  }

  SearchPage page;
  page.total = selection.matches();
  auto rows = std::move(selection).page(skip);
  if (auto st = read_page_rows(c, reads, rows, page); !st) return st.error();
  if (!rows.empty()) page.last_key = encode_cursor(rows.back().key, rows.back().id);
  return page;
}

// A page in two steps: the rowids of the page, in order, from whatever
// index finds the matches (sorting them if it must); then only those rows'
// JSON. Ties in the sort value are broken by id, so the order is total and a
// cursor (sort value, id) marks an exact position. The total is counted
// apart, unless the first page holds every match.
Result<SearchPage> select_sorted(Connection& c, const PageReads& reads,
                                 const SearchRequest& request, const MatchSource& s) {
  SearchPage page;
  const std::string dir = request.descending ? " DESC" : " ASC";
  sqlite::SqlFragment inner{std::string("SELECT ") + (s.distinct ? "DISTINCT " : "") + s.rowid +
                                " AS r, " + s.key.sql + " AS k, " + s.id + " AS i",
                            s.key.params};
  inner.append(s.from_where);
  if (!request.after.empty()) {
    auto cursor = decode_cursor(request.after);
    if (!cursor) return cursor.error();
    inner.sql += " AND (";
    inner.append(s.key);
    inner.sql += ", " + s.id + ") " + (request.descending ? "<" : ">") + " (?, ?)";
    inner.params.push_back(cursor->first);
    inner.params.emplace_back(cursor->second);
  }
  inner.sql += " ORDER BY k" + dir + ", i" + dir + " LIMIT ? OFFSET ?";
  inner.params.emplace_back(request.limit);
  inner.params.emplace_back(request.after.empty() ? request.offset : 0);

  struct PageRow {
    std::int64_t rowid;
    std::string id;
  };
  std::vector<PageRow> rows;
  sqlite::SqlValue last_value;
  {
    auto stmt = c.prepare_dynamic(inner.sql);
    if (!stmt) return stmt.error();
    stmt->bind_all(inner.params);
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW) {
      rows.push_back(PageRow{stmt->integer(0), std::string(stmt->text(2))});
      last_value = stmt->value(1);
    }
    if (rc != SQLITE_DONE) return sqlite_error(c.handle(), rc, "search");
  }
  if (auto st = read_page_rows(c, reads, rows, page); !st) return st.error();
  if (!rows.empty()) page.last_key = encode_cursor(last_value, rows.back().id);
  // A first page that is not full holds every match: no need to count.
  const std::int64_t returned =
      static_cast<std::int64_t>(page.items.size() + page.client_json.size());
  if (request.after.empty() && request.offset == 0 && returned < request.limit) {
    page.total = returned;
    return page;
  }
  auto total = count_matches(c, reads.appid, request, s);
  if (!total) return total.error();
  page.total = *total;
  return page;
}

// One search on a reader: its page, or only its total.
Result<SearchPage> search_on(Connection& c, const PageReads& reads, const SearchRequest& request,
                             const MatchSource& source) {
  ReadSnapshot snapshot(c);
  if (auto st = snapshot.begin(); !st) return st.error();
  if (request.count_only || request.limit <= 0) {
    auto total = count_matches(c, reads.appid, request, source);
    if (!total) return total.error();
    SearchPage page;
    page.total = *total;
    return page;
  }
  if (selects_in_one_pass(request, source)) return select_in_one_pass(c, reads, request, source);
  return select_sorted(c, reads, request, source);
}

Result<SearchPage> SqliteStore::search(std::string_view appid, const SearchRequest& request) {
  auto source = match_source(appid, request);
  if (!source) return source.error();
  auto reader = borrow_reader();
  const PageReads reads{appid, request.client_json, object_cache_, object_cache_.ticket()};
  SearchDeadline deadline(*reader.conn, search_timeout_);
  auto page = search_on(*reader.conn, reads, request, *source);
  if (!page && deadline.passed()) {
    return invalid_input("The search was stopped after " + std::to_string(search_timeout_.count()) +
                         " ms; narrow it (fewer wildcards, OR clauses or matches).");
  }
  return page;
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const StoreOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    return unavailable("Cannot create data directory " + options.data_dir + ": " + ec.message());
  const std::string path = (std::filesystem::path(options.data_dir) / "para.db").string();
  configure_sqlite_library();
  auto writer = Connection::open(path, options);
  if (!writer) return writer.error();
  if (auto st = migrate(**writer, options.upgrade_heartbeat); !st) return st.error();
  (void)(*writer)->exec(kAnalyze);
  std::vector<std::unique_ptr<Connection>> readers;
  const unsigned count = std::max(4u, 2 * std::thread::hardware_concurrency());
  for (unsigned i = 0; i < count; ++i) {
    auto reader = Connection::open(path, options);
    if (!reader) return reader.error();
    readers.push_back(std::move(*reader));
  }
  spdlog::info("store: SQLite {} (WAL, synchronous={}, {} readers)", path,
               options.sync_full ? "full" : "normal", count);
  const auto cache_bytes = static_cast<std::size_t>(std::max(0, options.object_cache_mb)) << 20;
  return std::unique_ptr<Store>(
      new SqliteStore(std::move(*writer), std::move(readers), cache_bytes,
                      std::chrono::milliseconds(std::max(0, options.search_timeout_ms))));
}

}  // namespace para
