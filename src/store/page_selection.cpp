#include "store/page_selection.h"

#include <algorithm>
#include <utility>
#include <variant>

namespace para::sqlite {

namespace {

// -1, 0, 1 as SQLite orders an integer against a value of any type: numbers
// by value, and every number before every text.
int compare_key(std::int64_t key, const SqlValue& other) {
  if (const auto* i = std::get_if<std::int64_t>(&other)) return key < *i ? -1 : key > *i;
  if (const auto* d = std::get_if<double>(&other)) {
    const auto k = static_cast<double>(key);
    return k < *d ? -1 : k > *d;
  }
  return -1;
}

int compare_id(std::string_view a, std::string_view b) {
  int c = a.compare(b);  // bytewise, as SQLite's BINARY collation
  return c < 0 ? -1 : c > 0;
}

}  // namespace

PageSelection::PageSelection(std::size_t keep, bool descending, std::optional<PageCursor> after)
    : keep_(keep), descending_(descending), after_(std::move(after)) {
  heap_.reserve(std::min<std::size_t>(keep_, 1024));
  ids_.reserve(std::min<std::size_t>(keep_, 1024));
}

bool PageSelection::after_cursor(std::int64_t key, std::string_view id) const {
  int c = compare_key(key, after_->key);
  if (c == 0) c = compare_id(id, after_->id);
  return descending_ ? c < 0 : c > 0;
}

bool PageSelection::rejects_by_key(std::int64_t key) const {
  if (keep_ == 0) return true;
  if (after_) {
    int c = compare_key(key, after_->key);
    if (c != 0 && (descending_ ? c > 0 : c < 0)) return true;
  }
  if (heap_.size() < keep_) return false;
  const std::int64_t worst = heap_.front().key;
  return key != worst && (descending_ ? key < worst : key > worst);
}

void PageSelection::offer(std::int64_t key, std::string_view id, std::int64_t rowid) {
  ++matches_;
  if (keep_ == 0) return;
  if (after_ && !after_cursor(key, id)) return;
  // The heap's order puts the row that comes last at the front.
  auto order = [this](const Kept& a, const Kept& b) { return comes_first(a, b); };
  if (heap_.size() == keep_) {
    if (!before(key, id, heap_.front())) return;
    std::pop_heap(heap_.begin(), heap_.end(), order);
    Kept& evicted = heap_.back();
    ids_[evicted.id_slot].assign(id);  // reused: the slot keeps its buffer
    evicted.key = key;
    evicted.rowid = rowid;
  } else {
    ids_.emplace_back(id);
    heap_.push_back(Kept{key, rowid, static_cast<std::uint32_t>(ids_.size() - 1)});
  }
  std::push_heap(heap_.begin(), heap_.end(), order);
}

std::vector<PageSelection::Row> PageSelection::page(std::size_t skip) && {
  std::sort_heap(heap_.begin(), heap_.end(),
                 [this](const Kept& a, const Kept& b) { return comes_first(a, b); });
  std::vector<Row> rows;
  if (skip >= heap_.size()) return rows;
  rows.reserve(heap_.size() - skip);
  for (std::size_t i = skip; i < heap_.size(); ++i) {
    const Kept& k = heap_[i];
    rows.push_back(Row{k.key, std::move(ids_[k.id_slot]), k.rowid});
  }
  return rows;
}

}  // namespace para::sqlite
