// MqttClient: para-server's own connection to the broker's service listener
// (libmosquitto, MQTT 3.1.1). It reconnects by itself and restores its
// subscriptions on every (re)connect, so a restarted broker is picked up
// without intervention.
//
// One network thread drives libmosquitto's loop (loop_read, loop_write,
// loop_misc) with its own poll(): it reads every packet that has arrived per
// wake-up, and publishers wake it once for all they queued meanwhile.
// (libmosquitto's own threaded loop wakes once per published message and
// reads one QoS 0 packet per select(), which doubled the client's system
// calls per shadow round trip.)
//
// Thread-safety: publish() may be called from any thread; the message
// handler runs on the client's network thread and must not block (hand the
// work to a queue). It receives the QoS the message was delivered with.
// Errors: kUnavailable when not connected or the broker refused.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.h"

struct mosquitto;
struct mosquitto_message;

namespace para::iot {

struct MqttEndpoint {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string username;
  std::string password;
};

class MqttClient {
 public:
  using MessageHandler =
      std::function<void(std::string_view topic, std::string_view payload, int qos)>;

  MqttClient(std::string client_id, MqttEndpoint endpoint, std::vector<std::string> subscriptions,
             MessageHandler on_message);
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  // Starts connecting; returns once connected and subscribed, or kUnavailable
  // after `timeout` (the client keeps trying in the background).
  Status start(std::chrono::milliseconds timeout);
  void stop();

  // Publishes (not retained) at `qos` 0 or 1. kUnavailable if the broker is
  // not reachable or the client is not (yet again) subscribed.
  Status publish(const std::string& topic, std::string_view payload, int qos = 1);

  bool connected() const { return subscribed_.load(); }

 private:
  static void on_connect(mosquitto*, void* self, int rc);
  static void on_disconnect(mosquitto*, void* self, int rc);
  static void on_subscribe(mosquitto*, void* self, int mid, int count, const int* granted);
  static void on_unsubscribe(mosquitto*, void* self, int mid);
  static void on_message(mosquitto*, void* self, const mosquitto_message* message);

  void run();  // the network thread
  // Polls, reads and writes until the connection ends or stop(); true if it
  // got as far as subscribed.
  bool serve_connection();
  // After poll(): reads what arrived (revents), then writes what is queued; a
  // MOSQ_ERR (MOSQ_ERR_CONN_LOST if libmosquitto closed the socket meanwhile).
  int transfer(int sock, short revents);
  int read_available(int sock);  // every packet waiting (up to a bound); a MOSQ_ERR
  int write_queued(int sock);    // everything queued that the socket takes
  void finish(int sock);         // on stop(): unsubscribes, answers what came, then DISCONNECT
  void wait_for(std::chrono::milliseconds delay);  // or until stop()
  void wake();
  void consume_wake();
  short socket_events() const;  // for poll(): always POLLIN, POLLOUT if anything is queued
  std::vector<char*> subscription_patterns() const;

  const std::string client_id_;
  const MqttEndpoint endpoint_;
  const std::vector<std::string> subscriptions_;
  const MessageHandler handler_;
  mosquitto* mosq_ = nullptr;
  std::atomic<bool> subscribed_{false};
  std::mutex mutex_;  // with changed_: start() waits for subscribed_
  std::condition_variable changed_;
  std::mutex lifecycle_mutex_;  // start() and stop()
  std::thread network_;
  int wake_fd_ = -1;                       // eventfd: publish() and stop() wake the network thread
  std::atomic<bool> wake_pending_{false};  // a wake-up is written and not yet consumed
  std::atomic<bool> stopping_{false};
  bool unsubscribed_ =
      false;  // network thread only: the broker acknowledged finish()'s UNSUBSCRIBE
};

// Disconnects the client connected with `client_id` (a device) by connecting
// with the same client id on the service listener: MQTT's session takeover.
// Returns once the takeover connection was accepted and closed.
Status kick_client(const MqttEndpoint& endpoint, const std::string& client_id,
                   std::chrono::milliseconds timeout);

// libmosquitto's process-wide initialisation (idempotent).
void init_mosquitto_library();

}  // namespace para::iot
