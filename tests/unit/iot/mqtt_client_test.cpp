// MqttClient against a real Mosquitto on a loopback port: messages in and
// out at both QoS, stop() under traffic (queued replies still leave, then a
// clean DISCONNECT), stop() with no broker, and reconnection after the broker
// comes back. Skips when mosquitto is not installed.
#include "iot/local/mqtt_client.h"

#include "support/mosquitto_broker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace para::iot {
namespace {

using namespace std::chrono_literals;
using test::Broker;
using test::Peer;
using test::wait_until;

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
  // Every QoS 1 request is answered; QoS 0 may be dropped by the broker under a flood.
  ASSERT_TRUE(wait_until([&] { return peer.distinct_payloads("q1-") == kEach; }, 20s))
      << peer.distinct_payloads("q1-") << " of " << kEach << " QoS 1 requests answered";
  EXPECT_GE(peer.distinct_payloads("q0-"), kEach - 100u);
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
  EXPECT_TRUE(wait_until([&] { return peer.received().size() == 1; }));
  client->stop();
}

}  // namespace
}  // namespace para::iot
