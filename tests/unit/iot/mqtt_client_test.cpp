// MqttClient against a real Mosquitto on a loopback port: messages in and
// out at both QoS, stop() under traffic (queued replies still leave, then a
// clean DISCONNECT), stop() with no broker, and reconnection after the broker
// comes back. Skips when mosquitto is not installed.
#include "iot/local/mqtt_client.h"

#include "support/ports.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace para::iot {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

template <class Done>
bool wait_until(Done done, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// A stock Mosquitto with anonymous access on 127.0.0.1:port, logging
// connections to a file.
class Broker {
 public:
  Broker() : dir_(fs::temp_directory_path() / ("para-mqtt-test-" + std::to_string(::getpid()))) {
    fs::create_directories(dir_);
    port_ = test::unused_loopback_port();
  }
  ~Broker() {
    stop();
    fs::remove_all(dir_);
  }
  static bool installed() { return fs::exists(kMosquitto); }

  void start() {
    const fs::path conf = dir_ / "mosquitto.conf";
    std::ofstream(conf) << "listener " << port_ << " 127.0.0.1\n"
                        << "allow_anonymous true\nset_tcp_nodelay true\npersistence false\n"
                        << "max_queued_messages 100000\nconnection_messages true\n"
                        // as ourselves: as root, it would drop to a user that cannot write dir_
                        << "user " << ::getpwuid(::geteuid())->pw_name << "\n"
                        << "log_type all\nlog_dest file " << (dir_ / "broker.log").string() << "\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      const int out = ::open((dir_ / "stderr.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
      ::execl(kMosquitto, kMosquitto, "-c", conf.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ASSERT_TRUE(wait_until([&] { return log().find("running") != std::string::npos; })) << log();
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string log() const {
    std::ifstream in(dir_ / "broker.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  MqttEndpoint endpoint() const { return MqttEndpoint{"127.0.0.1", port_, "", ""}; }
  int port() const { return port_; }

 private:
  static constexpr const char* kMosquitto = "/usr/sbin/mosquitto";
  fs::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A plain libmosquitto client (its own threaded loop) that publishes requests
// and collects what comes back.
class Peer {
 public:
  explicit Peer(int port, const std::string& listen_to) {
    init_mosquitto_library();
    mosq_ = mosquitto_new("peer", true, this);
    mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_max_inflight_messages_set(mosq_, 0);  // unlimited: a flood
    mosquitto_message_callback_set(mosq_, [](mosquitto*, void* self, const mosquitto_message* m) {
      auto* peer = static_cast<Peer*>(self);
      std::lock_guard lock(peer->mutex_);
      peer->received_.emplace(static_cast<const char*>(m->payload),
                              static_cast<std::size_t>(m->payloadlen));
    });
    EXPECT_EQ(mosquitto_connect(mosq_, "127.0.0.1", port, 60), MOSQ_ERR_SUCCESS);
    EXPECT_EQ(mosquitto_subscribe(mosq_, nullptr, listen_to.c_str(), 1), MOSQ_ERR_SUCCESS);
    EXPECT_EQ(mosquitto_loop_start(mosq_), MOSQ_ERR_SUCCESS);
  }
  ~Peer() {
    mosquitto_disconnect(mosq_);
    mosquitto_loop_stop(mosq_, false);
    mosquitto_destroy(mosq_);
  }
  void publish(const std::string& topic, const std::string& payload, int qos) {
    ASSERT_EQ(mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                                payload.data(), qos, false),
              MOSQ_ERR_SUCCESS);
  }
  std::size_t received() {
    std::lock_guard lock(mutex_);
    return received_.size();
  }

 private:
  mosquitto* mosq_;
  std::mutex mutex_;
  std::set<std::string> received_;
};

class MqttClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Broker::installed()) GTEST_SKIP() << "mosquitto is not installed";
    broker_.start();
  }

  // A client that answers every request on "req/#" with the same payload on
  // "rep/<n>", at the request's QoS, from another thread (as the shadow
  // service's workers do).
  std::unique_ptr<MqttClient> echo_client(std::string id = "echo") {
    auto client = std::make_unique<MqttClient>(
        std::move(id), broker_.endpoint(), std::vector<std::string>{"req/#"},
        [this](std::string_view, std::string_view payload, int qos) {
          std::lock_guard lock(mutex_);
          pending_.emplace_back(std::string(payload), qos);
        });
    responder_ = std::thread([this, c = client.get()] {
      while (!stop_responder_) {
        std::vector<std::pair<std::string, int>> work;
        {
          std::lock_guard lock(mutex_);
          work.swap(pending_);
        }
        for (auto& [payload, qos] : work) {
          if (c->publish("rep/" + payload, payload, qos)) ++answered_;
        }
        std::this_thread::sleep_for(1ms);
      }
    });
    return client;
  }
  void TearDown() override {
    stop_responder_ = true;
    if (responder_.joinable()) responder_.join();
  }

  Broker broker_;
  std::mutex mutex_;
  std::vector<std::pair<std::string, int>> pending_;
  std::atomic<int> answered_{0};
  std::atomic<bool> stop_responder_{false};
  std::thread responder_;
};

TEST_F(MqttClientTest, AnswersEveryRequestAtEitherQos) {
  auto client = echo_client();
  ASSERT_TRUE(client->start(5s));
  Peer peer(broker_.port(), "rep/#");
  std::this_thread::sleep_for(100ms);  // the peer's subscription is in place
  constexpr int kEach = 2000;
  for (int i = 0; i < kEach; ++i) {
    peer.publish("req/a", "q0-" + std::to_string(i), 0);
    peer.publish("req/b", "q1-" + std::to_string(i), 1);
  }
  // QoS 0 may be dropped by the broker under a flood; QoS 1 never is.
  ASSERT_TRUE(wait_until([&] { return peer.received() >= 2 * kEach - 100; }, 20s))
      << peer.received() << " of " << 2 * kEach;
  client->stop();
}

TEST_F(MqttClientTest, StopUnderTrafficSendsWhatIsQueuedThenDisconnects) {
  auto client = echo_client();
  ASSERT_TRUE(client->start(5s));
  Peer peer(broker_.port(), "rep/#");
  std::atomic<bool> flooding{true};
  std::thread flood([&] {
    for (int i = 0; flooding; ++i)
      peer.publish("req/x", std::to_string(i), 1);
  });
  ASSERT_TRUE(wait_until([&] { return answered_ > 500; }));
  const auto before = std::chrono::steady_clock::now();
  client->stop();
  const auto took = std::chrono::steady_clock::now() - before;
  flooding = false;
  flood.join();
  EXPECT_LT(took, 3s);
  EXPECT_FALSE(client->connected());
  // A clean DISCONNECT, not a dropped socket, while requests kept arriving.
  ASSERT_TRUE(wait_until([&] {
    return broker_.log().find("Client echo disconnected") != std::string::npos;
  })) <<
      [&] {
        std::string out, line;
        std::istringstream in(broker_.log());
        while (std::getline(in, line))
          if (line.find("echo") != std::string::npos && line.find("PUB") == std::string::npos)
            out += line + "\n";
        return out;
      }()
      << " took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  EXPECT_EQ(broker_.log().find("Client echo closed its connection"), std::string::npos);
}

TEST_F(MqttClientTest, StartWithoutBrokerTimesOutAndStopsAtOnce) {
  broker_.stop();
  auto client = echo_client();
  EXPECT_FALSE(client->start(300ms));
  const auto before = std::chrono::steady_clock::now();
  client->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 1s);
  EXPECT_FALSE(client->publish("rep/x", "x", 0)) << "nothing is queued while not connected";
}

TEST_F(MqttClientTest, ReconnectsAndSubscribesAgainWhenTheBrokerReturns) {
  auto client = echo_client();
  ASSERT_TRUE(client->start(5s));
  broker_.stop();
  ASSERT_TRUE(wait_until([&] { return !client->connected(); }));
  broker_.start();
  ASSERT_TRUE(wait_until([&] { return client->connected(); }, 10s));
  Peer peer(broker_.port(), "rep/#");
  std::this_thread::sleep_for(100ms);
  peer.publish("req/again", "again", 1);
  EXPECT_TRUE(wait_until([&] { return peer.received() == 1; }));
  client->stop();
}

}  // namespace
}  // namespace para::iot
