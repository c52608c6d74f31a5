// The key pool: keys made ahead of demand, never one handed out twice, and
// never slower than making a key inline.
#include "crypto/key_pool.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>

namespace para::crypto {
namespace {

// EC keys: as real as RSA for the pool's purposes, and fast.
KeyPool::Generator counting_generator(std::atomic<int>& calls) {
  return [&calls]() -> Result<KeyPtr> {
    ++calls;
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    if (!key) return internal_error("keygen");
    return KeyPtr(key);
  };
}

std::string public_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pem;
}

bool wait_until(const std::function<bool()>& done) {
  for (int i = 0; i < 500; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

TEST(KeyPool, StartsFillingAtTheFirstRequestAndStopsAtCapacity) {
  std::atomic<int> calls{0};
  KeyPool pool(counting_generator(calls), 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(calls, 0) << "no keys are made before anyone asks for one";
  auto first = pool.take();
  ASSERT_TRUE(first);
  ASSERT_TRUE(wait_until([&] { return pool.ready() == 3; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(pool.ready(), 3u);
  EXPECT_EQ(calls, 4) << "the pool stops at its capacity";
}

TEST(KeyPool, EveryKeyIsHandedOutOnce) {
  std::atomic<int> calls{0};
  KeyPool pool(counting_generator(calls), 4);
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    auto key = pool.take();
    ASSERT_TRUE(key);
    EXPECT_TRUE(seen.insert(public_pem(key->get())).second)
        << "key " << i << " was handed out before";
    if (i % 5 == 0) wait_until([&] { return pool.ready() == 4; });
  }
  EXPECT_LE(calls, 24);
}

TEST(KeyPool, ConcurrentTakersGetDistinctKeys) {
  std::atomic<int> calls{0};
  KeyPool pool(counting_generator(calls), 8);
  std::mutex mutex;
  std::set<std::string> seen;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto key = pool.take();
        ASSERT_TRUE(key);
        std::lock_guard lock(mutex);
        seen.insert(public_pem(key->get()));
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(seen.size(), 40u);
}

TEST(KeyPool, AnEmptyPoolMakesTheKeyInTheCaller) {
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> made_by_caller{0};
  std::atomic<int> calls{0};
  auto generate = counting_generator(calls);
  KeyPool pool(
      [&]() {
        if (std::this_thread::get_id() == caller) ++made_by_caller;
        return generate();
      },
      2);
  ASSERT_TRUE(pool.take());
  EXPECT_EQ(made_by_caller, 1);
  ASSERT_TRUE(wait_until([&] { return pool.ready() == 2; }));
  ASSERT_TRUE(pool.take());
  EXPECT_EQ(made_by_caller, 1) << "a ready key is handed out, not made";
}

TEST(KeyPool, ZeroCapacityOnlyMakesKeysOnDemand) {
  std::atomic<int> calls{0};
  KeyPool pool(counting_generator(calls), 0);
  ASSERT_TRUE(pool.take());
  ASSERT_TRUE(pool.take());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(pool.ready(), 0u);
}

TEST(KeyPool, AFailingGeneratorFailsTheRequestAndDoesNotSpin) {
  std::atomic<int> calls{0};
  KeyPool pool(
      [&]() -> Result<KeyPtr> {
        ++calls;
        return internal_error("no entropy");
      },
      4);
  auto key = pool.take();
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().message, "no entropy");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_LE(calls, 2) << "the refiller gives up instead of retrying in a loop";
  EXPECT_FALSE(pool.take());
}

TEST(KeyPool, DestroyingAFullPoolFreesItsKeys) {
  std::atomic<int> calls{0};
  {
    KeyPool pool(counting_generator(calls), 4);
    ASSERT_TRUE(pool.take());
    ASSERT_TRUE(wait_until([&] { return pool.ready() == 4; }));
  }  // LeakSanitizer checks that the four waiting keys were freed
  EXPECT_EQ(calls, 5);
}

}  // namespace
}  // namespace para::crypto
