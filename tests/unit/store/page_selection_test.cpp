#include "store/page_selection.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace para::sqlite {
namespace {

struct Match {
  std::int64_t key;
  std::string id;
  std::int64_t rowid;
};

// Many equal keys, so ids decide often.
std::vector<Match> random_matches(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<Match> out;
  for (std::size_t i = 0; i < n; ++i) {
    std::int64_t key = static_cast<std::int64_t>(rng() % 20);
    out.push_back({key, "id" + std::to_string(rng() % 100000) + "-" + std::to_string(i),
                   static_cast<std::int64_t>(i + 1)});
  }
  return out;
}

// What ORDER BY key, id (ASC or DESC) LIMIT keep OFFSET skip returns.
std::vector<std::int64_t> sorted_rowids(std::vector<Match> all, bool descending, std::size_t skip,
                                        std::size_t keep) {
  std::sort(all.begin(), all.end(), [&](const Match& a, const Match& b) {
    auto ka = std::tie(a.key, a.id);
    auto kb = std::tie(b.key, b.id);
    return descending ? kb < ka : ka < kb;
  });
  std::vector<std::int64_t> out;
  for (std::size_t i = skip; i < std::min(all.size(), skip + keep); ++i)
    out.push_back(all[i].rowid);
  return out;
}

std::vector<std::int64_t> rowids(std::vector<PageSelection::Row> rows) {
  std::vector<std::int64_t> out;
  for (const auto& r : rows)
    out.push_back(r.rowid);
  return out;
}

TEST(PageSelection, KeepsExactlyThePageASortWouldCutOut) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    auto all = random_matches(seed * 13, seed);
    for (bool descending : {true, false}) {
      for (std::size_t skip : {0u, 1u, 7u, 300u}) {
        for (std::size_t limit : {1u, 5u, 30u}) {
          SCOPED_TRACE("seed " + std::to_string(seed) + " desc " + std::to_string(descending) +
                       " skip " + std::to_string(skip) + " limit " + std::to_string(limit));
          PageSelection selection(skip + limit, descending);
          for (const auto& m : all)
            selection.offer(m.key, m.id, m.rowid);
          EXPECT_EQ(selection.matches(), static_cast<std::int64_t>(all.size()));
          EXPECT_EQ(rowids(std::move(selection).page(skip)),
                    sorted_rowids(all, descending, skip, limit));

          PageSelection lazy(skip + limit, descending);
          for (const auto& m : all)
            lazy.offer(m.key, m.rowid, [&] { return std::string_view(m.id); });
          EXPECT_EQ(lazy.matches(), static_cast<std::int64_t>(all.size()));
          EXPECT_EQ(rowids(std::move(lazy).page(skip)),
                    sorted_rowids(all, descending, skip, limit));
        }
      }
    }
  }
}

TEST(PageSelection, ReadsIdsOnlyWhereKeysTie) {
  // Keys all distinct: once the page is full, a row whose key is worse than
  // the page's last needs no id.
  PageSelection selection(3, true);
  int reads = 0;
  for (std::int64_t key = 1; key <= 100; ++key) {
    std::string id = "id" + std::to_string(key);
    selection.offer(key, key, [&] {
      ++reads;
      return std::string_view(id);
    });
  }
  EXPECT_EQ(rowids(std::move(selection).page(0)), (std::vector<std::int64_t>{100, 99, 98}));
  EXPECT_EQ(reads, 100) << "ascending keys each enter the page";

  PageSelection descending_input(3, true);
  reads = 0;
  for (std::int64_t key = 100; key >= 1; --key) {
    std::string id = "id" + std::to_string(key);
    descending_input.offer(key, key, [&] {
      ++reads;
      return std::string_view(id);
    });
  }
  EXPECT_EQ(rowids(std::move(descending_input).page(0)), (std::vector<std::int64_t>{100, 99, 98}));
  EXPECT_EQ(reads, 3) << "the rest are ruled out by key alone";
}

TEST(PageSelection, CursorPagesWalkEveryMatchOnce) {
  auto all = random_matches(250, 7);
  for (bool descending : {true, false}) {
    std::vector<std::int64_t> walked;
    std::optional<PageCursor> cursor;
    for (int page = 0; page < 100; ++page) {
      PageSelection selection(7, descending, cursor);
      for (const auto& m : all) {
        if (page % 2) {
          selection.offer(m.key, m.id, m.rowid);
        } else {
          selection.offer(m.key, m.rowid, [&] { return std::string_view(m.id); });
        }
      }
      EXPECT_EQ(selection.matches(), 250) << "the cursor never reduces the total";
      auto rows = std::move(selection).page(0);
      if (rows.empty()) break;
      for (const auto& r : rows)
        walked.push_back(r.rowid);
      cursor = PageCursor{rows.back().key, rows.back().id};
    }
    EXPECT_EQ(walked, sorted_rowids(all, descending, 0, all.size()));
  }
}

TEST(PageSelection, CursorKeysOfOtherTypesCompareAsSqlite) {
  // Integers against a real: by value. Against text: every number first.
  auto run = [](SqlValue key, bool descending) {
    PageSelection selection(10, descending, PageCursor{std::move(key), "m"});
    selection.offer(1, "a", 1);
    selection.offer(2, "b", 2);
    selection.offer(3, "c", 3);
    return rowids(std::move(selection).page(0));
  };
  EXPECT_EQ(run(2.5, true), (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(run(2.5, false), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(run(std::string("2"), true), (std::vector<std::int64_t>{3, 2, 1}));
  EXPECT_EQ(run(std::string("2"), false), (std::vector<std::int64_t>{}));
  EXPECT_EQ(run(std::int64_t{2}, true), (std::vector<std::int64_t>{2, 1}))
      << "same key: ids decide, and \"b\" < \"m\"";
}

TEST(PageSelection, NothingToKeepStillCounts) {
  PageSelection selection(0, true);
  selection.offer(1, "a", 1);
  selection.offer(2, "b", 2);
  EXPECT_EQ(selection.matches(), 2);
  EXPECT_TRUE(std::move(selection).page(0).empty());
}

TEST(PrefixUpperBound, CoversExactlyTheStringsWithThePrefix) {
  EXPECT_EQ(prefix_upper_bound("azu", false), "azv");
  EXPECT_EQ(prefix_upper_bound("AZU", false), "AZv") << "NOCASE compares the folded byte";
  EXPECT_EQ(prefix_upper_bound("xZ", true), "x[");
  EXPECT_EQ(prefix_upper_bound("x@", true), "xA");
  EXPECT_EQ(prefix_upper_bound("x@", false), std::nullopt) << "'A' would fold to 'a'";
  EXPECT_EQ(prefix_upper_bound("caf\xC3\xA9", false), "caf\xC3\xAA");
  EXPECT_EQ(prefix_upper_bound("a\xFF", true), std::nullopt);
  EXPECT_EQ(prefix_upper_bound("", true), std::nullopt);
}

}  // namespace
}  // namespace para::sqlite
