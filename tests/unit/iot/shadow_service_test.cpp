// ShadowService against a real Mosquitto and a real SQLite store, with a
// rival node that changes the shadow between the service's read and its
// write, so that the service's compare-and-set fails: every update is still
// answered once, in the order sent, and lands on top of the rival's change.
#include "iot/local/shadow_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/json.h"
#include "iot/shadow.h"
#include "store/store.h"
#include "support/mosquitto_broker.h"

namespace para::iot {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::Broker;
using test::Peer;
using test::wait_until;

// The store, plus another node: before the next `rival_writes` writes of a
// shadow the service makes, the rival updates that shadow itself (reported
// "rival": 1, 2, ...), as a second para-server on the same database would.
class StoreWithRival final : public Store {
 public:
  explicit StoreWithRival(Store& store) : store_(store) {}

  std::atomic<int> rival_writes{0};
  std::atomic<int> rival_done{0};

  Result<std::vector<WriteOutcome>> write(std::span<const WriteOp> ops,
                                          Atomicity atomicity) override {
    for (const WriteOp& op : ops) {
      if (op.kind == WriteOp::Kind::kPutShadow && op.expected_version >= 0 &&
          rival_writes.fetch_sub(1) > 0) {
        rival_update(op.shadow.thing, op.shadow.name);
        break;
      }
    }
    return store_.write(ops, atomicity);
  }
  Result<std::optional<ParaObject>> get(std::string_view appid, std::string_view id) override {
    return store_.get(appid, id);
  }
  Result<std::vector<ParaObject>> get_many(std::string_view appid,
                                           std::span<const std::string> ids) override {
    return store_.get_many(appid, ids);
  }
  Result<std::optional<ShadowRow>> get_shadow(std::string_view thing,
                                              std::string_view name) override {
    return store_.get_shadow(thing, name);
  }
  Result<std::vector<ShadowRow>> lagging_thing_copies() override {
    return store_.lagging_thing_copies();
  }
  Result<std::vector<Job>> due_jobs(std::string_view kind, std::int64_t now_ms,
                                    std::size_t limit) override {
    return store_.due_jobs(kind, now_ms, limit);
  }
  Result<SearchPage> search(std::string_view appid, const SearchRequest& request) override {
    return store_.search(appid, request);
  }
  Status check_health() override { return store_.check_health(); }

 private:
  void rival_update(const std::string& thing, const std::string& name) {
    auto row = store_.get_shadow(thing, name);
    ASSERT_TRUE(row && *row);
    auto shadow = shadow_from_storage((*row)->document);
    ASSERT_TRUE(shadow);
    const int n = rival_done + 1;
    auto outcome =
        apply_update(*shadow, R"({"state":{"reported":{"rival":)" + std::to_string(n) + "}}}", 1,
                     ShadowLimits{});
    ASSERT_TRUE(outcome);
    WriteOp op;
    op.kind = WriteOp::Kind::kPutShadow;
    op.expected_version = (*row)->version;
    op.shadow = **row;
    op.shadow.document = to_storage_json(outcome->shadow);
    op.shadow.version = outcome->shadow.version();
    auto written = store_.write(std::span(&op, 1));
    ASSERT_TRUE(written);
    ASSERT_EQ(written->front(), WriteOutcome::kApplied);
    rival_done = n;
  }

  Store& store_;
};

class ShadowServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Broker::installed()) GTEST_SKIP() << "mosquitto is not installed";
    broker_.start();
    dir_ = fs::temp_directory_path() / ("para-shadows-" + std::to_string(std::random_device{}()));
    auto opened = open_sqlite_store({dir_.string(), false});
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    rival_ = std::make_unique<StoreWithRival>(*store_);
    ShadowServiceOptions options;
    options.endpoint = broker_.endpoint();
    options.workers = 2;
    service_ = std::make_unique<ShadowService>(*rival_, options);
    ASSERT_TRUE(service_->start());
  }
  void TearDown() override {
    if (service_) service_->stop();
    service_.reset();
    rival_.reset();
    store_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  Broker broker_;
  fs::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<StoreWithRival> rival_;
  std::unique_ptr<ShadowService> service_;
};

// 0 picks the count from the cores; a configured count is kept.
TEST(ShadowServiceWorkers, HalfTheCoresUnlessConfigured) {
  EXPECT_EQ(worker_count(0, 2), 1);
  EXPECT_EQ(worker_count(0, 1), 1);
  EXPECT_EQ(worker_count(0, 0), 1) << "the core count can be unknown";
  EXPECT_EQ(worker_count(0, 16), 8);
  EXPECT_EQ(worker_count(3, 16), 3);
  EXPECT_EQ(worker_count(16, 2), 16);
}

TEST(ShadowServiceClientId, IsNoThingsName) {
  EXPECT_FALSE(is_valid_thing_name(kServiceClientId));
}

TEST_F(ShadowServiceTest, UpdatesThatLoseACompareAndSetAreAppliedAgainInOrder) {
  const std::string thing = "app-thing1";
  ASSERT_TRUE(service_->register_thing(thing, "app", "thing1"));
  const std::string prefix = "$aws/things/" + thing + "/shadow/update";
  Peer device(broker_.port(), prefix + "/+");
  std::this_thread::sleep_for(100ms);  // the device's subscription is in place
  rival_->rival_writes = 3;
  constexpr int kUpdates = 60;
  for (int i = 0; i < kUpdates; ++i) {
    device.publish(prefix,
                   R"({"state":{"reported":{"n":)" + std::to_string(i) + R"(}},"clientToken":"t)" +
                       std::to_string(i) + "\"}",
                   1);
  }
  auto replies = [&] {
    std::vector<json::object> out;
    for (const auto& m : device.received()) {
      if (m.topic != prefix + "/accepted" && m.topic != prefix + "/rejected") continue;
      auto parsed = parse_json(m.payload);
      if (parsed && parsed->is_object()) out.push_back(parsed->as_object());
    }
    return out;
  };
  ASSERT_TRUE(wait_until([&] { return replies().size() >= kUpdates; }, 10s))
      << replies().size() << " replies";
  std::this_thread::sleep_for(100ms);  // nothing answered twice arrives late
  const auto answered = replies();
  ASSERT_EQ(answered.size(), static_cast<std::size_t>(kUpdates));
  EXPECT_EQ(rival_->rival_done, 3) << "the rival wrote between the service's read and write";
  std::int64_t last_version = 0;
  for (int i = 0; i < kUpdates; ++i) {
    const auto& reply = answered[static_cast<std::size_t>(i)];
    EXPECT_EQ(reply.at("clientToken").as_string(), "t" + std::to_string(i)) << "in the order sent";
    ASSERT_TRUE(reply.contains("version")) << "accepted, not rejected: " << to_json(reply);
    EXPECT_GT(reply.at("version").as_int64(), last_version);
    last_version = reply.at("version").as_int64();
  }
  auto stored = store_->get_shadow(thing, "");
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->version, kUpdates + 3);
  auto shadow = shadow_from_storage((*stored)->document);
  ASSERT_TRUE(shadow);
  const json::object& reported = shadow->reported();
  EXPECT_EQ(reported.size(), 2u) << to_json(reported);
  EXPECT_EQ(reported.contains("n") ? reported.at("n").as_int64() : -1, kUpdates - 1);
  EXPECT_EQ(reported.contains("rival") ? reported.at("rival").as_int64() : -1, 3)
      << "the service's updates were applied on top of the rival's";
}

}  // namespace
}  // namespace para::iot
