#include "store/object_cache.h"

#include <functional>

namespace para::sqlite {

namespace {

// What an entry costs beyond its key and value: the slot, the index node,
// the buffer's header, roughly.
constexpr std::size_t kEntryOverhead = 128;

// Length-prefixed, so that no (appid, id) pair can spell another's key.
void append_key(std::string& out, std::string_view appid, std::string_view id) {
  out += std::to_string(appid.size());
  out.push_back(':');
  out.append(appid);
  out.append(id);
}

struct Key {
  std::string text;
  std::uint64_t hash;

  Key(std::string_view appid, std::string_view id) {
    text.reserve(appid.size() + id.size() + 8);
    append_key(text, appid, id);
    hash = std::hash<std::string_view>{}(text);
  }
};

}  // namespace

ObjectCache::ObjectCache(std::size_t capacity_bytes) : shard_capacity_(capacity_bytes / kShards) {}

void ObjectCache::release(Shard& shard, std::uint32_t slot) {
  Slot& s = shard.slots[slot];
  shard.bytes -= s.data.size() + kEntryOverhead;
  shard.index.erase(s.hash);
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

std::optional<std::string> ObjectCache::find(std::string_view appid, std::string_view id) {
  if (shard_capacity_ == 0) return std::nullopt;
  const Key key(appid, id);
  Shard& shard = shard_of(key.hash);
  std::lock_guard lock(shard.mutex);
  auto found = shard.index.find(key.hash);
  if (found == shard.index.end()) return std::nullopt;
  Slot& s = shard.slots[found->second];
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
  if (shard.stamped > ticket) return;  // read from a snapshot a later write may have outdated
  if (auto found = shard.index.find(key.hash); found != shard.index.end())
    release(shard, found->second);
  make_room(shard, cost);
  const std::uint32_t slot = take_slot(shard);
  Slot& s = shard.slots[slot];
  s.data.reserve(key.text.size() + json.size());
  s.data.assign(key.text).append(json);
  s.key_size = key.text.size();
  s.hash = key.hash;
  s.used = true;
  shard.bytes += cost;
  shard.index.emplace(key.hash, slot);
}

void ObjectCache::invalidate(std::string_view appid, std::string_view id) {
  const Key key(appid, id);
  Shard& shard = shard_of(key.hash);
  std::lock_guard lock(shard.mutex);
  shard.stamped = ++sequence_;
  // Whatever holds this hash goes, even another key's entry: rare and safe.
  if (auto found = shard.index.find(key.hash); found != shard.index.end())
    release(shard, found->second);
}

void ObjectCache::invalidate_all() {
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    shard.stamped = ++sequence_;
    shard.index.clear();
    shard.slots.clear();
    shard.free_slots.clear();
    shard.hand = 0;
    shard.bytes = 0;
  }
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
