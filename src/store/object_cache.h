// Clients' JSON of recently shown objects, shared by all of the store's
// readers.
//
// A page of search results names its rows from an index, then needs each
// row's JSON: one B-tree descent per row into a table far larger than the
// CPU caches, which for a page of 30 costs more than finding the page. The
// cache answers those reads from memory; popular objects stay in it.
//
// Coherence with writes, without holding any lock across a read transaction:
// a reader sees from the cache exactly what its own snapshot holds.
// - A reader takes a ticket() before its read transaction starts.
// - The writer brackets the COMMIT that makes its objects visible with
//   begin_write() and end_write() on each of them; both stamp the key's
//   shard with a new sequence number and drop the key. While any write to a
//   shard is in flight, the shard accepts no new entry.
// - insert() drops a value if its shard was stamped after the reader's
//   ticket (the reader's snapshot may predate that write); an entry keeps
//   the stamp its shard had when it went in, and find() serves it only to a
//   reader whose ticket is at least that (an older snapshot may predate the
//   write the value shows).
// So a cached value is always the last committed version of its object,
// every reader allowed to see it has that version in its snapshot, and once
// a writer is told its write is done no reader sees an older one. A shard
// covers many keys: a write elsewhere in it only costs hits and insertions
// for a moment.
//
// Capacity is in bytes (keys, values and bookkeeping); entries not found
// since the eviction clock last passed them leave first. A capacity of 0
// caches nothing.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace para::sqlite {

class ObjectCache {
 public:
  using Ticket = std::uint64_t;

  explicit ObjectCache(std::size_t capacity_bytes);
  ObjectCache(const ObjectCache&) = delete;
  ObjectCache& operator=(const ObjectCache&) = delete;

  // Take before the read transaction that will use find() and insert() begins.
  Ticket ticket() const { return sequence_.load(); }

  // The cached JSON of object `id` of app `appid`, if any, as a reader
  // holding `ticket` sees it.
  std::optional<std::string> find(Ticket ticket, std::string_view appid, std::string_view id);

  // Caches `json` as read under `ticket`, unless a write since may have changed it.
  void insert(Ticket ticket, std::string_view appid, std::string_view id, std::string_view json);

  // Around the commit of a write to the object; every begin_write needs its
  // end_write, whether the commit succeeded or not. The *_all forms cover
  // every object (an app's partition dropped).
  void begin_write(std::string_view appid, std::string_view id);
  void end_write(std::string_view appid, std::string_view id);
  void begin_write_all();
  void end_write_all();

  // What the entries take now, as counted against the capacity.
  std::size_t bytes() const;

 private:
  static constexpr std::size_t kShards = 16;
  // One cached object. Key and JSON share one buffer, so a lookup that
  // checks the key has already fetched the start of what it copies.
  struct Slot {
    std::string data;  // key, then JSON
    std::size_t key_size = 0;
    std::uint64_t hash = 0;
    std::uint64_t stamp = 0;  // the shard's stamp when it went in
    bool used = false;
    bool referenced = false;  // found since the clock hand last passed
  };
  // Eviction is CLOCK (second chance): a hit only sets a flag, so reads do
  // not reorder a list under the lock.
  struct Shard {
    mutable std::mutex mutex;
    std::vector<Slot> slots;
    std::vector<std::uint32_t> free_slots;
    boost::unordered_flat_map<std::uint64_t, std::uint32_t> index;  // hash of the key -> slot
    std::size_t hand = 0;
    std::size_t bytes = 0;
    std::uint64_t stamped = 0;  // sequence number of the last begin or end of a write
    int writing = 0;            // writes in flight
  };

  Shard& shard_of(std::uint64_t hash) { return shards_[hash % kShards]; }
  static void release(Shard& shard, std::uint32_t slot);
  static std::uint32_t take_slot(Shard& shard);
  void make_room(Shard& shard, std::size_t needed) const;
  // Stamp the key's shard (every shard) and drop the key (every key);
  // writes in flight there += delta.
  void mark_write(std::uint64_t hash, int delta);
  void mark_write_all(int delta);

  std::size_t shard_capacity_;
  std::atomic<std::uint64_t> sequence_{0};
  std::array<Shard, kShards> shards_;
};

}  // namespace para::sqlite
