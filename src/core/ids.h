// Snowflake ids, as Para makes them: decimal strings of
//   (ms since 2011-07-07T00:23:04.692Z) << 22 | datacenter << 17 | worker << 12 | sequence
// Ids from one generator are unique and strictly increasing; generators with
// different `worker_id` (para.worker_id, 0..31) never collide.
//
// Thread-safety: next() may be called from any thread.
// Errors: none. If the clock steps back, ids keep increasing from the last
// one issued instead of failing (Para throws; a server should not).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace para {

class IdGenerator {
 public:
  static constexpr std::int64_t kEpochMs = 1310084584692;

  // `now_ms` returns the current epoch time in ms; injectable for tests.
  explicit IdGenerator(int worker_id, std::function<std::int64_t()> now_ms = {});

  std::string next();
  std::int64_t next_value();

 private:
  const std::int64_t worker_bits_;
  const std::function<std::int64_t()> now_ms_;
  std::mutex mutex_;
  std::int64_t last_ms_ = 0;   // guarded by mutex_
  std::int64_t sequence_ = 0;  // guarded by mutex_
};

// Milliseconds since the Unix epoch, from the system clock.
std::int64_t epoch_millis();

}  // namespace para
