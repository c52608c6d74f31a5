// One page of search results chosen in a single pass over the matches.
//
// A search whose matches come out of an index in no useful order (a name
// prefix, a wildcard, full text, a distance) needs every match twice: all of
// them to count totalHits, and all of them again to sort and cut out the
// page. PageSelection does both at once: it is offered every match (sort key,
// id, rowid), counts it, and keeps only the best `keep` rows in a bounded
// heap, so one index scan answers the page and the total.
//
// Order is (key, id), descending or ascending, as the SQL path sorts: ids
// break ties, so the order is total and a cursor marks an exact position.
// Keys are integers (timestamp, updated, version); a cursor key of another
// SQLite type compares as SQLite does (numbers before text).
//
// Thread-safety: none; one selection per search.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite_query.h"

namespace para::sqlite {

struct PageCursor {
  SqlValue key;
  std::string id;
};

class PageSelection {
 public:
  struct Row {
    std::int64_t key;
    std::string id;
    std::int64_t rowid;
  };

  // Keeps the first `keep` rows in order, of those after `after` if given.
  PageSelection(std::size_t keep, bool descending, std::optional<PageCursor> after = {});

  // One match. Every match is counted; `id` is copied only if the row is kept.
  void offer(std::int64_t key, std::string_view id, std::int64_t rowid);

  // The same, where `read_id()` gives the id and is called only when the key
  // alone cannot rule the row out (most rows of a large scan are not read).
  template <class ReadId>
  void offer(std::int64_t key, std::int64_t rowid, ReadId&& read_id) {
    if (!rejects_by_key(key)) return offer(key, read_id(), rowid);
    ++matches_;
  }

  // Matches offered, whether kept or not (the cursor does not reduce it).
  std::int64_t matches() const { return matches_; }

  // The kept rows in order, without the first `skip` of them.
  std::vector<Row> page(std::size_t skip) &&;

 private:
  // A kept row; its id lives in ids_, so the heap moves small plain values.
  struct Kept {
    std::int64_t key;
    std::int64_t rowid;
    std::uint32_t id_slot;
  };

  // Whether (key, id) comes before `row` in the page order.
  bool before(std::int64_t key, std::string_view id, const Kept& row) const {
    if (key != row.key) return descending_ ? key > row.key : key < row.key;
    const std::string& row_id = ids_[row.id_slot];
    return descending_ ? id > row_id : id < row_id;
  }
  bool comes_first(const Kept& a, const Kept& b) const { return before(a.key, ids_[a.id_slot], b); }
  bool after_cursor(std::int64_t key, std::string_view id) const;
  // Whether the row falls outside the page whatever its id.
  bool rejects_by_key(std::int64_t key) const;

  std::size_t keep_;
  bool descending_;
  std::optional<PageCursor> after_;
  std::vector<Kept> heap_;        // front: the kept row that comes last
  std::vector<std::string> ids_;  // by Kept::id_slot
  std::int64_t matches_ = 0;
};

}  // namespace para::sqlite
