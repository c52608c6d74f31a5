#include "objects/object_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/types.h"

namespace para {
namespace {

// Concurrent writers to one object are resolved by compare-and-set on its
// version; a writer that did not ask for locking re-reads and tries again.
constexpr int kMaxWriteAttempts = 8;

const Error kVersionMismatch{ErrorKind::kPreconditionFailed,
                             "Update failed due to 'version' mismatch."};

Error object_not_found(std::string_view id) {
  return not_found("Object not found: " + std::string(id));
}

Error busy_object(std::string_view id) {
  return Error{ErrorKind::kConflict,
               "Object " + std::string(id) + " is being changed concurrently; try again."};
}

Status check_id(std::string_view id) {
  if (id.size() > 256) return invalid_input("Field 'id' must be at most 256 bytes long.");
  for (unsigned char c : id) {
    if (c < 0x20 || c == 0x7F)
      return invalid_input("Field 'id' must not contain control characters.");
  }
  if (id.starts_with("app:"))
    return invalid_input("Ids starting with 'app:' are reserved for apps.");
  return {};
}

// Constraints of the core types that Para validates on every write.
Status check_core_constraints(const ParaObject& o) {
  if (o.type != "user") return {};
  std::string missing;
  for (const char* field : {"identifier", "email"}) {
    auto it = o.fields.find(field);
    if (it == o.fields.end() || !it->value().is_string() || it->value().get_string().empty()) {
      missing += std::string(missing.empty() ? "" : " ") + "'" + field + "' must not be blank.";
    }
  }
  return missing.empty() ? Status() : Status(invalid_input(missing));
}

}  // namespace

ObjectService::ObjectService(Store& store, AppDirectory& apps, IdGenerator& ids)
    : store_(store), apps_(apps), ids_(ids) {}

void ObjectService::set_hooks(std::string type, TypeHooks* hooks) {
  hooks_[std::move(type)] = hooks;
}

std::mutex& ObjectService::lock_for(std::string_view appid, std::string_view id) {
  std::size_t h = std::hash<std::string_view>{}(appid)*31 + std::hash<std::string_view>{}(id);
  return object_locks_[h % object_locks_.size()];
}

TypeHooks* ObjectService::hooks_for(std::string_view type) const {
  auto it = hooks_.find(type);
  return it == hooks_.end() ? nullptr : it->second;
}

Status ObjectService::check_type_change(const ParaObject& stored, std::string_view new_type) const {
  // Hooks own resources outside the store (an IoT device): an object cannot
  // silently become or stop being of such a type.
  if (stored.type == new_type || (!hooks_for(stored.type) && !hooks_for(new_type))) return {};
  return Error{ErrorKind::kConflict, "Object " + stored.id + " is a '" + stored.type +
                                         "'; it cannot be replaced by a '" + std::string(new_type) +
                                         "'. Delete it first."};
}

std::string_view ObjectService::partition_of(const App& app, std::string_view id) const {
  // An app's own record lives in the root app's partition.
  return id == app.id() ? std::string_view(apps_.root_identifier())
                        : std::string_view(app.identifier);
}

Status ObjectService::check_new_object(const ParaObject& object) const {
  if (!is_valid_type_name(object.type)) {
    return invalid_input("Invalid type '" + object.type +
                         "': use 1 to 64 letters, digits, '-' or '_', not starting with '_'.");
  }
  if (object.type == "app") {
    return invalid_input("Apps are created with GET /v1/_setup/{name}, not through this endpoint.");
  }
  if (object.version < 0) return invalid_input("Field 'version' must not be negative.");
  if (auto st = check_id(object.id); !st) return st;
  return check_core_constraints(object);
}

Result<ParaObject> ObjectService::read_stored(const App& app, std::string_view id) {
  auto found = store_.get(partition_of(app, id), id);
  if (!found) return found.error();
  if (!*found) return object_not_found(id);
  return std::move(**found);
}

Result<std::vector<WriteOutcome>> ObjectService::commit(const App& app,
                                                        std::span<const WriteOp> ops,
                                                        Store::Atomicity atomicity) {
  // The first objects of a custom type register the type in the app record,
  // in the same transaction, so /v1/_types never misses a stored type.
  std::vector<std::string> types;
  for (const auto& op : ops)
    types.push_back(op.object.type);
  auto registration = apps_.type_registration(app, types);
  if (!registration) return registration.error();
  if (!*registration) return store_.write(ops, atomicity);
  // Concurrent first objects of new types would otherwise fail each other's
  // compare-and-set of the app record, which then only guards against other
  // nodes.
  std::lock_guard serialised(
      type_locks_[std::hash<std::string_view>{}(app.identifier) % type_locks_.size()]);
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    auto current = apps_.find(app.identifier);  // as the previous holder of the lock left it
    if (!current) return current.error();
    registration = apps_.type_registration(**current, types);
    if (!registration) return registration.error();
    if (!*registration) return store_.write(ops, atomicity);
    std::vector<WriteOp> all;
    all.reserve(ops.size() + 1);
    all.push_back(std::move(**registration));
    all.front().required = true;
    all.insert(all.end(), ops.begin(), ops.end());
    auto outcomes = store_.write(all, atomicity);
    apps_.forget(app.identifier);
    if (!outcomes) return outcomes.error();
    if (outcomes->front() == WriteOutcome::kApplied) {
      outcomes->erase(outcomes->begin());
      return outcomes;
    }
    // The app record changed under us (another node) and nothing was
    // committed: the next attempt reloads it.
  }
  return Error{ErrorKind::kConflict, "The app is being changed concurrently; try again."};
}

Result<WriteOutcome> ObjectService::commit_one(const App& app, const WriteOp& op) {
  auto outcomes = commit(app, std::span(&op, 1), Store::Atomicity::kAllOrNothing);
  if (!outcomes) return outcomes.error();
  return outcomes->empty() ? WriteOutcome::kVersionMismatch : outcomes->front();
}

Result<ParaObject> ObjectService::create(const App& app, ParaObject object) {
  object.appid = app.identifier;
  if (object.timestamp <= 0) object.timestamp = epoch_millis();
  if (object.id.empty()) {
    object.id = ids_.next();
    if (auto st = check_new_object(object); !st) return st.error();
    return create_with_hooks(app, WriteOp{WriteOp::Kind::kUpsert, std::move(object), 0});
  }
  // POST upserts, as in Para; but never over an object whose type has hooks:
  // that is an insert, checked and made under the object's lock, so two
  // POSTs of one id never both provision a device (two valid certificates).
  std::lock_guard serialised(lock_for(app.identifier, object.id));
  auto stored = store_.get(app.identifier, object.id);
  if (!stored) return stored.error();
  const bool hooked = hooks_for(object.type) != nullptr;
  if (*stored) {
    if (auto st = check_type_change(**stored, object.type); !st) return st.error();
    if (hooked) {
      return Error{ErrorKind::kConflict,
                   "Object " + object.id + " already exists; use PATCH or PUT."};
    }
  }
  if (auto st = check_new_object(object); !st) return st.error();
  const auto kind = hooked ? WriteOp::Kind::kInsert : WriteOp::Kind::kUpsert;
  return create_with_hooks(app, WriteOp{kind, std::move(object), 0});
}

Result<ParaObject> ObjectService::create_with_hooks(const App& app, WriteOp op) {
  TypeHooks* hooks = hooks_for(op.object.type);
  if (hooks) {
    if (auto st = hooks->before_create(app, op.object); !st) return st.error();
  }
  auto outcome = commit_one(app, op);
  if (!outcome || *outcome != WriteOutcome::kApplied) {
    if (hooks) hooks->abort_create(app, op.object);
    if (!outcome) return outcome.error();
    return Error{ErrorKind::kConflict, "Object " + op.object.id + " was created concurrently."};
  }
  return std::move(op.object);
}

Result<ParaObject> ObjectService::read(const App& app, std::string_view id) {
  auto object = read_stored(app, id);
  if (!object) return object;
  if (TypeHooks* hooks = hooks_for(object->type)) {
    if (auto st = hooks->after_read(app, *object); !st) return st.error();
  }
  return object;
}

Result<ParaObject> ObjectService::patch(const App& app, std::string_view id,
                                        const json::object& body) {
  if (body.contains("_voteup") || body.contains("_votedown")) {
    return invalid_input("Voting needs a signed-in user (a user JWT); apps cannot vote.");
  }
  std::int64_t client_version = 0;
  if (auto it = body.find("version"); it != body.end() && it->value().is_int64()) {
    client_version = it->value().get_int64();
  }
  std::lock_guard serialised(lock_for(partition_of(app, id), id));
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    auto stored = read_stored(app, id);
    if (!stored) return stored.error();
    if (client_version > 0 && client_version != stored->version) return kVersionMismatch;
    ParaObject updated = *stored;
    if (auto st = apply_patch(updated, body); !st) return st.error();
    if (auto st = check_core_constraints(updated); !st) return st.error();
    updated.updated = epoch_millis();
    updated.version = stored->version + 1;
    if (TypeHooks* hooks = hooks_for(stored->type)) {
      if (auto st = hooks->before_update(app, *stored, updated, body, UpdateKind::kPatch); !st) {
        return st.error();
      }
    }
    WriteOp op{WriteOp::Kind::kReplaceIfVersion, std::move(updated), stored->version};
    auto outcomes = store_.write(std::span(&op, 1));
    if (!outcomes) return outcomes.error();
    if (op.object.type == "app") apps_.forget(op.object.id.substr(4));
    switch ((*outcomes)[0]) {
      case WriteOutcome::kApplied:
        return std::move(op.object);
      case WriteOutcome::kMissing:
        return object_not_found(id);
      case WriteOutcome::kVersionMismatch:
        if (client_version > 0) return kVersionMismatch;
        continue;  // a concurrent writer won; merge into its result
      case WriteOutcome::kAlreadyExists:
        return internal_error("unexpected outcome of an update");
    }
  }
  return busy_object(id);
}

Result<ParaObject> ObjectService::overwrite(const App& app, ParaObject object,
                                            const json::object& body) {
  object.appid = app.identifier;
  if (object.timestamp <= 0) object.timestamp = epoch_millis();
  if (auto st = check_new_object(object); !st) return st.error();
  const std::int64_t client_version = object.version;
  std::lock_guard serialised(lock_for(app.identifier, object.id));
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    auto stored = store_.get(app.identifier, object.id);
    if (!stored) return stored.error();
    if (!*stored) {
      auto created = create_with_hooks(app, WriteOp{WriteOp::Kind::kInsert, object, 0});
      if (created || created.error().kind != ErrorKind::kConflict) return created;
      continue;  // someone created it meanwhile: replace theirs
    }
    const ParaObject& current = **stored;
    if (auto st = check_type_change(current, object.type); !st) return st.error();
    if (client_version > 0 && client_version != current.version) return kVersionMismatch;
    WriteOp op{WriteOp::Kind::kReplaceIfVersion, object, current.version};
    op.object.version = current.version + 1;
    op.object.updated = epoch_millis();
    if (TypeHooks* hooks = hooks_for(current.type)) {
      auto st = hooks->before_update(app, current, op.object, body, UpdateKind::kOverwrite);
      if (!st) return st.error();
    }
    auto outcome = commit_one(app, op);
    if (!outcome) return outcome.error();
    if (*outcome == WriteOutcome::kApplied) return std::move(op.object);
    if (client_version > 0) return kVersionMismatch;
    // Lost a race with another writer of this id: read again and retry.
  }
  return busy_object(object.id);
}

Status ObjectService::remove(const App& app, std::string_view id) {
  std::lock_guard serialised(lock_for(partition_of(app, id), id));
  auto stored = read_stored(app, id);
  if (!stored) return stored.error();
  if (stored->type == "app") return remove_app(*stored);
  if (TypeHooks* hooks = hooks_for(stored->type)) {
    if (auto st = hooks->before_delete(app, *stored); !st) return st;
  }
  WriteOp op{WriteOp::Kind::kDelete, std::move(*stored), 0};
  auto outcomes = store_.write(std::span(&op, 1));
  if (!outcomes) return outcomes.error();
  if (outcomes->back() == WriteOutcome::kMissing) return object_not_found(id);
  return {};
}

Status ObjectService::remove_app(const ParaObject& record) {
  std::string identifier = record.id.substr(4);
  if (identifier == apps_.root_identifier()) return forbidden("The root app cannot be deleted.");
  auto doomed = apps_.find(identifier);
  if (!doomed) return doomed.error();
  // Objects whose types have hooks own resources outside the store (devices):
  // remove them one by one first, so none is orphaned.
  for (const auto& [type, hooks] : hooks_) {
    for (;;) {
      SearchRequest batch;
      batch.type = type;
      batch.limit = 100;
      auto page = store_.search(identifier, batch);
      if (!page) return page.error();
      if (page->items.empty()) break;
      for (auto& object : page->items) {
        if (auto st = hooks->before_delete(**doomed, object); !st) return st;
        WriteOp op{WriteOp::Kind::kDelete, std::move(object), 0};
        if (auto outcome = store_.write(std::span(&op, 1)); !outcome) return outcome.error();
      }
    }
  }
  ParaObject partition;
  partition.appid = identifier;
  std::vector<WriteOp> ops;
  ops.push_back({WriteOp::Kind::kDeletePartition, std::move(partition), 0});
  ops.push_back({WriteOp::Kind::kDelete, record, 0});
  auto outcomes = store_.write(ops);
  apps_.forget(identifier);
  if (!outcomes) return outcomes.error();
  if (outcomes->back() == WriteOutcome::kMissing) return object_not_found(record.id);
  return {};
}

Result<std::vector<ParaObject>> ObjectService::create_all(const App& app,
                                                          std::vector<ParaObject> objects) {
  // Objects with hooks and a client's id are checked and created under their
  // locks, as single POSTs are; taken in address order, so two batches never
  // wait for each other's.
  std::vector<std::mutex*> locks;
  for (const auto& o : objects) {
    if (!o.id.empty() && hooks_for(o.type)) locks.push_back(&lock_for(app.identifier, o.id));
  }
  std::sort(locks.begin(), locks.end());
  locks.erase(std::unique(locks.begin(), locks.end()), locks.end());
  std::vector<std::unique_lock<std::mutex>> held;
  for (std::mutex* m : locks)
    held.emplace_back(*m);
  std::vector<std::string> given_ids;
  for (const auto& o : objects) {
    if (!o.id.empty()) given_ids.push_back(o.id);
  }
  auto existing = store_.get_many(app.identifier, given_ids);
  if (!existing) return existing.error();
  std::vector<WriteOp> ops;
  std::vector<TypeHooks*> hooked;  // parallel to ops
  // New custom types the batch registers: past the app's limit, the objects
  // of further new types are skipped like any invalid item, not the batch.
  std::vector<std::string> new_types;
  const std::int64_t type_slots = apps_.type_slots_left(app);
  for (auto& object : objects) {
    object.appid = app.identifier;
    if (object.id.empty()) object.id = ids_.next();
    if (object.timestamp <= 0) object.timestamp = epoch_millis();
    Status st = check_new_object(object);
    if (st && AppDirectory::is_new_type(app, object.type) &&
        std::find(new_types.begin(), new_types.end(), object.type) == new_types.end()) {
      if (static_cast<std::int64_t>(new_types.size()) >= type_slots) {
        st = invalid_input("type '" + object.type + "' would exceed para.max_datatypes_per_app");
      } else {
        new_types.push_back(object.type);
      }
    }
    for (const auto& stored : *existing) {
      if (st && stored.id == object.id) {
        st = check_type_change(stored, object.type);
        if (st && hooks_for(object.type)) st = Error{ErrorKind::kConflict, "exists"};
      }
    }
    TypeHooks* hooks = st ? hooks_for(object.type) : nullptr;
    if (st && hooks) st = hooks->before_create(app, object);
    if (!st) {
      spdlog::debug("batch create in app {}: skipped object {}: {}", app.identifier, object.id,
                    st.error().message);
      continue;
    }
    // An object with hooks (a Thing) is inserted: a concurrent batch that
    // created it first makes this one fail and undo its devices.
    ops.push_back(
        WriteOp{hooks ? WriteOp::Kind::kInsert : WriteOp::Kind::kUpsert, std::move(object), 0});
    hooked.push_back(hooks);
  }
  auto undo = [&] {
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (hooked[i]) hooked[i]->abort_create(app, ops[i].object);
    }
  };
  if (ops.empty()) return std::vector<ParaObject>();
  auto outcomes = commit(app, ops, Store::Atomicity::kAllOrNothing);
  if (!outcomes || outcomes->size() != ops.size() || outcomes->back() != WriteOutcome::kApplied) {
    undo();
    if (!outcomes) return outcomes.error();
    return Error{ErrorKind::kConflict, "The batch conflicted with a concurrent write; try again."};
  }
  std::vector<ParaObject> created;
  created.reserve(ops.size());
  for (auto& op : ops)
    created.push_back(std::move(op.object));
  return created;
}

Result<std::vector<ParaObject>> ObjectService::read_all(const App& app,
                                                        std::span<const std::string> ids) {
  auto found = store_.get_many(app.identifier, ids);
  if (!found) return found.error();
  for (auto& object : *found) {
    if (TypeHooks* hooks = hooks_for(object.type)) {
      if (auto st = hooks->after_read(app, object); !st) return st.error();
    }
  }
  return found;
}

Result<ObjectService::BatchUpdate> ObjectService::update_all(const App& app,
                                                             const json::array& bodies) {
  std::vector<std::string> ids;
  for (const auto& body : bodies) {
    if (!body.is_object()) continue;
    auto id = body.get_object().find("id");
    if (id != body.get_object().end() && id->value().is_string()) {
      ids.emplace_back(id->value().get_string());
    }
  }
  auto stored = store_.get_many(app.identifier, ids);
  if (!stored) return stored.error();
  BatchUpdate result;
  std::vector<WriteOp> ops;
  for (const auto& body_value : bodies) {
    if (!body_value.is_object()) continue;
    const json::object& body = body_value.get_object();
    auto id = body.find("id");
    if (id == body.end() || !id->value().is_string()) continue;
    auto current = std::find_if(stored->begin(), stored->end(), [&](const ParaObject& o) {
      return o.id == id->value().get_string();
    });
    if (current == stored->end() || current->type == "app") continue;
    ++result.attempted;
    if (auto v = body.find("version"); v != body.end() && v->value().is_int64() &&
                                       v->value().get_int64() > 0 &&
                                       v->value().get_int64() != current->version) {
      ++result.version_conflicts;
      continue;
    }
    ParaObject updated = *current;
    Status st = apply_patch(updated, body);
    if (st) st = check_core_constraints(updated);
    updated.updated = epoch_millis();
    updated.version = current->version + 1;
    if (TypeHooks* hooks = st ? hooks_for(current->type) : nullptr) {
      st = hooks->before_update(app, *current, updated, body, UpdateKind::kPatch);
    }
    if (!st) {
      spdlog::debug("batch update in app {}: skipped object {}: {}", app.identifier, current->id,
                    st.error().message);
      continue;
    }
    ops.push_back(WriteOp{WriteOp::Kind::kReplaceIfVersion, std::move(updated), current->version});
  }
  if (ops.empty()) return result;
  auto outcomes = store_.write(ops, Store::Atomicity::kEachOp);
  if (!outcomes) return outcomes.error();
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if ((*outcomes)[i] == WriteOutcome::kApplied) {
      result.updated.push_back(std::move(ops[i].object));
    } else if ((*outcomes)[i] == WriteOutcome::kVersionMismatch) {
      ++result.version_conflicts;  // a concurrent writer got there first
    }
  }
  return result;
}

Status ObjectService::delete_all(const App& app, std::span<const std::string> ids) {
  auto stored = store_.get_many(app.identifier, ids);
  if (!stored) return stored.error();
  std::vector<WriteOp> ops;
  for (auto& object : *stored) {
    if (object.type == "app") continue;
    if (TypeHooks* hooks = hooks_for(object.type)) {
      if (auto st = hooks->before_delete(app, object); !st) {
        // Keep the object: what it owns outside could not be removed yet.
        spdlog::warn("batch delete in app {}: kept object {}: {}", app.identifier, object.id,
                     st.error().message);
        continue;
      }
    }
    ops.push_back(WriteOp{WriteOp::Kind::kDelete, std::move(object), 0});
  }
  if (ops.empty()) return {};
  auto outcomes = store_.write(ops, Store::Atomicity::kEachOp);
  if (!outcomes) return outcomes.error();
  return {};
}

Result<SearchPage> ObjectService::search(const App& app, const SearchRequest& request) {
  return store_.search(app.identifier, request);
}

}  // namespace para
