#include "iot/local/shadow_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <unordered_set>

namespace para::iot {
namespace {

constexpr int kMaxCommitAttempts = 16;
// Requests a worker takes from its queue at once.
constexpr std::size_t kMaxBatch = 64;

std::int64_t now_seconds() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

const ShadowError kThingNotFound{404, "Thing not found", std::nullopt};

ShadowError internal_failure(std::string_view why) {
  spdlog::error("iot: shadow request failed: {}", why);
  return ShadowError{500, std::string(kMsgInternal), std::nullopt};
}

std::vector<std::string> request_subscriptions() {
  std::vector<std::string> topics;
  for (const char* op : {"get", "update", "delete"}) {
    topics.push_back(std::string("$aws/things/+/shadow/") + op);
    topics.push_back(std::string("$aws/things/+/shadow/name/+/") + op);
  }
  return topics;
}

// The Thing's synced copy of its classic shadow.
void set_synced_copy(ParaObject& thing, const Shadow& shadow, std::int64_t now) {
  thing.fields["deviceState"] = device_state_view(shadow);
  json::value view = shadow_view(shadow, now);
  if (view.is_null()) {
    thing.fields.erase("deviceShadow");
  } else {
    thing.fields["deviceShadow"] = std::move(view);
  }
}

Error as_api_error(const ShadowError& e) {
  switch (e.code) {
    case 400:
    case 413:
    case 415:
      return invalid_input("deviceState was refused by the device shadow: " + e.message);
    case 404:
      return not_found("The Thing's device shadow is not registered (" + e.message + ").");
    case 409:
      return Error{ErrorKind::kConflict, "The device shadow is changing; try again."};
    default:
      return internal_error("Device shadow update failed: " + e.message);
  }
}

}  // namespace

int worker_count(int configured, unsigned cores) {
  if (configured > 0) return configured;
  return std::max(1, static_cast<int>(cores / 2));
}

ShadowService::ShadowService(Store& store, ShadowServiceOptions options)
    : store_(store), options_(std::move(options)) {}

ShadowService::~ShadowService() {
  stop();
}

Status ShadowService::start() {
  // Copies a crash (kill -9) kept from being written: the flusher's first
  // round writes them.
  if (auto lagging = store_.lagging_thing_copies(); lagging) {
    for (const ShadowRow& row : *lagging)
      mark_dirty(row.thing, DirtyCopy{row.appid, row.object_id});
    if (!lagging->empty()) {
      spdlog::info("iot: {} Things' synced copies lag their shadows; rewriting them",
                   lagging->size());
    }
  } else {
    spdlog::warn("iot: cannot look for lagging Thing copies: {}", lagging.error().message);
  }
  flusher_ = std::thread([this] { run_flusher(); });
  const int workers = worker_count(options_.workers, std::thread::hardware_concurrency());
  for (int i = 0; i < workers; ++i)
    queues_.push_back(std::make_unique<Queue>());
  for (auto& queue : queues_)
    workers_.emplace_back([this, q = queue.get()] { work(*q); });
  mqtt_ = std::make_unique<MqttClient>(std::string(kServiceClientId), options_.endpoint,
                                       request_subscriptions(),
                                       [this](std::string_view topic, std::string_view payload,
                                              int qos) { enqueue(topic, payload, qos); });
  return mqtt_->start(std::chrono::seconds(10));
}

void ShadowService::stop() {
  if (mqtt_) mqtt_->stop();
  for (auto& queue : queues_) {
    std::lock_guard lock(queue->mutex);
    stopping_ = true;
    queue->ready.notify_all();
  }
  for (auto& worker : workers_)
    worker.join();
  workers_.clear();
  {
    std::lock_guard lock(dirty_mutex_);
    flusher_stopping_ = true;
    flusher_wake_.notify_all();
  }
  if (flusher_.joinable()) flusher_.join();  // its last round writes what is left
}

std::size_t ShadowService::stripe_index(const std::string& thing) const {
  return std::hash<std::string>{}(thing) % stripes_.size();
}

std::mutex& ShadowService::stripe_of(const std::string& thing) {
  return stripes_[stripe_index(thing)];
}

void ShadowService::mark_dirty(const std::string& thing, DirtyCopy copy) {
  std::lock_guard lock(dirty_mutex_);
  dirty_[thing] = std::move(copy);  // only the latest state matters
}

void ShadowService::run_flusher() {
  std::unique_lock lock(dirty_mutex_);
  for (;;) {
    const bool stopping = flusher_wake_.wait_for(lock, std::chrono::milliseconds(500),
                                                 [this] { return flusher_stopping_; });
    lock.unlock();
    flush_copies();
    lock.lock();
    if (stopping) return;
  }
}

void ShadowService::flush_copies() {
  std::unordered_map<std::string, DirtyCopy> batch;
  {
    std::lock_guard lock(dirty_mutex_);
    batch.swap(dirty_);
  }
  if (batch.empty()) return;
  const std::int64_t now = now_seconds();
  std::vector<WriteOp> ops;
  std::vector<std::string> things;
  for (auto& [thing, copy] : batch) {
    auto object = store_.get(copy.appid, copy.object_id);
    if (!object || !*object)
      continue;  // deleted meanwhile, or the store is down (next change retries)
    auto shadow = read_stored(thing, "");  // none if deleted with its thing meanwhile
    if (!shadow) continue;
    ParaObject synced = std::move(**object);
    set_synced_copy(synced, *shadow, now);
    const std::int64_t version = synced.version;  // a device report is not an API update
    ops.push_back(WriteOp{WriteOp::Kind::kReplaceIfVersion, std::move(synced), version});
    things.push_back(thing);
  }
  if (ops.empty()) return;
  auto outcomes = store_.write(ops, Store::Atomicity::kEachOp);
  if (!outcomes) {
    spdlog::warn("iot: synced copies not written: {}", outcomes.error().message);
    return;
  }
  // A Thing updated through the API meanwhile is rewritten next round.
  std::lock_guard lock(dirty_mutex_);
  for (std::size_t i = 0; i < outcomes->size(); ++i) {
    if ((*outcomes)[i] == WriteOutcome::kVersionMismatch) {
      dirty_.try_emplace(things[i], std::move(batch[things[i]]));
    }
  }
}

bool ShadowService::connected() const {
  return mqtt_ && mqtt_->connected();
}

void ShadowService::enqueue(std::string_view topic, std::string_view payload, int qos) {
  auto parsed = parse_shadow_topic(topic);
  if (!parsed) return;  // not a request topic; the subscriptions should not deliver it
  Queue& queue = *queues_[std::hash<std::string>{}(parsed->thing_name) % queues_.size()];
  {
    std::lock_guard lock(queue.mutex);
    if (queue.requests.size() < options_.queue_limit) {
      queue.requests.push_back({std::move(*parsed), std::string(payload), qos});
      queue.ready.notify_one();
      return;
    }
  }
  reject(*parsed, ShadowError{429, "Too Many Requests", std::nullopt}, qos);
}

void ShadowService::work(Queue& queue) {
  std::vector<Request> batch;
  for (;;) {
    batch.clear();
    {
      std::unique_lock lock(queue.mutex);
      queue.ready.wait(lock, [&] { return stopping_ || !queue.requests.empty(); });
      if (queue.requests.empty()) return;  // stopping, and nothing left to answer
      while (!queue.requests.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue.requests.front()));
        queue.requests.pop_front();
      }
    }
    serve_batch(batch);
  }
}

// Consecutive updates are applied together (one transaction, one fsync);
// a get or delete first waits for the updates queued before it.
void ShadowService::serve_batch(const std::vector<Request>& batch) {
  std::vector<const Request*> updates;
  auto flush_updates = [&] {
    if (updates.empty()) return;
    try {
      serve_updates(updates);
    } catch (const std::exception& e) {
      for (const Request* r : updates)
        reject(r->topic, internal_failure(e.what()), r->qos);
    }
    updates.clear();
  };
  for (const Request& request : batch) {
    if (request.topic.operation == ShadowOperation::kUpdate) {
      updates.push_back(&request);
      continue;
    }
    flush_updates();
    try {
      serve(request);
    } catch (const std::exception& e) {
      reject(request.topic, internal_failure(e.what()), request.qos);
    }
  }
  flush_updates();
}

void ShadowService::serve(const Request& request) {
  switch (request.topic.operation) {
    case ShadowOperation::kGet:
      serve_get(request);
      break;
    case ShadowOperation::kUpdate:
      serve_update(request);
      break;
    case ShadowOperation::kDelete:
      serve_delete(request);
      break;
  }
}

ShadowResult<ShadowService::Loaded> ShadowService::load(const std::string& thing,
                                                        const std::string& shadow_name) {
  auto row = store_.get_shadow(thing, shadow_name);
  if (!row) return internal_failure(row.error().message);
  Loaded loaded;
  if (*row) {
    loaded.row = std::move(**row);
    loaded.expected = loaded.row.version;
    auto decoded = shadow_from_storage(loaded.row.document);
    if (!decoded) return internal_failure(decoded.error().message);
    loaded.shadow = std::move(*decoded);
    return loaded;
  }
  // A named shadow is created on its first update; it belongs to the thing
  // of the classic shadow registered at provisioning.
  if (shadow_name.empty()) return kThingNotFound;
  auto classic = store_.get_shadow(thing, "");
  if (!classic) return internal_failure(classic.error().message);
  if (!*classic) return kThingNotFound;
  loaded.row = std::move(**classic);
  loaded.row.name = shadow_name;
  loaded.expected = -1;
  return loaded;
}

template <class Outcome, class Change>
ShadowResult<Outcome> ShadowService::commit(const std::string& thing,
                                            const std::string& shadow_name, bool sync_object,
                                            Change&& change) {
  std::lock_guard serialised(stripe_of(thing));
  for (int attempt = 0; attempt < kMaxCommitAttempts; ++attempt) {
    auto loaded = load(thing, shadow_name);
    if (!loaded) return loaded.error();
    ShadowResult<Outcome> outcome = change(loaded->shadow, now_seconds());
    if (!outcome) return outcome;
    ShadowRow& next = loaded->row;
    next.document = to_storage_json(outcome->shadow);
    next.version = outcome->shadow.version();
    WriteOp op{WriteOp::Kind::kPutShadow, {}, loaded->expected, std::move(next)};
    auto outcomes = store_.write(std::span(&op, 1));
    if (!outcomes) return internal_failure(outcomes.error().message);
    if (outcomes->front() == WriteOutcome::kApplied) {
      if (sync_object && shadow_name.empty()) {
        mark_dirty(thing, DirtyCopy{op.shadow.appid, op.shadow.object_id});
      }
      return outcome;
    }
    // Another node changed the shadow meanwhile: start over.
  }
  return internal_failure("too many concurrent writers on shadow " + thing);
}

// Several updates, of one or many things, computed in order on the stored
// states and committed in one write: one compare-and-set per shadow, of the
// state its last update leaves. If that fails (another node wrote
// meanwhile), the shadow's updates are served again, one by one, in order.
void ShadowService::serve_updates(const std::vector<const Request*>& updates) {
  if (updates.size() == 1) return serve(*updates.front());
  struct Target {  // a shadow the batch updates
    ShadowResult<Loaded> state = kThingNotFound;
    std::optional<std::size_t> op;  // its write, once an update was accepted
  };
  struct Step {
    const Request* request;
    Target* target;
    ShadowResult<UpdateOutcome> outcome;  // the replies, or why it is rejected
  };
  std::unordered_map<std::string, Target> targets;  // by "thing/shadow name"
  std::vector<Step> steps;
  steps.reserve(updates.size());
  std::vector<WriteOp> ops;
  Result<std::vector<WriteOutcome>> written = std::vector<WriteOutcome>();
  {
    // Every stripe involved, in index order (set_desired takes one at a time).
    std::vector<std::size_t> stripes;
    for (const Request* r : updates)
      stripes.push_back(stripe_index(r->topic.thing_name));
    std::sort(stripes.begin(), stripes.end());
    stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
    std::vector<std::unique_lock<std::mutex>> locks;
    for (std::size_t i : stripes)
      locks.emplace_back(stripes_[i]);

    const std::int64_t now = now_seconds();
    for (const Request* r : updates) {
      auto [it, fresh] = targets.try_emplace(r->topic.thing_name + '/' + r->topic.shadow_name);
      Target& target = it->second;
      if (fresh) target.state = load(r->topic.thing_name, r->topic.shadow_name);
      Step step{r, &target, kThingNotFound};
      if (!target.state) {
        step.outcome = target.state.error();
      } else {
        step.outcome = apply_update(target.state->shadow, r->payload, now, options_.limits);
        if (step.outcome) {
          target.state->shadow = std::move(step.outcome->shadow);
          if (!target.op) {
            target.op = ops.size();
            ops.emplace_back();  // filled in once the batch's last update is known
          }
        }
      }
      steps.push_back(std::move(step));
    }
    for (auto& [key, target] : targets) {
      if (!target.op) continue;
      const Loaded& state = *target.state;
      WriteOp& op = ops[*target.op];
      op.kind = WriteOp::Kind::kPutShadow;
      op.expected_version = state.expected;
      op.shadow = state.row;
      op.shadow.document = to_storage_json(state.shadow);
      op.shadow.version = state.shadow.version();
    }
    if (!ops.empty()) written = store_.write(ops, Store::Atomicity::kEachOp);
  }
  if (written) {
    for (std::size_t i = 0; i < ops.size(); ++i) {  // Things whose synced copy is now behind
      const ShadowRow& row = ops[i].shadow;
      if (row.name.empty() && (*written)[i] == WriteOutcome::kApplied) {
        mark_dirty(row.thing, DirtyCopy{row.appid, row.object_id});
      }
    }
  }
  // Each update is answered once, here: a failure answering one (it throws)
  // must not reach serve_batch, which would answer the whole batch again.
  std::unordered_set<const Target*> conflicted;
  for (Step& step : steps) {
    const ShadowTopic& topic = step.request->topic;
    const int qos = step.request->qos;
    try {
      if (conflicted.contains(step.target)) {
        serve(*step.request);  // in order, after the one that conflicted
      } else if (!step.outcome) {
        reject(topic, step.outcome.error(), qos);
      } else if (!written) {
        reject(topic, internal_failure(written.error().message), qos);
      } else if ((*written)[*step.target->op] != WriteOutcome::kApplied) {
        conflicted.insert(step.target);
        serve(*step.request);
      } else {
        publish_update(topic.thing_name, topic.shadow_name, *step.outcome, qos);
      }
    } catch (const std::exception& e) {
      reject(topic, internal_failure(e.what()), qos);
    }
  }
}

void ShadowService::serve_update(const Request& request) {
  const ShadowTopic& topic = request.topic;
  auto outcome = commit<UpdateOutcome>(
      topic.thing_name, topic.shadow_name, true, [&](const Shadow& current, std::int64_t now) {
        return apply_update(current, request.payload, now, options_.limits);
      });
  if (!outcome) return reject(topic, outcome.error(), request.qos);
  publish_update(topic.thing_name, topic.shadow_name, *outcome, request.qos);
}

void ShadowService::serve_get(const Request& request) {
  const ShadowTopic& topic = request.topic;
  const int qos = request.qos;
  auto parsed = parse_get_request(request.payload);
  if (!parsed) return reject(topic, parsed.error(), qos);
  auto shadow = read_stored(topic.thing_name, topic.shadow_name);
  if (!shadow) return reject(topic, internal_failure(shadow.error().message), qos);
  auto document = get_document(*shadow, shadow_display_name(topic.thing_name, topic.shadow_name),
                               now_seconds(), *parsed);
  if (!document) return reject(topic, document.error(), qos);
  reply(topic, ShadowReply::kGetAccepted, *document, qos);
}

void ShadowService::serve_delete(const Request& request) {
  const ShadowTopic& topic = request.topic;
  auto parsed = parse_delete_request(request.payload);
  if (!parsed) return reject(topic, parsed.error(), request.qos);
  const std::string_view name = shadow_display_name(topic.thing_name, topic.shadow_name);
  auto outcome = commit<DeleteOutcome>(topic.thing_name, topic.shadow_name, true,
                                       [&](const Shadow& current, std::int64_t now) {
                                         return delete_shadow(current, name, now, *parsed);
                                       });
  if (!outcome) return reject(topic, outcome.error(), request.qos);
  reply(topic, ShadowReply::kDeleteAccepted, outcome->accepted, request.qos);
}

void ShadowService::reply(const ShadowTopic& topic, ShadowReply kind, const std::string& payload,
                          int qos) {
  if (auto st =
          mqtt_->publish(reply_topic(topic.thing_name, topic.shadow_name, kind), payload, qos);
      !st) {
    spdlog::warn("iot: reply to {} not sent: {}", topic.thing_name, st.error().message);
  }
}

void ShadowService::reject(const ShadowTopic& topic, const ShadowError& error, int qos) {
  reply(topic, rejected_reply(topic.operation), error_document(error, now_seconds()), qos);
}

void ShadowService::publish_update(const std::string& thing, const std::string& shadow_name,
                                   const UpdateOutcome& outcome, int accepted_qos) {
  ShadowTopic topic{thing, shadow_name, ShadowOperation::kUpdate};
  reply(topic, ShadowReply::kUpdateAccepted, outcome.accepted, accepted_qos);
  // Few devices listen to documents; QoS 0 spares the broker an ack.
  reply(topic, ShadowReply::kUpdateDocuments, outcome.documents, 0);
  // A delta asks the device to act: at least once, whatever the request's QoS.
  if (outcome.delta) reply(topic, ShadowReply::kUpdateDelta, *outcome.delta, 1);
}

Status ShadowService::register_thing(const std::string& thing, const std::string& appid,
                                     const std::string& object_id) {
  WriteOp op;
  op.kind = WriteOp::Kind::kPutShadow;
  op.expected_version = -1;
  op.shadow = ShadowRow{thing, "", appid, object_id, to_storage_json(Shadow{}), 0};
  auto outcome = store_.write(std::span(&op, 1));
  if (!outcome) return outcome.error();
  if (outcome->front() == WriteOutcome::kApplied) return {};
  auto owner = store_.get_shadow(thing, "");
  if (!owner) return owner.error();
  if (*owner && ((*owner)->appid != appid || (*owner)->object_id != object_id)) {
    return Error{
        ErrorKind::kConflict,
        "The device name '" + thing + "' (app id, '-', thing id) is taken; choose another id."};
  }
  return {};  // left by an earlier attempt to create this same Thing
}

Status ShadowService::forget_thing(const std::string& thing) {
  WriteOp op;
  op.kind = WriteOp::Kind::kDeleteShadows;
  op.shadow.thing = thing;
  auto outcome = store_.write(std::span(&op, 1));
  if (!outcome) return outcome.error();
  return {};
}

Result<Shadow> ShadowService::read_stored(const std::string& thing,
                                          const std::string& shadow_name) {
  auto row = store_.get_shadow(thing, shadow_name);
  if (!row) return row.error();
  if (!*row) return Shadow{};
  return shadow_from_storage((*row)->document);
}

Result<std::optional<json::object>> ShadowService::read(const std::string& thing) {
  auto shadow = read_stored(thing, "");
  if (!shadow) return shadow.error();
  json::value view = shadow_view(*shadow, now_seconds());
  if (view.is_null()) return std::optional<json::object>();
  return std::optional<json::object>(std::move(view.get_object()));
}

Result<json::object> ShadowService::set_desired(const std::string& thing,
                                                const json::object& desired) {
  std::int64_t committed_at = 0;
  auto outcome =
      commit<UpdateOutcome>(thing, "", false, [&](const Shadow& current, std::int64_t now) {
        committed_at = now;
        std::string payload = desired_replacement(current.desired(), desired, current.version());
        return apply_update(current, payload, now, options_.limits);
      });
  if (!outcome) return as_api_error(outcome.error());
  publish_update(thing, "", *outcome, 1);
  json::value view = shadow_view(outcome->shadow, committed_at);
  return std::move(view.as_object());
}

}  // namespace para::iot
