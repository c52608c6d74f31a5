// Test support: a stock Mosquitto on a loopback port (anonymous access, every
// packet logged to a file) and a plain libmosquitto client to talk to it.
// Tests using it skip when mosquitto is not installed (Broker::installed()).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <mosquitto.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "iot/local/mqtt_client.h"
#include "support/ports.h"

namespace para::test {

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
    port_ = unused_loopback_port();
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
  iot::MqttEndpoint endpoint() const { return iot::MqttEndpoint{"127.0.0.1", port_, "", ""}; }
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
    iot::init_mosquitto_library();
    mosq_ = mosquitto_new("peer", true, this);
    mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_max_inflight_messages_set(mosq_, 0);  // unlimited: a flood
    mosquitto_message_callback_set(mosq_, [](mosquitto*, void* self, const mosquitto_message* m) {
      auto* peer = static_cast<Peer*>(self);
      std::lock_guard lock(peer->mutex_);
      peer->received_.push_back({m->topic, std::string(static_cast<const char*>(m->payload),
                                                       static_cast<std::size_t>(m->payloadlen))});
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
  struct Message {
    std::string topic;
    std::string payload;
  };
  std::vector<Message> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  // Different payloads received that start with `prefix` (QoS 1 may deliver
  // one twice).
  std::size_t distinct_payloads(std::string_view prefix = "") {
    std::lock_guard lock(mutex_);
    std::set<std::string> seen;
    for (const auto& m : received_)
      if (m.payload.starts_with(prefix)) seen.insert(m.payload);
    return seen.size();
  }

 private:
  mosquitto* mosq_;
  std::mutex mutex_;
  std::vector<Message> received_;
};

}  // namespace para::test
