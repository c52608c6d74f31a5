// ShadowService: the device shadows of the built-in broker, served over MQTT
// exactly as AWS IoT serves them (aws-iot.md section 5), and read and written
// by the REST API for Things.
//
// MQTT requests arrive on one subscription of the service listener and are
// handed to `workers` queues by thing name, so one thing's requests are
// applied in order while different things proceed in parallel. Each request
// is a read-modify-write of the stored shadow (iot/shadow.h does the
// modifying) committed with compare-and-set on the shadow version, so a REST
// write racing an MQTT update never loses either. A worker takes what has
// queued up and commits consecutive updates together, in one transaction
// (one fsync for many devices). Replies are published after the commit. Within this process,
// requests for one thing also take a per-thing lock, so compare-and-set conflicts only arise
// between nodes. A request's accepted/rejected reply goes at the request's QoS: an
// at-most-once exchange stays one, and the broker is spared an acknowledgement per reply. A
// device's changes to its classic shadow also refresh the Thing object's synced copy
// (deviceState/deviceShadow, what lists and search return): a flusher writes the latest copy of
// every changed thing every half second, in one transaction, off the device's round trip.
//
// Thread-safety: all public methods may be called from any thread.
// Errors: kUnavailable (broker connection down, store down), kInvalidInput
// for a deviceState the shadow rules refuse (AWS's message), kNotFound for a
// thing that was never registered.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/json.h"
#include "iot/local/mqtt_client.h"
#include "iot/shadow.h"
#include "store/store.h"

namespace para::iot {

struct ShadowServiceOptions {
  MqttEndpoint endpoint;
  ShadowLimits limits;
  // Threads applying updates; 0: automatic (worker_count()).
  int workers = 0;
  std::size_t queue_limit = 10000;  // per worker; beyond it requests get 429
};

// The service's MQTT client id. Client ids are unique across the broker, and
// a device's is its thing name: '.' never occurs in one, so no device can
// take this connection over (and cut every tenant's shadows off).
inline constexpr std::string_view kServiceClientId = "svc.para.shadow-service";

// The workers for `configured` (ShadowServiceOptions::workers): as given,
// or for 0 half the cores, at least one. More workers only parallelise
// parsing and merging: every batch commits through the store's one writer,
// and the broker and the MQTT network thread need cores too. Each worker
// commits what has queued for its things, so fewer workers make larger
// batches with fewer handoffs (2 cores, 4 devices x 16 in flight, QoS 0:
// 1 worker 20.5-22.5k updates/s at 30-31 us of CPU each, 16 workers
// 16.6-18.1k/s at 40-46 us).
int worker_count(int configured, unsigned cores);

class ShadowService {
 public:
  ShadowService(Store& store, ShadowServiceOptions options);
  ~ShadowService();

  // Starts the workers and the MQTT client; returns once subscribed.
  Status start();
  void stop();
  bool connected() const;

  // Creates the (not yet existing) classic shadow of a new thing, so MQTT
  // requests for it know its app and object. Idempotent for the same app and
  // object; kConflict if the name is another Thing's: names are
  // "{appid}-{id}" and both parts may contain '-', so two apps can ask for
  // the same one.
  Status register_thing(const std::string& thing, const std::string& appid,
                        const std::string& object_id);

  // Removes every shadow of `thing`. Idempotent.
  Status forget_thing(const std::string& thing);

  // The classic shadow as the Thing's `deviceShadow` view; nullopt if it does
  // not exist (never updated, or deleted).
  Result<std::optional<json::object>> read(const std::string& thing);

  // Makes the classic shadow's desired state equal `desired`, publishes
  // update/accepted, update/documents and update/delta, and returns the new
  // `deviceShadow` view.
  Result<json::object> set_desired(const std::string& thing, const json::object& desired);

 private:
  struct Request {
    ShadowTopic topic;
    std::string payload;
    int qos = 1;  // the request's; its accepted/rejected reply goes at the same QoS
  };
  struct Queue {
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<Request> requests;
  };

  void enqueue(std::string_view topic, std::string_view payload, int qos);
  void work(Queue& queue);
  void serve_batch(const std::vector<Request>& batch);
  void serve_updates(const std::vector<const Request*>& updates);
  void serve(const Request& request);
  void serve_update(const Request& request);
  void serve_get(const Request& request);
  void serve_delete(const Request& request);
  void reply(const ShadowTopic& topic, ShadowReply kind, const std::string& payload, int qos);
  void reject(const ShadowTopic& topic, const ShadowError& error, int qos);
  // update/accepted at `accepted_qos`, then update/documents and update/delta.
  void publish_update(const std::string& thing, const std::string& shadow_name,
                      const UpdateOutcome& outcome, int accepted_qos);

  // The stored state of one shadow, ready to change: its row, its document,
  // and the version a compare-and-set expects (-1: no row yet).
  struct Loaded {
    ShadowRow row;
    Shadow shadow;
    std::int64_t expected = -1;
  };
  ShadowResult<Loaded> load(const std::string& thing, const std::string& shadow_name);
  // The stored shadow; a default (non-existent) one if there is no row.
  Result<Shadow> read_stored(const std::string& thing, const std::string& shadow_name);

  // Read-modify-write of one shadow with compare-and-set. `change` computes
  // the new value from the current one. `sync_object` also stores the Thing
  // object's synced copy. Returns the committed outcome or why not.
  template <class Outcome, class Change>
  ShadowResult<Outcome> commit(const std::string& thing, const std::string& shadow_name,
                               bool sync_object, Change&& change);

  // A Thing whose synced copy the flusher must rewrite from its classic shadow.
  struct DirtyCopy {
    std::string appid;
    std::string object_id;
  };
  void mark_dirty(const std::string& thing, DirtyCopy copy);
  void flush_copies();
  void run_flusher();
  std::size_t stripe_index(const std::string& thing) const;
  std::mutex& stripe_of(const std::string& thing);

  Store& store_;
  const ShadowServiceOptions options_;
  std::unique_ptr<MqttClient> mqtt_;
  std::vector<std::unique_ptr<Queue>> queues_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopping_{false};
  std::array<std::mutex, 64> stripes_;  // per-thing serialisation, by hash
  std::mutex dirty_mutex_;
  std::condition_variable flusher_wake_;
  std::unordered_map<std::string, DirtyCopy> dirty_;  // guarded by dirty_mutex_
  bool flusher_stopping_ = false;                     // guarded by dirty_mutex_
  std::thread flusher_;
};

}  // namespace para::iot
