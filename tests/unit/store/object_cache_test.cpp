// The object cache: what it keeps, what it evicts, and that a write is never
// masked by a value read before it.
#include "store/object_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace para::sqlite {
namespace {

TEST(ObjectCache, FindsWhatWasInsertedPerAppAndId) {
  ObjectCache cache(1 << 20);
  cache.insert(cache.ticket(), "app", "1", R"({"id":"1"})");
  cache.insert(cache.ticket(), "ab", "c", "ab/c");
  cache.insert(cache.ticket(), "a", "bc", "a/bc");
  EXPECT_EQ(cache.find(cache.ticket(), "app", "1"), R"({"id":"1"})");
  EXPECT_EQ(cache.find(cache.ticket(), "ab", "c"), "ab/c");
  EXPECT_EQ(cache.find(cache.ticket(), "a", "bc"), "a/bc");
  EXPECT_EQ(cache.find(cache.ticket(), "other", "1"), std::nullopt);
  EXPECT_EQ(cache.find(cache.ticket(), "app", "2"), std::nullopt);
  cache.insert(cache.ticket(), "app", "1", "newer");
  EXPECT_EQ(cache.find(cache.ticket(), "app", "1"), "newer");
  // Keys too long for the stack buffer.
  const std::string long_id(300, 'x');
  cache.insert(cache.ticket(), "app", long_id, "long");
  EXPECT_EQ(cache.find(cache.ticket(), "app", long_id), "long");
  EXPECT_EQ(cache.find(cache.ticket(), "app", long_id + "y"), std::nullopt);
  cache.begin_write("app", long_id);
  cache.end_write("app", long_id);
  EXPECT_EQ(cache.find(cache.ticket(), "app", long_id), std::nullopt);
}

TEST(ObjectCache, ZeroCapacityKeepsNothing) {
  ObjectCache cache(0);
  cache.insert(cache.ticket(), "app", "1", "x");
  EXPECT_EQ(cache.find(cache.ticket(), "app", "1"), std::nullopt);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(ObjectCache, StaysWithinItsCapacity) {
  const std::size_t capacity = 64 << 10;
  ObjectCache cache(capacity);
  const std::string json(500, 'j');
  for (int i = 0; i < 2000; ++i) {
    cache.insert(cache.ticket(), "app", std::to_string(i), json);
    ASSERT_LE(cache.bytes(), capacity);
  }
  int kept = 0;
  for (int i = 0; i < 2000; ++i)
    kept += cache.find(cache.ticket(), "app", std::to_string(i)).has_value();
  EXPECT_GT(kept, 50);    // most of the capacity is used...
  EXPECT_LT(kept, 2000);  // ...and older entries left
  EXPECT_GT(cache.bytes(), capacity / 2);
}

TEST(ObjectCache, EntriesFoundSurviveThoseNot) {
  // Room for about 16 entries per shard; 16 hot keys are found between every
  // insertion of a cold one, so the clock always gives them a second chance.
  ObjectCache cache(16 * 16 * (600 + 128 + 16));
  const std::string json(600, 'j');
  for (int h = 0; h < 16; ++h)
    cache.insert(cache.ticket(), "app", "hot" + std::to_string(h), json);
  for (int i = 0; i < 3000; ++i) {
    cache.insert(cache.ticket(), "app", "cold" + std::to_string(i), json);
    for (int h = 0; h < 16; ++h)
      ASSERT_TRUE(cache.find(cache.ticket(), "app", "hot" + std::to_string(h)))
          << "hot" << h << " at " << i;
  }
}

// A write in an emulated store: begin_write, the commit, end_write.
void write(ObjectCache& cache, std::string_view id) {
  cache.begin_write("app", id);
  cache.end_write("app", id);
}

TEST(ObjectCache, ValueReadBeforeAWriteIsNotInserted) {
  ObjectCache cache(1 << 20);
  const auto before = cache.ticket();
  write(cache, "1");  // committed after `before` was taken
  cache.insert(before, "app", "1", "stale");
  EXPECT_EQ(cache.find(cache.ticket(), "app", "1"), std::nullopt);
  cache.insert(cache.ticket(), "app", "1", "fresh");
  EXPECT_EQ(cache.find(cache.ticket(), "app", "1"), "fresh");
}

TEST(ObjectCache, ValueNewerThanASnapshotIsNotServedToIt) {
  ObjectCache cache(1 << 20);
  cache.insert(cache.ticket(), "app", "1", "v1");
  const auto old_snapshot = cache.ticket();
  write(cache, "1");
  cache.insert(cache.ticket(), "app", "1", "v2");  // read by a newer snapshot
  EXPECT_EQ(cache.find(old_snapshot, "app", "1"), std::nullopt);
  EXPECT_EQ(cache.find(cache.ticket(), "app", "1"), "v2");
}

TEST(ObjectCache, NothingIsServedOrCachedWhileAWriteIsInFlight) {
  ObjectCache cache(1 << 20);
  cache.insert(cache.ticket(), "app", "1", "v1");
  cache.begin_write("app", "1");
  EXPECT_EQ(cache.find(cache.ticket(), "app", "1"), std::nullopt);
  cache.insert(cache.ticket(), "app", "1", "v1 or v2?");
  EXPECT_EQ(cache.find(cache.ticket(), "app", "1"), std::nullopt);
  cache.end_write("app", "1");
  EXPECT_EQ(cache.find(cache.ticket(), "app", "1"), std::nullopt);
  cache.insert(cache.ticket(), "app", "1", "v2");
  EXPECT_EQ(cache.find(cache.ticket(), "app", "1"), "v2");
}

TEST(ObjectCache, WritesDropEntries) {
  ObjectCache cache(1 << 20);
  for (int i = 0; i < 100; ++i)
    cache.insert(cache.ticket(), "app", std::to_string(i), "v");
  write(cache, "7");
  EXPECT_EQ(cache.find(cache.ticket(), "app", "7"), std::nullopt);
  EXPECT_EQ(cache.find(cache.ticket(), "app", "8"), "v");
  const auto before = cache.ticket();
  cache.begin_write_all();
  EXPECT_EQ(cache.bytes(), 0u);
  cache.insert(cache.ticket(), "app", "8", "during");
  EXPECT_EQ(cache.find(cache.ticket(), "app", "8"), std::nullopt);
  cache.end_write_all();
  cache.insert(before, "app", "8", "stale");  // every shard was written after `before`
  EXPECT_EQ(cache.find(cache.ticket(), "app", "8"), std::nullopt);
}

// Readers cache what their snapshots read while a writer commits new
// versions: a reader is only ever served the version its own snapshot holds,
// and once the writer is done no reader brings back an older one.
TEST(ObjectCache, ReadersSeeTheirSnapshotAndWritesAreNeverMasked) {
  ObjectCache cache(1 << 20);
  constexpr int kKeys = 8, kVersions = 3000;
  std::vector<std::atomic<int>> committed(kKeys);
  std::atomic<bool> done{false};
  std::atomic<int> reader_violations{0}, hits{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      for (int i = r; !done; ++i) {
        const int k = i % kKeys;
        const std::string id = std::to_string(k);
        const auto ticket = cache.ticket();        // before the snapshot
        const int snapshot = committed[k].load();  // the snapshot's read
        if (i % 7 == 0) std::this_thread::yield();
        if (auto seen = cache.find(ticket, "app", id)) {
          ++hits;
          if (*seen != std::to_string(snapshot)) ++reader_violations;
        } else {
          cache.insert(ticket, "app", id, std::to_string(snapshot));
        }
      }
    });
  }
  int writer_violations = 0;
  for (int v = 1; v <= kVersions; ++v) {
    if (v % 300 == 0) {  // let the readers hit between writes, not only after them
      const int before = hits.load();
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (hits.load() == before && std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
    }
    const int k = v % kKeys;
    cache.begin_write("app", std::to_string(k));
    committed[k].store(v);  // the commit
    cache.end_write("app", std::to_string(k));
    auto seen = cache.find(cache.ticket(), "app", std::to_string(k));
    if (seen && *seen != std::to_string(v)) ++writer_violations;
  }
  done = true;
  for (auto& t : readers)
    t.join();
  EXPECT_EQ(writer_violations, 0);
  EXPECT_EQ(reader_violations, 0);
  EXPECT_GE(hits, kVersions / 300);
}

}  // namespace
}  // namespace para::sqlite
