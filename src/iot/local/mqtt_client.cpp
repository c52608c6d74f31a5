#include "iot/local/mqtt_client.h"

#include <mosquitto.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <optional>

namespace para::iot {

void init_mosquitto_library() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

namespace {

// The broker is local and supervised: it is back within a second or two.
constexpr auto kFirstReconnectDelay = std::chrono::milliseconds(200);
constexpr auto kMaxReconnectDelay = std::chrono::seconds(5);
constexpr int kKeepAliveSeconds = 60;
// Packets read per wake-up before queued writes get their turn.
constexpr int kMaxReadsPerWake = 256;

}  // namespace

MqttClient::MqttClient(std::string client_id, MqttEndpoint endpoint,
                       std::vector<std::string> subscriptions, MessageHandler on_message)
    : client_id_(std::move(client_id)),
      endpoint_(std::move(endpoint)),
      subscriptions_(std::move(subscriptions)),
      handler_(std::move(on_message)) {
  init_mosquitto_library();
  mosq_ = mosquitto_new(client_id_.c_str(), true, this);
  // Our own thread drives the loop; publish() from other threads only queues.
  mosquitto_threaded_set(mosq_, true);
  mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_max_inflight_messages_set(mosq_, 1000);
  mosquitto_username_pw_set(mosq_, endpoint_.username.c_str(), endpoint_.password.c_str());
  mosquitto_connect_callback_set(mosq_, &MqttClient::on_connect);
  mosquitto_disconnect_callback_set(mosq_, &MqttClient::on_disconnect);
  mosquitto_subscribe_callback_set(mosq_, &MqttClient::on_subscribe);
  mosquitto_message_callback_set(mosq_, &MqttClient::on_message);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

MqttClient::~MqttClient() {
  stop();
  mosquitto_destroy(mosq_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

Status MqttClient::start(std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(mutex_);
    if (!started_) {
      if (!mosq_ || wake_fd_ < 0) return unavailable("Cannot create the MQTT client.");
      stopping_ = false;
      network_ = std::thread([this] { run(); });
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
  stopping_ = true;
  wake();
  network_.join();
  started_ = false;
  subscribed_ = false;
}

void MqttClient::wake() {
  const std::uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) < 0) {
    // EAGAIN: the counter is saturated, so the thread is awake anyway.
  }
}

Status MqttClient::publish(std::string_view topic, std::string_view payload, int qos) {
  std::string t(topic);
  int rc = mosquitto_publish(mosq_, nullptr, t.c_str(), static_cast<int>(payload.size()),
                             payload.data(), qos, false);
  if (rc != MOSQ_ERR_SUCCESS) {
    return unavailable(std::string("MQTT publish failed: ") + mosquitto_strerror(rc));
  }
  // One wake-up for everything queued before the network thread next writes.
  if (!wake_pending_.exchange(true)) wake();
  return {};
}

void MqttClient::wait_for(std::chrono::milliseconds delay) {
  pollfd woken{wake_fd_, POLLIN, 0};
  if (::poll(&woken, 1, static_cast<int>(delay.count())) > 0) {
    std::uint64_t count;
    (void)!::read(wake_fd_, &count, sizeof count);
  }
}

void MqttClient::run() {
  bool ever_connected = false;
  auto delay = std::chrono::milliseconds(kFirstReconnectDelay);
  while (!stopping_) {
    const int rc = ever_connected ? mosquitto_reconnect(mosq_)
                                  : mosquitto_connect(mosq_, endpoint_.host.c_str(), endpoint_.port,
                                                      kKeepAliveSeconds);
    if (rc == MOSQ_ERR_SUCCESS) {
      ever_connected = true;
      if (serve_connection()) delay = kFirstReconnectDelay;  // it had been up
    } else {
      spdlog::debug("iot: cannot reach the broker's service listener ({}); retrying in {} ms",
                    mosquitto_strerror(rc), delay.count());
    }
    if (stopping_) break;
    wait_for(delay);
    delay = std::min<std::chrono::milliseconds>(delay * 2, kMaxReconnectDelay);
  }
}

bool MqttClient::serve_connection() {
  bool was_up = false;
  std::optional<std::chrono::steady_clock::time_point> stop_deadline;
  for (;;) {
    was_up = was_up || subscribed_;
    if (stopping_ && !stop_deadline) {
      mosquitto_disconnect(mosq_);  // queued after what is left to publish
      stop_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    }
    // A broker that stops reading does not hold up shutdown.
    if (stop_deadline && std::chrono::steady_clock::now() > *stop_deadline) return was_up;
    const int sock = mosquitto_socket(mosq_);
    if (sock < 0) return was_up;
    pollfd fds[2] = {
        {sock, static_cast<short>(POLLIN | (mosquitto_want_write(mosq_) ? POLLOUT : 0)), 0},
        {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, 1000) < 0 && errno != EINTR) return was_up;
    if (fds[1].revents & POLLIN) {
      std::uint64_t count;
      (void)!::read(wake_fd_, &count, sizeof count);
    }
    wake_pending_ = false;  // publishes from here on wake us again
    int rc = MOSQ_ERR_SUCCESS;
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      // libmosquitto reads one packet per call; read on until the socket is empty.
      for (int i = 0; i < kMaxReadsPerWake && rc == MOSQ_ERR_SUCCESS; ++i) {
        errno = 0;
        rc = mosquitto_loop_read(mosq_, 1);
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      }
    }
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(mosq_)) {
      // libmosquitto writes each packet with its own write(): corked, the
      // kernel sends what is queued in as few segments as it can.
      const int on = 1, off = 0;
      setsockopt(sock, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
      rc = mosquitto_loop_write(mosq_, 1);
      if (mosquitto_socket(mosq_) == sock)
        setsockopt(sock, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
    }
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_loop_misc(mosq_);  // keep-alive
    if (rc != MOSQ_ERR_SUCCESS) return was_up;
  }
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
  spdlog::debug("iot: {} connected and subscribed", self->client_id_);
}

void MqttClient::on_message(mosquitto*, void* self_ptr, const mosquitto_message* message) {
  auto* self = static_cast<MqttClient*>(self_ptr);
  std::string_view payload(static_cast<const char*>(message->payload),
                           static_cast<std::size_t>(message->payloadlen));
  self->handler_(message->topic, payload, message->qos);
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
