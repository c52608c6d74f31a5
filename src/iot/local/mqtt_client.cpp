#include "iot/local/mqtt_client.h"

#include <mosquitto.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <mutex>

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
// How long stop() keeps answering and sending before it disconnects anyway.
constexpr auto kStopTimeout = std::chrono::seconds(2);
// stop() disconnects once nothing arrived for this long after the unsubscribe.
constexpr auto kQuietBeforeDisconnect = std::chrono::milliseconds(50);

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
  mosquitto_unsubscribe_callback_set(mosq_, &MqttClient::on_unsubscribe);
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
    std::lock_guard lifecycle(lifecycle_mutex_);
    if (!network_.joinable()) {
      if (!mosq_ || wake_fd_ < 0) return unavailable("Cannot create the MQTT client.");
      stopping_ = false;
      network_ = std::thread([this] { run(); });
    }
  }
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, timeout, [this] { return subscribed_.load(); })) {
    return unavailable("Cannot connect to the IoT broker's service listener.");
  }
  return {};
}

void MqttClient::stop() {
  // Not mutex_: the network thread's callbacks take it until the thread ends.
  std::lock_guard lifecycle(lifecycle_mutex_);
  if (!network_.joinable()) return;
  stopping_ = true;
  wake();
  network_.join();
  subscribed_ = false;
}

void MqttClient::wake() {
  const std::uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) < 0) {
    // EAGAIN: the counter is saturated, so the thread is awake anyway.
  }
}

Status MqttClient::publish(const std::string& topic, std::string_view payload, int qos) {
  // Not while (re)connecting: a packet queued then could go out before CONNECT.
  if (!subscribed_) return unavailable("Not connected to the IoT broker.");
  int rc = mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                             payload.data(), qos, false);
  if (rc != MOSQ_ERR_SUCCESS) {
    return unavailable(std::string("MQTT publish failed: ") + mosquitto_strerror(rc));
  }
  // One wake-up for everything queued before the network thread next writes.
  if (!wake_pending_.exchange(true)) wake();
  return {};
}

void MqttClient::consume_wake() {
  std::uint64_t count;
  (void)!::read(wake_fd_, &count, sizeof count);
}

void MqttClient::wait_for(std::chrono::milliseconds delay) {
  pollfd woken{wake_fd_, POLLIN, 0};
  if (::poll(&woken, 1, static_cast<int>(delay.count())) > 0) consume_wake();
}

std::vector<char*> MqttClient::subscription_patterns() const {
  std::vector<char*> patterns;  // libmosquitto's signature; it does not write them
  for (const auto& s : subscriptions_)
    patterns.push_back(const_cast<char*>(s.c_str()));
  return patterns;
}

short MqttClient::socket_events() const {
  return static_cast<short>(POLLIN | (mosquitto_want_write(mosq_) ? POLLOUT : 0));
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
  for (;;) {
    was_up = was_up || subscribed_;
    const int sock = mosquitto_socket(mosq_);
    if (sock < 0) return was_up;
    if (stopping_) {
      finish(sock);
      return was_up;
    }
    pollfd fds[2] = {{sock, socket_events(), 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, 1000) < 0 && errno != EINTR) return was_up;
    if (fds[1].revents & POLLIN) consume_wake();
    wake_pending_.exchange(false);  // publishes from here on wake us again
    int rc = transfer(sock, fds[0].revents);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_loop_misc(mosq_);  // keep-alive
    if (rc != MOSQ_ERR_SUCCESS) return was_up;
  }
}

int MqttClient::transfer(int sock, short revents) {
  int rc = MOSQ_ERR_SUCCESS;
  if (revents & (POLLIN | POLLHUP | POLLERR)) rc = read_available(sock);
  // libmosquitto may have closed the socket and called it a success.
  if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(mosq_) != sock) return MOSQ_ERR_CONN_LOST;
  if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(mosq_)) rc = write_queued(sock);
  return rc;
}

int MqttClient::read_available(int sock) {
  for (int i = 0; i < kMaxReadsPerWake; ++i) {
    errno = 0;
    const int rc = mosquitto_loop_read(mosq_, 1);  // reads one packet
    if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(mosq_) != sock) return rc;
    // EAGAIN: the socket is empty, or libmosquitto's wake-up write for a
    // PUBACK it queued failed (its socketpair, which nothing reads here, is
    // full). Only the socket can say which.
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      int waiting = 0;
      if (::ioctl(sock, FIONREAD, &waiting) != 0 || waiting == 0) return MOSQ_ERR_SUCCESS;
    }
  }
  return MOSQ_ERR_SUCCESS;
}

int MqttClient::write_queued(int sock) {
  // libmosquitto writes each packet with its own write(): corked, the kernel
  // sends what is queued in as few segments as it can.
  const int on = 1, off = 0;
  setsockopt(sock, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
  const int rc = mosquitto_loop_write(mosq_, 1);
  if (mosquitto_socket(mosq_) == sock) setsockopt(sock, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
  return rc;
}

void MqttClient::finish(int sock) {
  // Stop the requests first and answer those already here; DISCONNECT once
  // the line is quiet. (Closing a socket with unread data makes the kernel
  // reset the connection, which can lose what was sent last.)
  std::vector<char*> patterns = subscription_patterns();
  unsubscribed_ = patterns.empty() ||
                  mosquitto_unsubscribe_multiple(mosq_, nullptr, static_cast<int>(patterns.size()),
                                                 patterns.data(), nullptr) != MOSQ_ERR_SUCCESS;
  const auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
  auto last_read = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd fds{sock, socket_events(), 0};
    if (::poll(&fds, 1, 10) < 0 && errno != EINTR) return;
    if (fds.revents & POLLIN) last_read = std::chrono::steady_clock::now();
    if (transfer(sock, fds.revents) != MOSQ_ERR_SUCCESS) return;
    if (unsubscribed_ && !mosquitto_want_write(mosq_) &&
        std::chrono::steady_clock::now() - last_read > kQuietBeforeDisconnect) {
      break;
    }
  }
  if (mosquitto_socket(mosq_) != sock) return;
  mosquitto_disconnect(mosq_);
  (void)write_queued(sock);  // libmosquitto closes the socket once DISCONNECT is out
}

void MqttClient::on_connect(mosquitto* mosq, void* self_ptr, int rc) {
  auto* self = static_cast<MqttClient*>(self_ptr);
  if (rc != 0) {
    spdlog::error("iot: broker refused para-server's connection: {}", mosquitto_connack_string(rc));
    return;
  }
  std::vector<char*> patterns = self->subscription_patterns();
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

void MqttClient::on_unsubscribe(mosquitto*, void* self_ptr, int) {
  static_cast<MqttClient*>(self_ptr)->unsubscribed_ = true;
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
