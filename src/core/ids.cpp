#include "core/ids.h"

#include <chrono>

namespace para {

std::int64_t epoch_millis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

IdGenerator::IdGenerator(int worker_id, std::function<std::int64_t()> now_ms)
    : worker_bits_(static_cast<std::int64_t>(worker_id & 0x1F) << 12),
      now_ms_(now_ms ? std::move(now_ms) : std::function<std::int64_t()>(epoch_millis)) {}

std::int64_t IdGenerator::next_value() {
  std::int64_t now = now_ms_();
  std::lock_guard lock(mutex_);
  if (now > last_ms_) {
    last_ms_ = now;
    sequence_ = 0;
  } else if (++sequence_ > 0xFFF) {
    // 4096 ids in one millisecond (or a clock that went back): borrow the
    // next millisecond rather than spin or fail.
    ++last_ms_;
    sequence_ = 0;
  }
  return ((last_ms_ - kEpochMs) << 22) | worker_bits_ | sequence_;
}

std::string IdGenerator::next() {
  return std::to_string(next_value());
}

}  // namespace para
