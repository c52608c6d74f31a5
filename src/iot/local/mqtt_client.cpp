#include "iot/local/mqtt_client.h"

#include <mosquitto.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace para::iot {

void init_mosquitto_library() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

MqttClient::MqttClient(std::string client_id, MqttEndpoint endpoint,
                       std::vector<std::string> subscriptions, MessageHandler on_message)
    : client_id_(std::move(client_id)),
      endpoint_(std::move(endpoint)),
      subscriptions_(std::move(subscriptions)),
      handler_(std::move(on_message)) {
  init_mosquitto_library();
  mosq_ = mosquitto_new(client_id_.c_str(), true, this);
  mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_max_inflight_messages_set(mosq_, 1000);
  mosquitto_reconnect_delay_set(mosq_, 1, 10, true);
  mosquitto_username_pw_set(mosq_, endpoint_.username.c_str(), endpoint_.password.c_str());
  mosquitto_connect_callback_set(mosq_, &MqttClient::on_connect);
  mosquitto_disconnect_callback_set(mosq_, &MqttClient::on_disconnect);
  mosquitto_subscribe_callback_set(mosq_, &MqttClient::on_subscribe);
  mosquitto_message_callback_set(mosq_, &MqttClient::on_message);
}

MqttClient::~MqttClient() {
  stop();
  mosquitto_destroy(mosq_);
}

Status MqttClient::start(std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(mutex_);
    if (!started_) {
      // connect_async + loop_start: the loop thread retries until the broker is up.
      int rc = mosquitto_connect_async(mosq_, endpoint_.host.c_str(), endpoint_.port, 60);
      if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_ERRNO) {
        return unavailable(std::string("MQTT connect: ") + mosquitto_strerror(rc));
      }
      if (int lrc = mosquitto_loop_start(mosq_); lrc != MOSQ_ERR_SUCCESS) {
        return unavailable(std::string("MQTT loop: ") + mosquitto_strerror(lrc));
      }
      started_ = true;
    }
  }
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, timeout, [this] { return subscribed_.load(); })) {
    return unavailable("Cannot connect to the IoT broker's service listener.");
  }
  return {};
}

void MqttClient::stop() {
  std::lock_guard lock(mutex_);
  if (!started_) return;
  mosquitto_disconnect(mosq_);
  mosquitto_loop_stop(mosq_, true);
  started_ = false;
  subscribed_ = false;
}

Status MqttClient::publish(std::string_view topic, std::string_view payload, int qos) {
  std::string t(topic);
  int rc = mosquitto_publish(mosq_, nullptr, t.c_str(), static_cast<int>(payload.size()),
                             payload.data(), qos, false);
  if (rc != MOSQ_ERR_SUCCESS) {
    return unavailable(std::string("MQTT publish failed: ") + mosquitto_strerror(rc));
  }
  return {};
}

void MqttClient::on_connect(mosquitto* mosq, void* self_ptr, int rc) {
  auto* self = static_cast<MqttClient*>(self_ptr);
  if (rc != 0) {
    spdlog::error("iot: broker refused para-server's connection: {}", mosquitto_connack_string(rc));
    return;
  }
  std::vector<char*> patterns;
  for (const auto& s : self->subscriptions_)
    patterns.push_back(const_cast<char*>(s.c_str()));
  if (patterns.empty()) {
    self->subscribed_ = true;
    self->changed_.notify_all();
    return;
  }
  int src = mosquitto_subscribe_multiple(mosq, nullptr, static_cast<int>(patterns.size()),
                                         patterns.data(), 1, 0, nullptr);
  if (src != MOSQ_ERR_SUCCESS) {
    spdlog::error("iot: subscribe failed: {}", mosquitto_strerror(src));
  }
}

void MqttClient::on_disconnect(mosquitto*, void* self_ptr, int rc) {
  auto* self = static_cast<MqttClient*>(self_ptr);
  self->subscribed_ = false;
  if (rc != 0) spdlog::warn("iot: lost the connection to the broker; reconnecting");
}

void MqttClient::on_subscribe(mosquitto*, void* self_ptr, int, int count, const int* granted) {
  auto* self = static_cast<MqttClient*>(self_ptr);
  for (int i = 0; i < count; ++i) {
    if (granted[i] > 2) {
      spdlog::error("iot: the broker refused subscription {}",
                    self->subscriptions_[static_cast<std::size_t>(i)]);
      return;
    }
  }
  std::lock_guard lock(self->mutex_);
  self->subscribed_ = true;
  self->changed_.notify_all();
}

void MqttClient::on_message(mosquitto*, void* self_ptr, const mosquitto_message* message) {
  auto* self = static_cast<MqttClient*>(self_ptr);
  std::string_view payload(static_cast<const char*>(message->payload),
                           static_cast<std::size_t>(message->payloadlen));
  self->handler_(message->topic, payload);
}

Status kick_client(const MqttEndpoint& endpoint, const std::string& client_id,
                   std::chrono::milliseconds timeout) {
  init_mosquitto_library();
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    int rc = -1;
  } state;
  mosquitto* mosq = mosquitto_new(client_id.c_str(), true, &state);
  if (!mosq) return unavailable("Cannot create an MQTT client.");
  mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_username_pw_set(mosq, endpoint.username.c_str(), endpoint.password.c_str());
  mosquitto_connect_callback_set(mosq, [](mosquitto*, void* p, int rc) {
    auto* s = static_cast<State*>(p);
    std::lock_guard lock(s->mutex);
    s->rc = rc;
    s->cv.notify_all();
  });
  Status result;
  int rc = mosquitto_connect(mosq, endpoint.host.c_str(), endpoint.port, 10);
  if (rc != MOSQ_ERR_SUCCESS) {
    result = unavailable(std::string("Cannot reach the IoT broker: ") + mosquitto_strerror(rc));
  } else {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      mosquitto_loop(mosq, 10, 1);
      std::lock_guard lock(state.mutex);
      if (state.rc >= 0 || std::chrono::steady_clock::now() > deadline) break;
    }
    if (state.rc != 0) {
      result = unavailable("The IoT broker did not accept the takeover connection.");
    }
    mosquitto_disconnect(mosq);
    mosquitto_loop(mosq, 10, 1);
  }
  mosquitto_destroy(mosq);
  return result;
}

}  // namespace para::iot
