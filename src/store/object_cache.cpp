#include "store/object_cache.h"

#include <charconv>
#include <cstring>
#include <functional>

namespace para::sqlite {

namespace {

// What an entry costs beyond its key and value: the slot, the index node,
// the buffer's header, roughly.
constexpr std::size_t kEntryOverhead = 128;

// An object's key: length-prefixed, so that no (appid, id) pair can spell
// another's. Built on the stack when short, as almost all are.
class Key {
 public:
  Key(std::string_view appid, std::string_view id) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, appid.size()).ptr;
    const std::string_view length(digits, static_cast<std::size_t>(end - digits));
    const std::size_t size = length.size() + 1 + appid.size() + id.size();
    char* out = size <= sizeof inline_ ? inline_ : (spilled_.resize(size), spilled_.data());
    std::memcpy(out, length.data(), length.size());
    out[length.size()] = ':';
    std::memcpy(out + length.size() + 1, appid.data(), appid.size());
    std::memcpy(out + length.size() + 1 + appid.size(), id.data(), id.size());
    text = std::string_view(out, size);
    hash = std::hash<std::string_view>{}(text);
  }
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;

  std::string_view text;
  std::uint64_t hash;

 private:
  char inline_[112];
  std::string spilled_;
};

}  // namespace

ObjectCache::ObjectCache(std::size_t capacity_bytes) : shard_capacity_(capacity_bytes / kShards) {}

void ObjectCache::release(Shard& shard, std::uint32_t slot) {
  Slot& s = shard.slots[slot];
  shard.bytes -= s.data.size() + kEntryOverhead;
  shard.index.erase(s.hash);
  std::string().swap(s.data);  // an emptied string would keep its buffer
  s = Slot{};
  shard.free_slots.push_back(slot);
}

std::uint32_t ObjectCache::take_slot(Shard& shard) {
  if (!shard.free_slots.empty()) {
    std::uint32_t slot = shard.free_slots.back();
    shard.free_slots.pop_back();
    return slot;
  }
  shard.slots.emplace_back();
  return static_cast<std::uint32_t>(shard.slots.size() - 1);
}

// Evicts until `needed` more bytes fit: the hand clears the flag of entries
// found since it last passed and evicts the first one without.
void ObjectCache::make_room(Shard& shard, std::size_t needed) const {
  while (shard.bytes + needed > shard_capacity_ && shard.index.size() > 0) {
    if (shard.hand >= shard.slots.size()) shard.hand = 0;
    Slot& s = shard.slots[shard.hand];
    if (s.used && s.referenced) {
      s.referenced = false;
    } else if (s.used) {
      release(shard, static_cast<std::uint32_t>(shard.hand));
    }
    ++shard.hand;
  }
}

std::optional<std::string> ObjectCache::find(Ticket ticket, std::string_view appid,
                                             std::string_view id) {
  if (shard_capacity_ == 0) return std::nullopt;
  const Key key(appid, id);
  Shard& shard = shard_of(key.hash);
  std::lock_guard lock(shard.mutex);
  auto found = shard.index.find(key.hash);
  if (found == shard.index.end()) return std::nullopt;
  Slot& s = shard.slots[found->second];
  if (s.stamp > ticket) return std::nullopt;  // may be newer than the reader's snapshot
  const std::string_view data = s.data;
  if (data.substr(0, s.key_size) != key.text) return std::nullopt;  // another key, same hash
  s.referenced = true;
  return std::string(data.substr(s.key_size));
}

void ObjectCache::insert(Ticket ticket, std::string_view appid, std::string_view id,
                         std::string_view json) {
  const Key key(appid, id);
  const std::size_t cost = key.text.size() + json.size() + kEntryOverhead;
  if (cost > shard_capacity_) return;
  Shard& shard = shard_of(key.hash);
  std::lock_guard lock(shard.mutex);
  // Read from a snapshot that a write since, or in flight, may have outdated.
  if (shard.writing > 0 || shard.stamped > ticket) return;
  if (auto found = shard.index.find(key.hash); found != shard.index.end())
    release(shard, found->second);
  make_room(shard, cost);
  const std::uint32_t slot = take_slot(shard);
  Slot& s = shard.slots[slot];
  s.data.reserve(key.text.size() + json.size());
  s.data.assign(key.text).append(json);
  s.key_size = key.text.size();
  s.hash = key.hash;
  s.stamp = shard.stamped;
  s.used = true;
  shard.bytes += cost;
  shard.index.emplace(key.hash, slot);
}

void ObjectCache::mark_write(std::uint64_t hash, int delta) {
  Shard& shard = shard_of(hash);
  std::lock_guard lock(shard.mutex);
  shard.writing += delta;
  shard.stamped = ++sequence_;
  // Whatever holds this hash goes, even another key's entry: rare and safe.
  if (auto found = shard.index.find(hash); found != shard.index.end())
    release(shard, found->second);
}

void ObjectCache::mark_write_all(int delta) {
  if (shard_capacity_ == 0) return;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    shard.writing += delta;
    shard.stamped = ++sequence_;
    shard.index.clear();
    shard.slots.clear();
    shard.free_slots.clear();
    shard.hand = 0;
    shard.bytes = 0;
  }
}

void ObjectCache::begin_write(std::string_view appid, std::string_view id) {
  if (shard_capacity_ == 0) return;  // nothing is ever cached
  const Key key(appid, id);
  mark_write(key.hash, +1);
}

void ObjectCache::end_write(std::string_view appid, std::string_view id) {
  if (shard_capacity_ == 0) return;
  const Key key(appid, id);
  mark_write(key.hash, -1);
}

void ObjectCache::begin_write_all() {
  mark_write_all(+1);
}

void ObjectCache::end_write_all() {
  mark_write_all(-1);
}

std::size_t ObjectCache::bytes() const {
  std::size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.bytes;
  }
  return total;
}

}  // namespace para::sqlite
