// KeyPool: device key pairs made ahead of demand, so that a burst of Thing
// creations does not wait for key generation (RSA-2048 takes ~0.1-0.3 s of
// CPU per key; EC P-256 is too fast to need this).
//
// Once the first key has been taken, a background thread at the lowest CPU
// priority keeps up to `capacity` keys ready. take() hands out a ready key,
// or generates one in the calling thread when none is ready, so the pool
// never makes a request slower than generating inline. Sustained demand
// above the generation rate is still bounded by it.
//
// Keys exist only in this process's memory until taken; the pool never
// writes or logs them, and frees (OpenSSL clears private key material) the
// ones still waiting when it is destroyed.
//
// Private to the crypto folder (CertificateAuthority uses it).
// Thread-safety: take() and ready() may be called from any thread.
#pragma once

#include <openssl/types.h>

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"

namespace para::crypto {

struct EvpPkeyFree {
  void operator()(EVP_PKEY* key) const noexcept;
};
using KeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

class KeyPool {
 public:
  using Generator = std::function<Result<KeyPtr>()>;

  // `generate` makes one key; `capacity` keys at most wait in the pool.
  KeyPool(Generator generate, std::size_t capacity);
  ~KeyPool();  // waits for a key being generated, then frees the rest
  KeyPool(const KeyPool&) = delete;
  KeyPool& operator=(const KeyPool&) = delete;

  // A ready key, else a new one made now. Errors: the generator's.
  Result<KeyPtr> take();

  // Keys waiting (for tests and metrics).
  std::size_t ready() const;

 private:
  void refill();

  const Generator generate_;
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable wanted_;
  std::vector<KeyPtr> keys_;  // guarded by mutex_
  bool stopping_ = false;     // guarded by mutex_
  std::thread refiller_;      // started by the first take()
};

}  // namespace para::crypto
