#include "core/ids.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

namespace para {
namespace {

TEST(IdGenerator, UniqueAndIncreasingAcrossThreads) {
  IdGenerator ids(7);
  constexpr int kThreads = 8, kPerThread = 20000;
  std::vector<std::vector<std::int64_t>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i)
        seen[t].push_back(ids.next_value());
    });
  }
  for (auto& t : threads)
    t.join();
  std::set<std::int64_t> all;
  for (const auto& v : seen) {
    for (std::size_t i = 1; i < v.size(); ++i)
      ASSERT_LT(v[i - 1], v[i]) << "ids of one thread increase";
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(IdGenerator, LayoutMatchesParaSnowflake) {
  IdGenerator ids(5, [] { return IdGenerator::kEpochMs + 1000; });
  std::int64_t id = ids.next_value();
  EXPECT_EQ(id >> 22, 1000);
  EXPECT_EQ((id >> 12) & 0x1F, 5) << "worker id bits";
  EXPECT_EQ((id >> 17) & 0x1F, 0) << "datacenter bits";
  EXPECT_EQ(id & 0xFFF, 0);
  EXPECT_EQ(ids.next_value() & 0xFFF, 1) << "sequence within one millisecond";
  EXPECT_EQ(ids.next(), std::to_string(id + 2));
}

TEST(IdGenerator, WorkersNeverCollide) {
  auto clock = [] { return IdGenerator::kEpochMs + 42; };
  IdGenerator a(1, clock), b(2, clock);
  std::set<std::int64_t> all;
  for (int i = 0; i < 5000; ++i) {
    all.insert(a.next_value());
    all.insert(b.next_value());
  }
  EXPECT_EQ(all.size(), 10000u);
}

TEST(IdGenerator, ClockGoingBackwardsKeepsIdsIncreasing) {
  std::int64_t now = IdGenerator::kEpochMs + 10000;
  IdGenerator ids(1, [&] { return now; });
  std::int64_t before = ids.next_value();
  now -= 5000;
  EXPECT_GT(ids.next_value(), before);
}

TEST(IdGenerator, SequenceOverflowBorrowsTheNextMillisecond) {
  IdGenerator ids(1, [] { return IdGenerator::kEpochMs + 7; });
  std::int64_t last = 0;
  for (int i = 0; i < 10000; ++i) {
    std::int64_t id = ids.next_value();
    ASSERT_GT(id, last);
    last = id;
  }
}

}  // namespace
}  // namespace para
