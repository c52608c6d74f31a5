#include "crypto/key_pool.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

namespace para::crypto {

void EvpPkeyFree::operator()(EVP_PKEY* key) const noexcept {
  EVP_PKEY_free(key);
}

KeyPool::KeyPool(Generator generate, std::size_t capacity)
    : generate_(std::move(generate)), capacity_(capacity) {}

KeyPool::~KeyPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wanted_.notify_all();
  if (refiller_.joinable()) refiller_.join();
}

Result<KeyPtr> KeyPool::take() {
  {
    std::lock_guard lock(mutex_);
    if (capacity_ > 0 && !refiller_.joinable() && !stopping_) {
      refiller_ = std::thread([this] { refill(); });
    }
    if (!keys_.empty()) {
      KeyPtr key = std::move(keys_.back());
      keys_.pop_back();
      wanted_.notify_one();
      return key;
    }
  }
  return generate_();
}

std::size_t KeyPool::ready() const {
  std::lock_guard lock(mutex_);
  return keys_.size();
}

void KeyPool::refill() {
  // Spare CPU only: requests and shadow updates come first. (On Linux the
  // nice value of a thread id applies to that thread alone.)
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19);
  std::unique_lock lock(mutex_);
  for (;;) {
    wanted_.wait(lock, [this] { return stopping_ || keys_.size() < capacity_; });
    if (stopping_) return;
    lock.unlock();
    auto key = generate_();
    lock.lock();
    if (!key) {
      spdlog::warn("crypto: key pool: {}", key.error().message);
      // Do not spin on a failing generator: the next take() generates inline.
      wanted_.wait(lock, [this] { return stopping_; });
      return;
    }
    keys_.push_back(std::move(*key));
  }
}

}  // namespace para::crypto
