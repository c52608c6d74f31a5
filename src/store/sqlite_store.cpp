// The embedded store: one SQLite database file in WAL mode.
//
// Concurrency: one writer connection behind a mutex (SQLite allows one writer
// at a time anyway; queueing here avoids SQLITE_BUSY retries) and a pool of
// reader connections, which WAL lets run in parallel with the writer.
// Every connection caches its prepared statements.
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <unordered_map>

#include "store/store.h"

namespace para {
namespace {

constexpr int kSchemaVersion = 1;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS objects (
  appid     TEXT NOT NULL,
  id        TEXT NOT NULL,
  type      TEXT NOT NULL,
  name      TEXT,
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
CREATE INDEX IF NOT EXISTS objects_by_name ON objects (appid, type, name);
)sql";

constexpr const char* kSelectOne = "SELECT json FROM objects WHERE appid = ?1 AND id = ?2";
constexpr const char* kInsert =
    "INSERT INTO objects (appid, id, type, name, parentid, creatorid, timestamp, updated, "
    "version, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING";
constexpr const char* kUpsert =
    "INSERT INTO objects (appid, id, type, name, parentid, creatorid, timestamp, updated, "
    "version, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
    "ON CONFLICT (appid, id) DO UPDATE SET type = ?3, name = ?4, parentid = ?5, "
    "creatorid = ?6, timestamp = ?7, updated = ?8, version = ?9, json = ?10";
constexpr const char* kReplaceIfVersion =
    "UPDATE objects SET type = ?3, name = ?4, parentid = ?5, creatorid = ?6, timestamp = ?7, "
    "updated = ?8, version = ?9, json = ?10 WHERE appid = ?1 AND id = ?2 AND version = ?11";
constexpr const char* kExists = "SELECT 1 FROM objects WHERE appid = ?1 AND id = ?2";
constexpr const char* kDelete = "DELETE FROM objects WHERE appid = ?1 AND id = ?2";
constexpr const char* kDeletePartition = "DELETE FROM objects WHERE appid = ?1";
constexpr const char* kListAllNewest =
    "SELECT json FROM objects WHERE appid = ?1 ORDER BY timestamp DESC, id DESC LIMIT ?2 OFFSET ?3";
constexpr const char* kListAllOldest =
    "SELECT json FROM objects WHERE appid = ?1 ORDER BY timestamp ASC, id ASC LIMIT ?2 OFFSET ?3";
constexpr const char* kListTypeNewest =
    "SELECT json FROM objects WHERE appid = ?1 AND type = ?4 "
    "ORDER BY timestamp DESC, id DESC LIMIT ?2 OFFSET ?3";
constexpr const char* kListTypeOldest =
    "SELECT json FROM objects WHERE appid = ?1 AND type = ?4 "
    "ORDER BY timestamp ASC, id ASC LIMIT ?2 OFFSET ?3";
constexpr const char* kCountAll = "SELECT count(*) FROM objects WHERE appid = ?1";
constexpr const char* kCountType = "SELECT count(*) FROM objects WHERE appid = ?1 AND type = ?2";

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
  void bind_optional(int index, std::string_view text) {
    if (text.empty()) {
      sqlite3_bind_null(stmt_, index);
    } else {
      bind(index, text);
    }
  }
  void bind(int index, std::int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  int step() { return sqlite3_step(stmt_); }
  std::string_view text(int column) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
             : std::string_view();
  }
  std::int64_t integer(int column) { return sqlite3_column_int64(stmt_, column); }

 private:
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  static Result<std::unique_ptr<Connection>> open(const std::string& path, bool sync_full) {
    sqlite3* db = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    auto conn = std::unique_ptr<Connection>(new Connection(db));
    if (rc != SQLITE_OK) return sqlite_error(db, rc, "cannot open " + path);
    sqlite3_busy_timeout(db, 10000);
    std::string pragmas = "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; ";
    pragmas += sync_full ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = NORMAL;";
    if (auto st = conn->exec(pragmas); !st) return st.error();
    return conn;
  }

  ~Connection() {
    for (auto& [sql, stmt] : statements_)
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

  sqlite3* handle() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
};

class SqliteStore final : public Store {
 public:
  SqliteStore(std::unique_ptr<Connection> writer, std::vector<std::unique_ptr<Connection>> readers)
      : writer_(std::move(writer)) {
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

  Result<std::vector<WriteOutcome>> write(std::span<const WriteOp> ops,
                                          Atomicity atomicity) override {
    std::lock_guard lock(writer_mutex_);
    Connection& c = *writer_;
    if (auto st = c.exec("BEGIN IMMEDIATE"); !st) return st.error();
    std::vector<WriteOutcome> outcomes;
    outcomes.reserve(ops.size());
    for (const auto& op : ops) {
      auto outcome = apply(c, op);
      if (!outcome) {
        (void)c.exec("ROLLBACK");
        return outcome.error();
      }
      outcomes.push_back(*outcome);
      if (*outcome != WriteOutcome::kApplied && atomicity == Atomicity::kAllOrNothing) {
        if (auto st = c.exec("ROLLBACK"); !st) return st.error();
        return outcomes;
      }
    }
    if (auto st = c.exec("COMMIT"); !st) {
      (void)c.exec("ROLLBACK");
      return st.error();
    }
    return outcomes;
  }

  Result<ObjectPage> list(std::string_view appid, const ListQuery& query) override {
    auto reader = borrow_reader();
    Connection& c = *reader.conn;
    ObjectPage page;
    const bool typed = !query.type.empty();
    {
      auto count = c.prepare(typed ? kCountType : kCountAll);
      if (!count) return count.error();
      count->bind(1, appid);
      if (typed) count->bind(2, query.type);
      if (int rc = count->step(); rc != SQLITE_ROW) return sqlite_error(c.handle(), rc, "count");
      page.total = count->integer(0);
    }
    const char* sql = typed ? (query.newest_first ? kListTypeNewest : kListTypeOldest)
                            : (query.newest_first ? kListAllNewest : kListAllOldest);
    auto stmt = c.prepare(sql);
    if (!stmt) return stmt.error();
    stmt->bind(1, appid);
    stmt->bind(2, query.limit);
    stmt->bind(3, query.offset);
    if (typed) stmt->bind(4, query.type);
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW) {
      auto object = object_from_storage(stmt->text(0));
      if (!object) return object.error();
      page.items.push_back(std::move(*object));
    }
    if (rc != SQLITE_DONE) return sqlite_error(c.handle(), rc, "list");
    return page;
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
    std::unique_lock lock(readers_mutex_);
    readers_available_.wait(lock, [this] { return !free_readers_.empty(); });
    Connection* c = free_readers_.back();
    free_readers_.pop_back();
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

  static void bind_object(Statement& s, const ParaObject& o, const std::string& json) {
    s.bind(1, o.appid);
    s.bind(2, o.id);
    s.bind(3, o.type);
    s.bind_optional(4, o.name);
    s.bind_optional(5, o.parentid);
    s.bind_optional(6, o.creatorid);
    s.bind(7, o.timestamp);
    s.bind(8, o.updated);
    s.bind(9, o.version);
    s.bind(10, json);
  }

  static Result<WriteOutcome> apply(Connection& c, const WriteOp& op) {
    const ParaObject& o = op.object;
    if (op.kind == WriteOp::Kind::kDelete || op.kind == WriteOp::Kind::kDeletePartition) {
      const bool one = op.kind == WriteOp::Kind::kDelete;
      auto stmt = c.prepare(one ? kDelete : kDeletePartition);
      if (!stmt) return stmt.error();
      stmt->bind(1, o.appid);
      if (one) stmt->bind(2, o.id);
      if (int rc = stmt->step(); rc != SQLITE_DONE) return sqlite_error(c.handle(), rc, "delete");
      // Emptying a partition succeeds even when it was empty already.
      return !one || sqlite3_changes(c.handle()) ? WriteOutcome::kApplied : WriteOutcome::kMissing;
    }
    const std::string json = to_storage_json(o);
    const char* sql = op.kind == WriteOp::Kind::kInsert   ? kInsert
                      : op.kind == WriteOp::Kind::kUpsert ? kUpsert
                                                          : kReplaceIfVersion;
    {
      auto stmt = c.prepare(sql);
      if (!stmt) return stmt.error();
      bind_object(*stmt, o, json);
      if (op.kind == WriteOp::Kind::kReplaceIfVersion) stmt->bind(11, op.expected_version);
      if (int rc = stmt->step(); rc != SQLITE_DONE) return sqlite_error(c.handle(), rc, "write");
    }
    if (sqlite3_changes(c.handle()) > 0) return WriteOutcome::kApplied;
    if (op.kind == WriteOp::Kind::kInsert) return WriteOutcome::kAlreadyExists;
    auto exists = read_exists(c, o.appid, o.id);
    if (!exists) return exists.error();
    return *exists ? WriteOutcome::kVersionMismatch : WriteOutcome::kMissing;
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

  std::mutex writer_mutex_;
  std::unique_ptr<Connection> writer_;  // guarded by writer_mutex_

  std::mutex readers_mutex_;
  std::condition_variable readers_available_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::vector<Connection*> free_readers_;  // guarded by readers_mutex_
};

Status migrate(Connection& c) {
  auto stmt = c.prepare("PRAGMA user_version");
  if (!stmt) return stmt.error();
  if (int rc = stmt->step(); rc != SQLITE_ROW) return sqlite_error(c.handle(), rc, "user_version");
  std::int64_t version = stmt->integer(0);
  if (version > kSchemaVersion) {
    return internal_error("The database was written by a newer para-server (schema " +
                          std::to_string(version) + "); refusing to open it.");
  }
  if (auto st = c.exec(std::string("BEGIN; ") + kSchema +
                       "PRAGMA user_version = " + std::to_string(kSchemaVersion) + "; COMMIT;");
      !st) {
    (void)c.exec("ROLLBACK");
    return st;
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const StoreOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    return unavailable("Cannot create data directory " + options.data_dir + ": " + ec.message());
  const std::string path = (std::filesystem::path(options.data_dir) / "para.db").string();
  auto writer = Connection::open(path, options.sync_full);
  if (!writer) return writer.error();
  if (auto st = migrate(**writer); !st) return st.error();
  std::vector<std::unique_ptr<Connection>> readers;
  const unsigned count = std::max(4u, 2 * std::thread::hardware_concurrency());
  for (unsigned i = 0; i < count; ++i) {
    auto reader = Connection::open(path, options.sync_full);
    if (!reader) return reader.error();
    readers.push_back(std::move(*reader));
  }
  spdlog::info("store: SQLite {} (WAL, synchronous={}, {} readers)", path,
               options.sync_full ? "full" : "normal", count);
  return std::unique_ptr<Store>(new SqliteStore(std::move(*writer), std::move(readers)));
}

}  // namespace para
