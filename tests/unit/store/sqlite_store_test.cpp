// The SQLite store against a real database file: writes and their outcomes,
// isolation between apps, shadows, and the SQL translation of searches.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>

#include "store/sqlite_query.h"
#include "store/store.h"

namespace para {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("para-store-" + std::to_string(std::random_device{}()));
    auto opened = open_sqlite_store({dir_.string(), false});
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  ParaObject object(std::string app, std::string id, std::string json_fields = "{}") {
    auto o = object_from_json(parse_json(json_fields).value().as_object(), "book").value();
    o.appid = std::move(app);
    o.id = std::move(id);
    if (o.type.empty()) o.type = "book";
    if (o.timestamp == 0) o.timestamp = 1000 + static_cast<std::int64_t>(store_counter_++);
    return o;
  }

  WriteOutcome put(ParaObject o, WriteOp::Kind kind = WriteOp::Kind::kUpsert,
                   std::int64_t expected = 0) {
    WriteOp op{kind, std::move(o), expected};
    auto outcomes = store_->write(std::span(&op, 1));
    EXPECT_TRUE(outcomes);
    return outcomes ? outcomes->front() : WriteOutcome::kMissing;
  }

  std::vector<std::string> ids(std::string_view app, std::string_view q, std::string type = "") {
    SearchRequest r;
    r.type = std::move(type);
    r.query = search::parse_query(q).value();
    r.limit = 100;
    r.sort_field = "id";
    r.descending = false;
    auto page = store_->search(app, r);
    EXPECT_TRUE(page) << q << ": " << (page ? "" : page.error().message);
    std::vector<std::string> out;
    if (page) {
      for (const auto& o : page->items)
        out.push_back(o.id);
    }
    return out;
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
  int store_counter_ = 0;
};

using Ids = std::vector<std::string>;

// The point `km` away from `from` at `bearing` degrees, on the same sphere.
sqlite::LatLng destination(sqlite::LatLng from, double bearing, double km) {
  constexpr double kRad = M_PI / 180.0;
  const double angle = km / 6371.0088, b = bearing * kRad;
  const double lat1 = from.lat * kRad, lng1 = from.lng * kRad;
  const double lat2 =
      std::asin(std::sin(lat1) * std::cos(angle) + std::cos(lat1) * std::sin(angle) * std::cos(b));
  double lng2 = lng1 + std::atan2(std::sin(b) * std::sin(angle) * std::cos(lat1),
                                  std::cos(angle) - std::sin(lat1) * std::sin(lat2));
  double lng = std::remainder(lng2 / kRad, 360.0);  // into [-180, 180]
  return {lat2 / kRad, lng};
}

TEST_F(StoreTest, WriteOutcomes) {
  EXPECT_EQ(put(object("a", "1")), WriteOutcome::kApplied);
  EXPECT_EQ(put(object("a", "1"), WriteOp::Kind::kInsert), WriteOutcome::kAlreadyExists);
  EXPECT_EQ(put(object("a", "2"), WriteOp::Kind::kReplaceIfVersion, 0), WriteOutcome::kMissing);
  auto v1 = object("a", "1");
  v1.version = 1;
  EXPECT_EQ(put(v1, WriteOp::Kind::kReplaceIfVersion, 3), WriteOutcome::kVersionMismatch);
  EXPECT_EQ(put(v1, WriteOp::Kind::kReplaceIfVersion, 0), WriteOutcome::kApplied);
  EXPECT_EQ(store_->get("a", "1").value()->version, 1);
  EXPECT_EQ(put(object("a", "1"), WriteOp::Kind::kDelete), WriteOutcome::kApplied);
  EXPECT_EQ(put(object("a", "1"), WriteOp::Kind::kDelete), WriteOutcome::kMissing);
}

TEST_F(StoreTest, AllOrNothingRollsBackEveryOp) {
  put(object("a", "exists"));
  std::vector<WriteOp> ops{{WriteOp::Kind::kUpsert, object("a", "new"), 0},
                           {WriteOp::Kind::kInsert, object("a", "exists"), 0}};
  auto outcomes = store_->write(ops);
  ASSERT_TRUE(outcomes);
  EXPECT_EQ(outcomes->back(), WriteOutcome::kAlreadyExists);
  EXPECT_FALSE(store_->get("a", "new").value()) << "nothing committed";
  auto each = store_->write(ops, Store::Atomicity::kEachOp);
  ASSERT_TRUE(each);
  EXPECT_TRUE(store_->get("a", "new").value()) << "the op that applied is committed";
}

TEST_F(StoreTest, AppsAreIsolated) {
  put(object("a", "1", R"({"name":"shared words"})"));
  put(object("b", "1", R"({"name":"other"})"));
  EXPECT_EQ(store_->get("a", "1").value()->name, "shared words");
  EXPECT_EQ(store_->get("b", "1").value()->name, "other");
  EXPECT_EQ(ids("b", "shared"), Ids{});
  EXPECT_EQ(ids("b", "*"), Ids{"1"});
  ParaObject partition;
  partition.appid = "a";
  WriteOp drop{WriteOp::Kind::kDeletePartition, partition, 0};
  ASSERT_TRUE(store_->write(std::span(&drop, 1)));
  EXPECT_FALSE(store_->get("a", "1").value());
  EXPECT_TRUE(store_->get("b", "1").value());
}

// Pages of clients' JSON come from the object cache once shown; every kind
// of write must show through on the next page, by either page strategy.
TEST_F(StoreTest, CachedPagesFollowEveryWrite) {
  auto page_json = [&](std::string_view app, std::string_view q) {
    SearchRequest r;
    r.query = search::parse_query(q).value();
    r.client_json = true;
    r.limit = 10;
    auto page = store_->search(app, r);
    EXPECT_TRUE(page) << q;
    std::string joined;
    if (page) {
      for (const auto& json : page->client_json)
        joined += json + "\n";
    }
    return joined;
  };
  // name:ab* is answered in one pass, tags:t from postings in sort order.
  const char* queries[] = {"name:ab*", "tags:t"};
  put(object("a", "1", R"({"name":"abc","tags":["t"],"color":"red"})"));
  put(object("a", "2", R"({"name":"abd","tags":["t"]})"));
  put(object("b", "1", R"({"name":"abc","tags":["t"],"color":"blue"})"));
  for (const char* q : queries) {
    SCOPED_TRACE(q);
    for (int shown = 0; shown < 2; ++shown) {  // the second time from the cache
      auto json = page_json("a", q);
      EXPECT_NE(json.find(R"("color":"red")"), std::string::npos);
      EXPECT_EQ(json.find(R"("color":"blue")"), std::string::npos);  // app b's object 1
    }
  }
  // Upsert.
  put(object("a", "1", R"({"name":"abc","tags":["t"],"color":"green","timestamp":1})"));
  for (const char* q : queries)
    EXPECT_NE(page_json("a", q).find(R"("color":"green")"), std::string::npos) << q;
  // Replace if version.
  auto replaced = object("a", "1", R"({"name":"abc","tags":["t"],"color":"teal","timestamp":1})");
  replaced.version = 1;
  EXPECT_EQ(put(replaced, WriteOp::Kind::kReplaceIfVersion, 0), WriteOutcome::kApplied);
  for (const char* q : queries)
    EXPECT_NE(page_json("a", q).find(R"("color":"teal")"), std::string::npos) << q;
  // Delete.
  WriteOp remove{WriteOp::Kind::kDelete, object("a", "1"), 0};
  ASSERT_TRUE(store_->write(std::span(&remove, 1)));
  for (const char* q : queries) {
    auto json = page_json("a", q);
    EXPECT_EQ(json.find(R"("id":"1")"), std::string::npos) << q;
    EXPECT_NE(json.find(R"("id":"2")"), std::string::npos) << q;
  }
  // Delete the app's partition; the other app's objects still show.
  EXPECT_NE(page_json("b", "name:ab*").find(R"("color":"blue")"), std::string::npos);
  ParaObject partition;
  partition.appid = "a";
  WriteOp drop{WriteOp::Kind::kDeletePartition, partition, 0};
  ASSERT_TRUE(store_->write(std::span(&drop, 1)));
  for (const char* q : queries) {
    EXPECT_EQ(page_json("a", q), "") << q;
    EXPECT_NE(page_json("b", q).find(R"("color":"blue")"), std::string::npos) << q;
  }
}

// The pages above would pass without any cache; this shows one is used: a
// change made behind the store's back (which the store never does) stays
// unseen while the object is cached, and shows once a write of it passes.
TEST_F(StoreTest, PagesServeCachedObjects) {
  put(object("a", "1", R"({"name":"abc","color":"red"})"));
  auto page_json = [&] {
    SearchRequest r;
    r.query = search::parse_query("name:ab*").value();
    r.client_json = true;
    auto page = store_->search("a", r);
    EXPECT_TRUE(page);
    return page && page->client_json.size() == 1 ? page->client_json.front() : std::string();
  };
  EXPECT_NE(page_json().find(R"("color":"red")"), std::string::npos);  // now cached
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "para.db").string().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, R"(UPDATE objects SET client_json = '{"id":"1","behind":true}')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_NE(page_json().find(R"("color":"red")"), std::string::npos);
  put(object("a", "1", R"({"name":"abc","color":"green"})"));
  EXPECT_NE(page_json().find(R"("color":"green")"), std::string::npos);
}

// Searches of many shapes overflow the reader's cache of generated
// statements, which is emptied when full, also between a sorted page and
// its count; every search must still answer its page and total.
TEST_F(StoreTest, ManyQueryShapesOutliveTheStatementCache) {
  for (int i = 0; i < 5; ++i)
    put(object("a", std::to_string(i),
               R"({"name":"n)" + std::to_string(i) + R"(","x":")" + std::to_string(9 - i) + "\"}"));
  std::string q = "name:n0";
  // Searches add two statements each (page, count), this one only its page:
  // the cache then fills up on a count.
  SearchRequest whole;
  whole.query = search::parse_query(q).value();
  whole.sort_field = "x";
  ASSERT_EQ(store_->search("a", whole).value().total, 1);
  for (int k = 1; k <= 150; ++k) {
    q += " OR name:n" + std::to_string(k % 5);
    SearchRequest r;
    r.query = search::parse_query(q).value();
    r.sort_field = "x";  // a custom field: a sorted page, then a count
    r.limit = 1;
    auto page = store_->search("a", r);
    ASSERT_TRUE(page) << k;
    EXPECT_EQ(page->items.size(), 1u) << k;
    EXPECT_EQ(page->total, std::min(k + 1, 5)) << k;
  }
}

// Names of hidden fields (an app's secret, a device's metadata) sort by the
// custom property of that name, never by the hidden value.
TEST_F(StoreTest, SortsByCustomPropertiesNamedLikeHiddenFields) {
  put(object("a", "1", R"({"secret":"b","settings":2})"));
  put(object("a", "2", R"({"secret":"c","settings":1})"));
  put(object("a", "3", R"({"secret":"a","settings":3})"));
  for (const auto& [field, expected] :
       std::vector<std::pair<std::string, Ids>>{{"secret", {"3", "1", "2"}},
                                                {"properties.secret", {"3", "1", "2"}},
                                                {"settings", {"2", "1", "3"}},
                                                {"deviceMetadata.clientCert", {"1", "2", "3"}}}) {
    SearchRequest r;
    r.sort_field = field;
    r.descending = false;
    r.limit = 10;
    auto page = store_->search("a", r);
    ASSERT_TRUE(page) << field << ": " << page.error().message;
    Ids got;
    for (const auto& o : page->items)
      got.push_back(o.id);
    EXPECT_EQ(got, expected) << field;
  }
}

// A search past its time limit is stopped with a clear kInvalidInput, and
// its reader comes back fit for the next search and for writes.
TEST_F(StoreTest, SearchesPastTheirTimeLimitStopCleanly) {
  store_.reset();
  StoreOptions options{dir_.string(), false};
  options.search_timeout_ms = 20;
  store_ = std::move(open_sqlite_store(options).value());
  std::vector<WriteOp> ops;
  for (int i = 0; i < 3000; ++i) {
    ops.push_back(
        {WriteOp::Kind::kUpsert,
         object("a", std::to_string(i), R"({"name":"name )" + std::to_string(i) + R"("})")});
  }
  ASSERT_TRUE(store_->write(ops));
  // A hundred infix wildcards over all the text (~250 ms without a limit).
  std::string q = "*zz0*";
  for (int k = 1; k < 100; ++k)
    q += " OR *zz" + std::to_string(k) + "*";
  SearchRequest costly;
  costly.query = search::parse_query(q).value();
  auto stopped = store_->search("a", costly);
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().kind, ErrorKind::kInvalidInput);
  EXPECT_EQ(
      stopped.error().message,
      "The search was stopped after 20 ms; narrow it (fewer wildcards, OR clauses or matches).");
  // Every reader still answers, outside any transaction (the write below
  // would see a stale snapshot otherwise), and writes go on.
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(ids("a", "id:7"), (Ids{"7"}));
  put(object("a", "new", R"({"name":"fresh"})"));
  EXPECT_EQ(ids("a", "name:fresh"), (Ids{"new"}));

  store_.reset();
  options.search_timeout_ms = 0;  // no limit: the same search answers
  store_ = std::move(open_sqlite_store(options).value());
  auto answered = store_->search("a", costly);
  ASSERT_TRUE(answered) << answered.error().message;
  EXPECT_EQ(answered->total, 0);
}

TEST_F(StoreTest, SearchTranslationMatchesParaSemantics) {
  put(object("a", "1",
             R"({"name":"Alpha Centauri","tags":["star","near"],"mass":1.1,"kind":"Star"})"));
  put(object("a", "2",
             R"({"name":"Betelgeuse","tags":["star"],"mass":16.5,"nested":{"x":{"y":"deep"}}})"));
  put(object("a", "3",
             R"({"name":"Mars","tags":["planet"],"moons":["Phobos","Deimos"],"size":"small"})"));
  EXPECT_EQ(ids("a", "alpha"), (Ids{"1"}));
  EXPECT_EQ(ids("a", "centauri AND alpha"), (Ids{"1"}));
  EXPECT_EQ(ids("a", "\"alpha centauri\""), (Ids{"1"}));
  EXPECT_EQ(ids("a", "\"centauri alpha\""), (Ids{})) << "phrases keep word order";
  EXPECT_EQ(ids("a", "tags:star"), (Ids{"1", "2"}));
  EXPECT_EQ(ids("a", "tags:star -tags:near"), (Ids{"2"}));
  EXPECT_EQ(ids("a", "kind:star"), (Ids{"1"})) << "case-insensitive field match";
  EXPECT_EQ(ids("a", "id:1 OR id:3"), (Ids{"1", "3"}));
  EXPECT_EQ(ids("a", "id:1*"), (Ids{"1"}));
  EXPECT_EQ(ids("a", "mass:[1 TO 2]"), (Ids{"1"}));
  EXPECT_EQ(ids("a", "mass:{1.1 TO *}"), (Ids{"2"}));
  EXPECT_EQ(ids("a", "mass:[* TO *]"), (Ids{"1", "2"})) << "open both ways: has the field";
  EXPECT_EQ(ids("a", "size:[* TO *]"), (Ids{"3"}));
  EXPECT_EQ(ids("a", "timestamp:[* TO *]"), (Ids{"1", "2", "3"}));
  EXPECT_EQ(ids("a", "moons:phobos"), (Ids{"3"})) << "any array element";
  EXPECT_EQ(ids("a", "nested.x.y:deep"), (Ids{"2"}));
  EXPECT_EQ(ids("a", "size:*"), (Ids{"3"})) << "has a value";
  EXPECT_EQ(ids("a", "name:B?telgeuse"), (Ids{"2"}));
  EXPECT_EQ(ids("a", "name:*ars"), (Ids{"3"}));
  EXPECT_EQ(ids("a", "phob*"), (Ids{"3"})) << "full-text prefix";
  EXPECT_EQ(ids("a", "timestamp:[0 TO *]"), (Ids{"1", "2", "3"}));
  EXPECT_EQ(ids("a", "star", "book"), (Ids{"1", "2"}));
  EXPECT_EQ(ids("a", "star", "other"), (Ids{}));
}

// The full-text index is scoped by app and type inside FTS5: a word search
// returns only its app's (and type's) objects, and the scope words are out
// of reach of user queries.
TEST_F(StoreTest, FullTextSearchesStayInTheirAppAndType) {
  put(object("a", "1", R"({"name":"red apple"})"));
  auto pen = object("a", "2", R"({"name":"red pen"})");
  pen.type = "pen";
  put(pen);
  put(object("b", "3", R"({"name":"red apple"})"));
  EXPECT_EQ(ids("a", "red"), (Ids{"1", "2"}));
  EXPECT_EQ(ids("a", "red", "book"), (Ids{"1"}));
  EXPECT_EQ(ids("a", "red", "pen"), (Ids{"2"}));
  EXPECT_EQ(ids("b", "red"), (Ids{"3"}));
  EXPECT_EQ(ids("a", "\"red apple\""), (Ids{"1"}));
  EXPECT_EQ(ids("a", "appl*"), (Ids{"1"}));
  EXPECT_EQ(ids("a", "*pple"), (Ids{"1"})) << "text wildcards are scoped too";
  EXPECT_EQ(ids("b", "*pen"), (Ids{}));
  const std::string scope = sqlite::fts_scope("a", "book");
  for (const std::string& word :
       {scope.substr(0, scope.find(' ')), scope.substr(scope.find(' ') + 1)})
    EXPECT_EQ(ids("a", word), (Ids{})) << "a scope word is not a word of the text: " << word;
  // A retype moves the object's words to its new scope.
  auto moved = object("a", "1", R"({"name":"red apple"})");
  moved.type = "pen";
  put(moved);
  EXPECT_EQ(ids("a", "red", "book"), (Ids{}));
  EXPECT_EQ(ids("a", "red", "pen"), (Ids{"1", "2"}));
}

TEST_F(StoreTest, HostileTextStaysData) {
  put(object("a", "1", R"({"name":"x' OR 1=1 --","q":"\" OR \"\" = \""})"));
  put(object("a", "2", R"({"name":"plain"})"));
  EXPECT_EQ(ids("a", "name:\"x' OR 1=1 --\""), (Ids{"1"}));
  EXPECT_EQ(ids("a", "\"NEAR(a b)\""), (Ids{})) << "FTS5 syntax in a term is inert";
  EXPECT_EQ(ids("a", "name:100%"), (Ids{})) << "LIKE wildcards in text are literal";
  EXPECT_EQ(ids("a", "q:\"\\\" OR \\\"\\\" = \\\"\""), (Ids{"1"}));
}

TEST_F(StoreTest, CursorPagesAreStable) {
  for (int i = 0; i < 10; ++i)
    put(object("a", "k" + std::to_string(i)));
  SearchRequest r;
  r.limit = 3;
  r.sort_field = "id";
  r.descending = false;
  std::vector<std::string> seen;
  for (int page = 0; page < 10; ++page) {
    auto result = store_->search("a", r);
    ASSERT_TRUE(result);
    if (result->items.empty()) break;
    for (const auto& o : result->items)
      seen.push_back(o.id);
    r.after = result->last_key;
    put(object("a", "a-early" + std::to_string(page)));  // sorts before the cursor
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  r.after = "not-a-cursor";
  EXPECT_FALSE(store_->search("a", r));
}

// A query of one tag or one custom-field condition, sorted by timestamp, is
// answered from its index alone. It must find exactly what the general
// translation finds (here forced by sorting on id), count every object once
// however many of its values match, and page through them without repeats.
TEST_F(StoreTest, IndexOnlySearchesAgreeWithTheGeneralTranslation) {
  put(object("a", "1",
             R"({"tags":["x","x","y"],"color":["Red","red"],"n":[5,"5",5.0],"t":"abc"})"));
  put(object("a", "2", R"({"tags":["x"],"color":"RED","n":[6,7],"t":["abd","abe"]})"));
  put(object("a", "3", R"({"type":"pen","tags":["x","y"],"color":"blue","n":5})"));
  put(object("a", "4", R"({"tags":["z"],"n":"five"})"));
  put(object("b", "5", R"({"tags":["x"],"color":"red","n":5,"t":"abc"})"));
  const std::pair<const char*, const char*> cases[] = {
      {"tags:x", ""},
      {"tags:x", "book"},
      {"tags:y", "pen"},
      {"color:red", ""},
      {"n:5", ""},
      {"n:5", "book"},
      {"n:[5 TO 7]", ""},
      {"n:{5 TO *]", "book"},
      {"t:ab*", ""},
      {"color:*", ""},
      {"color:r?d", ""},
      {"tags:nothing", ""},
      {"n:five", ""},
      {"color:RED", "pen"},
      // Conjunctions of indexed conditions: one drives, the others filter.
      {"tags:x AND color:red", ""},
      {"tags:x AND -tags:y", ""},
      {"n:[5 TO 7] AND tags:x", ""},
      {"color:red AND n:5", "book"},
      {"+tags:x +t:ab* -color:blue", ""},
      {"tags:x AND (tags:y AND n:5)", ""},
      {"tags:x AND tags:nothing", ""}};
  for (const auto& [q, type] : cases) {
    SCOPED_TRACE(std::string(q) + " type=" + type);
    ASSERT_TRUE(sqlite::postings(search::parse_query(q).value(), "a", type));
    Ids expected = ids("a", q, type);
    SearchRequest r;
    r.type = type;
    r.query = search::parse_query(q).value();
    r.limit = 1;
    Ids found;
    std::int64_t total = -1;
    for (int page = 0; page < 10; ++page) {
      auto result = store_->search("a", r);
      ASSERT_TRUE(result) << result.error().message;
      total = result->total;
      if (result->items.empty()) break;
      found.push_back(result->items[0].id);
      r.after = result->last_key;
    }
    std::sort(found.begin(), found.end());
    EXPECT_EQ(found, expected);
    EXPECT_EQ(total, static_cast<std::int64_t>(expected.size()));
  }
  EXPECT_EQ(ids("a", "tags:x"), (Ids{"1", "2", "3"}));
  EXPECT_EQ(ids("a", "color:red"), (Ids{"1", "2"}));
  EXPECT_EQ(ids("a", "n:5"), (Ids{"1", "3"}));
}

// Searches whose matches an index yields in no order of the sort (a name
// prefix, a wildcard, full text, a custom-field range with another
// condition...) pick their page in one pass over the matches. Pages, totals
// and cursors must be those of sorting every match by (timestamp, id), with
// ties in timestamp, in both directions, by offset and by cursor.
TEST_F(StoreTest, OnePassSearchesPageLikeASortedList) {
  struct Seed {
    const char* id;
    const char* name;
    std::int64_t timestamp;
  };
  const Seed seeds[] = {{"a1", "Azure one", 5}, {"a2", "azure two", 5}, {"a3", "AZURE", 7},
                        {"a4", "azul", 5},      {"a5", "az", 9},        {"a6", "b@x", 5},
                        {"a7", "B@y", 6},       {"a8", "bA", 6},        {"a9", "b[", 6},
                        {"b1", "Zeta", 5},      {"b2", "z{", 5},        {"b3", "zz", 8}};
  std::map<std::string, std::int64_t> timestamp_of;
  for (const auto& s : seeds) {
    put(object("a", s.id,
               std::string(R"({"name":")") + s.name + R"(","timestamp":)" +
                   std::to_string(s.timestamp) + R"(,"tags":["t"]})"));
    timestamp_of[s.id] = s.timestamp;
  }
  put(object("b", "c1", R"({"name":"azure","timestamp":5})"));  // another app
  // Prefixes compare case-insensitively on name, bytewise on id; '@' and '['
  // sit next to the letters that NOCASE folds.
  const std::pair<const char*, Ids> cases[] = {
      {"name:az*", {"a1", "a2", "a3", "a4", "a5"}},
      {"name:AZU*", {"a1", "a2", "a3", "a4"}},
      {"name:b@*", {"a6", "a7"}},
      {R"(name:b\[*)", {"a9"}},
      {"name:z*", {"b1", "b2", "b3"}},
      {"name:zz*", {"b3"}},
      {"name:azur*", {"a1", "a2", "a3"}},
      {"name:AZURE*", {"a1", "a2", "a3"}},
      {"name:bA*", {"a8"}},
      {"id:a*", {"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"}},
      {"id:A*", {}},
      {"name:*z*", {"a1", "a2", "a3", "a4", "a5", "b1", "b2", "b3"}},
      {"azure", {"a1", "a2", "a3"}},
      // Words only: answered by FTS5 and object_keys alone.
      {"azure OR zeta", {"a1", "a2", "a3", "b1"}},
      {"azure -one", {"a2", "a3"}},
      {"+azure +two", {"a2"}},
      {"azu*", {"a1", "a2", "a3", "a4"}},
      {"\"azure two\"", {"a2"}},
      {"(azure OR zeta) AND NOT (one OR zeta)", {"a2", "a3"}},
      {"name:az* AND tags:t", {"a1", "a2", "a3", "a4", "a5"}},
      {"tags:t AND -name:az* AND -name:Z*", {"a6", "a7", "a8", "a9"}},
      {"-name:az*", {"a6", "a7", "a8", "a9", "b1", "b2", "b3"}},
      {"NOT name:b* AND NOT name:az*", {"b1", "b2", "b3"}},
      {"name:nothing*", {}}};
  for (const auto& [q, expected] : cases) {
    SCOPED_TRACE(q);
    EXPECT_EQ(ids("a", q), expected);
    // Every object is a book: with the type and without, as their SQL and
    // their FTS5 scope differ.
    for (auto [descending, type] :
         {std::pair{true, ""}, {false, ""}, {true, "book"}, {false, "book"}}) {
      Ids sorted = expected;
      std::sort(sorted.begin(), sorted.end(), [&](const auto& x, const auto& y) {
        auto kx = std::make_pair(timestamp_of[x], x);
        auto ky = std::make_pair(timestamp_of[y], y);
        return descending ? ky < kx : kx < ky;
      });
      SCOPED_TRACE(std::string("type=") + type);
      SearchRequest r;
      r.type = type;
      r.query = search::parse_query(q).value();
      r.descending = descending;
      r.limit = 2;
      Ids by_cursor, by_offset;
      for (int page = 0; page < 10; ++page) {
        auto result = store_->search("a", r);
        ASSERT_TRUE(result) << result.error().message;
        EXPECT_EQ(result->total, static_cast<std::int64_t>(expected.size()));
        if (result->items.empty()) break;
        for (const auto& o : result->items)
          by_cursor.push_back(o.id);
        r.after = result->last_key;
      }
      r.after.clear();
      for (r.offset = 0; r.offset < 12; r.offset += 2) {
        auto result = store_->search("a", r);
        ASSERT_TRUE(result) << result.error().message;
        for (const auto& o : result->items)
          by_offset.push_back(o.id);
      }
      EXPECT_EQ(by_cursor, sorted) << (descending ? "descending" : "ascending");
      EXPECT_EQ(by_offset, sorted) << (descending ? "descending" : "ascending");
    }
  }
}

// A nearby search is answered from the places index: it must find exactly
// the objects of its app and type whose latlng (or properties.latlng) lies
// within the radius, across the antimeridian and around the poles, and
// follow every write that moves, retypes or removes a place.
TEST_F(StoreTest, NearbySearchFindsExactlyThePointsWithinTheRadius) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> unit(0, 1);
  const sqlite::LatLng hubs[] = {{48.85, 2.35}, {-17.5, 179.9}, {89.9, 0}, {0, 0}};
  std::map<std::string, sqlite::LatLng> placed;
  for (int i = 0; i < 240; ++i) {
    const auto& hub = hubs[i % 4];
    auto at = destination(hub, unit(rng) * 360, unit(rng) * 400);
    std::string id = "p" + std::to_string(i);
    char latlng[64];
    std::snprintf(latlng, sizeof latlng, "%.7f,%.7f", at.lat, at.lng);
    std::string json = i % 3 == 0 ? std::string(R"({"properties":{"latlng":")") + latlng + "\"}}"
                                  : std::string(R"({"latlng":")") + latlng + "\"}";
    auto o = object("a", id, json);
    o.type = i % 5 == 0 ? "other" : "book";
    put(o);
    // Read back the stored text, so the check uses exactly what was stored.
    placed[id] = *sqlite::parse_latlng(latlng);
  }
  put(object("a", "bad1", R"({"latlng":"not a place"})"));
  put(object("a", "bad2", R"({"latlng":"91,0"})"));
  put(object("a", "bad3", R"({"latlng":[48.85,2.35]})"));
  put(object("b", "elsewhere", R"({"latlng":"48.85,2.35"})"));  // another app

  auto nearby = [&](sqlite::LatLng at, double radius, std::string type) {
    SearchRequest r;
    r.type = std::move(type);
    r.near = GeoFilter{at.lat, at.lng, radius};
    r.limit = 1000;
    auto page = store_->search("a", r);
    EXPECT_TRUE(page) << page.error().message;
    Ids out;
    for (const auto& o : page->items)
      out.push_back(o.id);
    std::sort(out.begin(), out.end());
    EXPECT_EQ(page->total, static_cast<std::int64_t>(out.size()));
    return out;
  };
  int compared = 0;
  for (const auto& hub : hubs) {
    for (double radius : {5.0, 60.0, 250.0, 900.0}) {
      auto center = destination(hub, unit(rng) * 360, unit(rng) * 50);
      for (std::string type : {"", "book"}) {
        Ids expected;
        bool ambiguous = false;
        for (const auto& [id, at] : placed) {
          const double d = sqlite::distance_km(at, center);
          ambiguous = ambiguous || std::abs(d - radius) < 0.001;  // within 1 m of the edge
          const bool typed = type.empty() || (std::stoi(id.substr(1)) % 5 != 0);
          if (d <= radius && typed) expected.push_back(id);
        }
        if (ambiguous) continue;
        std::sort(expected.begin(), expected.end());
        SCOPED_TRACE(std::to_string(center.lat) + "," + std::to_string(center.lng) +
                     " r=" + std::to_string(radius) + " type=" + type);
        EXPECT_EQ(nearby(center, radius, type), expected);
        ++compared;
      }
    }
  }
  EXPECT_GE(compared, 24);

  // Writes move the index with them.
  const sqlite::LatLng paris{48.85, 2.35};
  Ids before = nearby(paris, 1, "");
  put(object("a", "walker", R"({"latlng":"48.85,2.35"})"));
  Ids with_walker = before;
  with_walker.push_back("walker");
  std::sort(with_walker.begin(), with_walker.end());
  EXPECT_EQ(nearby(paris, 1, ""), with_walker);
  put(object("a", "walker", R"({"latlng":"-33.86,151.21"})"));
  EXPECT_EQ(nearby(paris, 1, ""), before) << "moved away";
  EXPECT_EQ(nearby({-33.86, 151.21}, 1, ""), (Ids{"walker"}));
  auto retyped = object("a", "walker", R"({"latlng":"-33.86,151.21"})");
  retyped.type = "pen";
  put(retyped);
  EXPECT_EQ(nearby({-33.86, 151.21}, 1, "book"), (Ids{}));
  EXPECT_EQ(nearby({-33.86, 151.21}, 1, "pen"), (Ids{"walker"}));
  put(object("a", "walker", R"({"name":"no place now"})"));
  EXPECT_EQ(nearby({-33.86, 151.21}, 1, ""), (Ids{}));
  put(object("a", "walker", R"({"latlng":"-33.86,151.21"})"));
  put(object("a", "walker"), WriteOp::Kind::kDelete);
  EXPECT_EQ(nearby({-33.86, 151.21}, 1, ""), (Ids{})) << "deleted";
}

TEST_F(StoreTest, TagCountsFollowEveryWrite) {
  auto total = [&](std::string type, const char* q = "tags:x") {
    SearchRequest r;
    r.type = std::move(type);
    r.query = search::parse_query(q).value();
    r.count_only = true;
    auto page = store_->search("a", r);
    EXPECT_TRUE(page);
    return page ? page->total : -1;
  };
  put(object("a", "1", R"({"tags":["x","y","x"]})"));
  put(object("a", "2", R"({"tags":["x"]})"));
  put(object("a", "3", R"({"type":"pen","tags":["x"]})"));
  put(object("b", "4", R"({"tags":["x"]})"));
  EXPECT_EQ(total("book"), 2);
  EXPECT_EQ(total(""), 3);
  EXPECT_EQ(total("", "tags:y"), 1);
  put(object("a", "1", R"({"tags":["y"]})"));  // x removed
  EXPECT_EQ(total("book"), 1);
  put(object("a", "2", R"({"type":"pen","tags":["x"]})"));  // retyped
  EXPECT_EQ(total("book"), 0);
  EXPECT_EQ(total("pen"), 2);
  ParaObject gone = object("a", "3");
  put(gone, WriteOp::Kind::kDelete);
  EXPECT_EQ(total("pen"), 1);
  EXPECT_EQ(total(""), 1);
  EXPECT_EQ(total("", "tags:nothing"), 0);
}

// A name prefix of up to kIndexedNamePrefix characters is answered from the
// name-prefix index and its counts. Through every kind of write (create,
// rename, a change of case only, a name removed, retype, a new timestamp,
// delete, an app's removal), its pages and totals must be what the general
// translation (a range on the name column, forced by sorting on id) finds.
TEST_F(StoreTest, NamePrefixIndexFollowsEveryWrite) {
  const std::string longest(sqlite::kIndexedNamePrefix, 'a');
  const std::string one_too_long(sqlite::kIndexedNamePrefix + 1, 'a');
  const std::vector<std::string> prefixes = {"a", "A",     "az",        "AZU",
                                             "b", "b@",    "\xC3\xA9",  "\xC3\xA9t\xC3\xA9",
                                             "x", longest, one_too_long};
  auto check = [&](const char* step) {
    SCOPED_TRACE(step);
    for (const auto& prefix : prefixes) {
      for (const char* type : {"", "book", "pen"}) {
        SCOPED_TRACE("prefix=" + prefix + " type=" + type);
        SearchRequest r;
        r.type = type;
        r.query = search::parse_query("name:" + prefix + "*").value();
        r.limit = 100;
        r.sort_field = "id";  // the general translation
        auto general = store_->search("a", r);
        ASSERT_TRUE(general) << general.error().message;
        std::vector<std::pair<std::int64_t, std::string>> sorted;
        for (const auto& o : general->items)
          sorted.emplace_back(o.timestamp, o.id);
        std::sort(sorted.rbegin(), sorted.rend());  // newest first, as the index pages
        Ids expected, found;
        for (const auto& [timestamp, id] : sorted)
          expected.push_back(id);
        r.sort_field.clear();
        auto page = store_->search("a", r);
        ASSERT_TRUE(page) << page.error().message;
        for (const auto& o : page->items)
          found.push_back(o.id);
        EXPECT_EQ(found, expected);
        EXPECT_EQ(page->total, static_cast<std::int64_t>(expected.size()));
        r.count_only = true;
        EXPECT_EQ(store_->search("a", r).value().total, static_cast<std::int64_t>(expected.size()));
      }
    }
  };
  put(object("a", "1", R"({"name":"Azure sky"})"));
  put(object("a", "2", R"({"name":"azalea"})"));
  put(object("a", "3", R"({"type":"pen","name":"AZ"})"));
  put(object("a", "4", R"({"name":"b@se"})"));
  put(object("a", "5", R"({"name":"\u00e9t\u00e9 indien"})"));
  put(object("a", "6", R"({"name":"a"})"));
  put(object("a", "7", R"({"name":")" + one_too_long + R"("})"));
  put(object("a", "8", R"({"name":")" + longest + R"("})"));
  put(object("a", "9"));                         // no name
  put(object("b", "1", R"({"name":"azure"})"));  // another app
  check("created");
  EXPECT_EQ(ids("a", "name:a*"), (Ids{"1", "2", "3", "6", "7", "8"}));
  put(object("a", "1", R"({"name":"xylophone"})"));
  check("renamed");
  put(object("a", "2", R"({"name":"AZALEA"})"));
  check("case changed");
  put(object("a", "6"));
  check("name removed");
  put(object("a", "3", R"({"name":"AZ"})"));
  check("retyped to book");
  put(object("a", "4", R"({"name":"b@se","timestamp":1})"));
  check("new timestamp");
  put(object("a", "5"), WriteOp::Kind::kDelete);
  check("deleted");
  EXPECT_EQ(ids("a", "name:\xC3\xA9*"), (Ids{}));
  put(object("a", ""), WriteOp::Kind::kDeletePartition);
  check("app removed");
  EXPECT_EQ(ids("a", "name:a*"), (Ids{}));
  EXPECT_EQ(ids("b", "name:a*"), (Ids{"1"})) << "the other app keeps its names";
}

TEST(SqliteQuery, NamePrefixesCountCharactersAndFoldLikeNocase) {
  EXPECT_EQ(sqlite::name_prefix("Azure", 1), "a");
  EXPECT_EQ(sqlite::name_prefix("Azure", 3), "azu");
  EXPECT_EQ(sqlite::name_prefix("Azure", 5), "azure");
  EXPECT_EQ(sqlite::name_prefix("Azure", 6), std::nullopt) << "shorter than asked";
  EXPECT_EQ(sqlite::name_prefix("", 1), std::nullopt);
  EXPECT_EQ(sqlite::name_prefix("Azure", 0), std::nullopt);
  EXPECT_EQ(sqlite::name_prefix("B@[x", 3), "b@[") << "only letters fold";
  // Characters, not bytes; NOCASE leaves non-ASCII letters as they are.
  EXPECT_EQ(sqlite::name_prefix("\xC3\x89t\xC3\xA9", 1), "\xC3\x89");
  EXPECT_EQ(sqlite::name_prefix("\xC3\x89T\xC3\xA9", 3), "\xC3\x89t\xC3\xA9");
  EXPECT_EQ(sqlite::name_prefix("\xE6\x97\xA5\xE6\x9C\xAC", 2), "\xE6\x97\xA5\xE6\x9C\xAC");
  EXPECT_EQ(sqlite::name_prefix("\xE6\x97\xA5\xE6\x9C\xAC", 3), std::nullopt);

  EXPECT_EQ(sqlite::indexed_name_prefix("AZ"), "az");
  EXPECT_EQ(sqlite::indexed_name_prefix(""), std::nullopt);
  const std::string longest(sqlite::kIndexedNamePrefix, 'Q');
  EXPECT_EQ(sqlite::indexed_name_prefix(longest), std::string(sqlite::kIndexedNamePrefix, 'q'));
  EXPECT_EQ(sqlite::indexed_name_prefix(longest + "q"), std::nullopt);
  std::string accented;
  for (int i = 0; i < sqlite::kIndexedNamePrefix; ++i)
    accented += "\xC3\xA9";  // two bytes, one character each
  EXPECT_EQ(sqlite::indexed_name_prefix(accented), accented);

  auto postings = [](const std::string& q) {
    return sqlite::postings(search::parse_query(q).value(), "app", "book");
  };
  ASSERT_TRUE(postings("name:Az*"));
  EXPECT_EQ(postings("name:Az*")->table, "object_name_prefixes");
  EXPECT_EQ(postings("name:Az*")->counts_table, "object_name_prefix_counts");
  EXPECT_FALSE(postings("name:Az*")->may_repeat);
  EXPECT_FALSE(postings("name:" + longest + "q*")) << "longer prefixes scan the name index";
  EXPECT_FALSE(postings("name:*")) << "an empty prefix: every named object";
  EXPECT_EQ(postings("t:Az*")->table, "object_props") << "names only";
  auto both = postings("name:az* AND tags:x");
  ASSERT_TRUE(both);
  EXPECT_TRUE(both->counts_table.empty());
}

TEST(SqliteQuery, OnlyOneIndexedConditionHasPostings) {
  auto postings = [](const char* q) {
    return sqlite::postings(search::parse_query(q).value(), "app", "book");
  };
  ASSERT_TRUE(postings("tags:x"));
  EXPECT_EQ(postings("tags:x")->table, "object_tags");
  EXPECT_FALSE(postings("tags:x")->may_repeat);
  EXPECT_EQ(postings("color:red")->table, "object_props");
  EXPECT_FALSE(postings("color:red")->may_repeat);
  EXPECT_TRUE(postings("n:5")->may_repeat) << "a number also matches its text twin";
  EXPECT_TRUE(postings("t:ab*")->may_repeat);
  EXPECT_TRUE(postings("n:[1 TO 2]")->may_repeat);
  for (const char* q :
       {"name:x", "id:1", "word", "\"a phrase\"", "tags:x OR tags:y", "*", "-tags:x",
        "timestamp:[1 TO 2]", "tags:x AND name:y", "tags:x AND NOT word"}) {
    EXPECT_FALSE(postings(q)) << q;
  }
  // A conjunction is driven by a clause that cannot repeat, and has no kept count.
  auto both = postings("n:5 AND tags:x");
  ASSERT_TRUE(both);
  EXPECT_EQ(both->table, "object_tags");
  EXPECT_FALSE(both->may_repeat);
  EXPECT_TRUE(both->counts_table.empty());
  EXPECT_EQ(postings("tags:x")->counts_table, "object_tag_counts");
  // The app and the type are bound parameters, never SQL text.
  auto p = sqlite::postings(search::parse_query("tags:x").value(), "app'--", "bo\"ok");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->where.sql.find("app'--"), std::string::npos);
  EXPECT_EQ(std::count(p->where.params.begin(), p->where.params.end(),
                       sqlite::SqlValue(std::string("bo\"ok"))),
            1);
}

TEST_F(StoreTest, UnfilteredCountsFollowEveryWrite) {
  auto total = [&](std::string_view app, std::string type) {
    SearchRequest r;
    r.type = std::move(type);
    r.count_only = true;
    auto page = store_->search(app, r);
    EXPECT_TRUE(page);
    return page ? page->total : -1;
  };
  for (const char* id : {"1", "2", "3"})
    put(object("a", id));
  put(object("a", "4", R"({"type":"pen"})"));
  put(object("b", "5"));
  EXPECT_EQ(total("a", ""), 4);
  EXPECT_EQ(total("a", "book"), 3);
  EXPECT_EQ(total("b", "book"), 1);
  put(object("a", "1", R"({"type":"pen"})"));  // the type changes
  EXPECT_EQ(total("a", "book"), 2);
  EXPECT_EQ(total("a", "pen"), 2);
  put(object("a", "2"));  // rewritten, same type
  EXPECT_EQ(total("a", "book"), 2);
  ParaObject gone = object("a", "2");
  put(gone, WriteOp::Kind::kDelete);
  EXPECT_EQ(total("a", "book"), 1);
  EXPECT_EQ(total("a", ""), 3);
  EXPECT_EQ(total("c", ""), 0);
}

TEST_F(StoreTest, ShadowsCompareAndSet) {
  WriteOp create{WriteOp::Kind::kPutShadow, {}, -1, ShadowRow{"app-1", "", "app", "1", "{}", 0}};
  ASSERT_EQ(store_->write(std::span(&create, 1)).value().front(), WriteOutcome::kApplied);
  ASSERT_EQ(store_->write(std::span(&create, 1)).value().front(), WriteOutcome::kVersionMismatch);
  WriteOp update = create;
  update.expected_version = 0;
  update.shadow.version = 1;
  update.shadow.document = R"({"v":1})";
  ASSERT_EQ(store_->write(std::span(&update, 1)).value().front(), WriteOutcome::kApplied);
  ASSERT_EQ(store_->write(std::span(&update, 1)).value().front(), WriteOutcome::kVersionMismatch);
  auto row = store_->get_shadow("app-1", "").value();
  ASSERT_TRUE(row);
  EXPECT_EQ(row->version, 1);
  EXPECT_EQ(row->document, R"({"v":1})");
  EXPECT_FALSE(store_->get_shadow("app-1", "named").value());
  WriteOp remove{WriteOp::Kind::kDeleteShadows, {}, 0, ShadowRow{"app-1", "", "", "", "", 0}};
  ASSERT_TRUE(store_->write(std::span(&remove, 1)));
  EXPECT_FALSE(store_->get_shadow("app-1", "").value());
}

TEST(SqliteQuery, FullTextQueriesQuoteUserText) {
  EXPECT_EQ(sqlite::fts_phrase("a b"), "\"a b\"");
  EXPECT_EQ(sqlite::fts_phrase("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(sqlite::fts_phrase("pre", true), "\"pre\" *");
}

TEST(SqliteQuery, IndexedTextSkipsHiddenFields) {
  std::string text = sqlite::indexed_text(
      R"({"type":"thing","name":"lamp","deviceMetadata":{"thingName":"secret-name"},)"
      R"("deviceState":{"room":"hall"},"properties":{"n":5}})");
  EXPECT_NE(text.find("lamp"), std::string::npos);
  EXPECT_NE(text.find("hall"), std::string::npos);
  EXPECT_NE(text.find("5"), std::string::npos);
  EXPECT_EQ(text.find("secret-name"), std::string::npos);
}

TEST(SqliteQuery, PropertyKeys) {
  EXPECT_EQ(sqlite::property_key("cat", "$.properties.color"), "color");
  EXPECT_EQ(sqlite::property_key("cat", "$.properties.a.b[2].c"), "a.b.c");
  EXPECT_EQ(sqlite::property_key("cat", "$.properties.\"x y\""), "x y");
  EXPECT_EQ(sqlite::property_key("thing", "$.deviceState.temp"), "deviceState.temp");
  EXPECT_EQ(sqlite::property_key("thing", "$.deviceMetadata.thingName"), std::nullopt)
      << "hidden fields are never indexed";
  EXPECT_EQ(sqlite::property_key("app", "$.secret"), std::nullopt);
  EXPECT_EQ(sqlite::property_key("cat", "$.name"), std::nullopt) << "common fields are columns";
  EXPECT_EQ(sqlite::property_key("cat", "$.deviceState.temp"), std::nullopt);
  EXPECT_EQ(sqlite::property_key("cat", "$.properties"), std::nullopt);
  EXPECT_EQ(sqlite::property_key("cat", "garbage"), std::nullopt);
}

TEST(SqliteQuery, Distance) {
  EXPECT_NEAR(sqlite::distance_km({42.6977, 23.3219}, {42.1354, 24.7453}), 132.0, 2.0);
  EXPECT_NEAR(sqlite::distance_km({0, 179.5}, {0, -179.5}), 111.2, 0.1)
      << "across the antimeridian";
  EXPECT_NEAR(sqlite::distance_km({90, 0}, {90, 120}), 0, 1e-9) << "the pole is one point";
}

// An upgrade of a large database takes minutes: while it runs, the store
// says it is still at work (here every time SQLite calls back), then how
// long it took; the upgraded database answers from its new indexes.
TEST(StoreUpgrade, LongUpgradesSayTheyAreAlive) {
  fs::path dir =
      fs::temp_directory_path() / ("para-upgrade-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  fs::copy_file(fs::path(PARA_FIXTURES_DIR) / "schema-v5.db", dir / "para.db");
  {
    // 2,000 more places, so that the upgrade's statements run long enough
    // for SQLite to call back. Schema 5's triggers need para_text and
    // para_prop_key: stand-ins that index nothing will do here.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "para.db").string().c_str(), &db), SQLITE_OK);
    auto nothing = [](sqlite3_context* ctx, int, sqlite3_value**) { sqlite3_result_null(ctx); };
    sqlite3_create_function(db, "para_text", 1, SQLITE_UTF8, nullptr, nothing, nullptr, nullptr);
    sqlite3_create_function(db, "para_prop_key", 2, SQLITE_UTF8, nullptr, nothing, nullptr,
                            nullptr);
    ASSERT_EQ(sqlite3_exec(db, R"sql(
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
      INSERT INTO objects (appid, id, type, name, timestamp, updated, version, json)
      SELECT 'para', 'bulk' || i, 'place', 'bulk ' || i, 1000 + i, 1000 + i, 0,
             json_object('id', 'bulk' || i, 'timestamp', 1000 + i, 'type', 'place',
                         'appid', 'para', 'name', 'bulk ' || i, 'version', 0,
                         'properties', json_object('latlng', '10,' || ((i % 100) / 10.0)))
      FROM n)sql",
                           nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  std::ostringstream log;
  auto logger = spdlog::default_logger();
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  logger->sinks().push_back(sink);
  const auto level = logger->level();
  logger->set_level(spdlog::level::info);
  StoreOptions options{dir.string(), false};
  options.upgrade_heartbeat = std::chrono::milliseconds(0);
  auto store = open_sqlite_store(options);
  logger->sinks().pop_back();
  logger->set_level(level);
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_NE(log.str().find("still upgrading the schema to version 6"), std::string::npos)
      << log.str();
  EXPECT_NE(log.str().find("schema version 6 in"), std::string::npos);
  SearchRequest r;
  r.type = "place";
  r.near = GeoFilter{48.8566, 2.3522, 25};
  auto page = (*store)->search("para", r);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->total, 3) << "paris, versailles and the moved place";
  r.near = GeoFilter{10, 5, 1000};
  page = (*store)->search("para", r);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->total, 2000);
  store->reset();
  fs::remove_all(dir);
}

TEST(SqliteQuery, BoundingBoxesHoldEveryPointWithinTheRadius) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> unit(0, 1);
  const sqlite::LatLng centers[] = {{48.85, 2.35},  {0, 179.99}, {-18, -179.9}, {89.95, 10},
                                    {-89.9, -170},  {60, 0},     {0, 0},        {-45, 180},
                                    {70.5, -179.5}, {10, -180}};
  for (const auto& c : centers) {
    for (double radius : {0.05, 1.0, 10.0, 250.0, 3000.0, 15000.0}) {
      auto boxes = sqlite::bounding_boxes(c.lat, c.lng, radius);
      ASSERT_FALSE(boxes.empty());
      for (int i = 0; i < 400; ++i) {
        auto p = destination(c, unit(rng) * 360, std::sqrt(unit(rng)) * radius);
        ASSERT_LE(sqlite::distance_km(c, p), radius * (1 + 1e-9) + 1e-9);
        bool inside = false;
        for (const auto& b : boxes) {
          inside = inside || (p.lat >= b.min_lat && p.lat <= b.max_lat && p.lng >= b.min_lng &&
                              p.lng <= b.max_lng);
        }
        ASSERT_TRUE(inside) << "center " << c.lat << "," << c.lng << " radius " << radius
                            << " point " << p.lat << "," << p.lng;
      }
    }
  }
  // The shapes: one narrow box, two across the antimeridian, every
  // longitude around a pole.
  auto paris = sqlite::bounding_boxes(48.85, 2.35, 10);
  ASSERT_EQ(paris.size(), 1u);
  EXPECT_NEAR(paris[0].max_lat - paris[0].min_lat, 0.18, 0.01);
  EXPECT_NEAR(paris[0].max_lng - paris[0].min_lng, 0.27, 0.01);
  auto fiji = sqlite::bounding_boxes(-17, 179.99, 50);
  ASSERT_EQ(fiji.size(), 2u);
  EXPECT_EQ(fiji[0].max_lng, 180);
  EXPECT_EQ(fiji[1].min_lng, -180);
  auto pole = sqlite::bounding_boxes(89.99, 0, 10);
  ASSERT_EQ(pole.size(), 1u);
  EXPECT_EQ(pole[0].min_lng, -180);
  EXPECT_EQ(pole[0].max_lng, 180);
  EXPECT_EQ(pole[0].max_lat, 90);
}

TEST(SqliteQuery, PlaceMappingsAreStable) {
  // Stored in databases: a change would hide every indexed place.
  EXPECT_EQ(sqlite::place_units(48.8566), 488566000);
  EXPECT_EQ(sqlite::place_units(-179.99999995), -1800000000);
  EXPECT_EQ(sqlite::place_key("para"), 0x2978182b);  // FNV-1a 0x6978182b, low 30 bits
  EXPECT_NE(sqlite::place_key("sensor"), sqlite::place_key("person"));
  EXPECT_LT(sqlite::place_key("any text at all"), 1 << 30);
  EXPECT_EQ(sqlite::parse_latlng(" 48.8566 , 2.3522 ")->lng, 2.3522);
  for (const char* bad : {"", "48.8", "91,0", "0,181", "nan,0", "1,inf", "1,2,3", "a,b", "1 ,"})
    EXPECT_FALSE(sqlite::parse_latlng(bad)) << bad;
}

TEST(SqliteQuery, WordsOnlyQueriesGoToFts5Alone) {
  auto text_only = [](const char* q, const char* type = "") {
    return sqlite::translate(search::parse_query(q).value(), "app", type).text_only;
  };
  const std::string scope_app = sqlite::fts_scope("app", "").substr(0, 17);
  EXPECT_EQ(text_only("red"), "scope : " + scope_app + " AND text : (\"red\")");
  EXPECT_EQ(text_only("red apple*"),
            "scope : " + scope_app + " AND text : ((\"red\") OR (\"apple\" *))");
  EXPECT_EQ(text_only("+red -\"green apple\"", "book"),
            "scope : " + sqlite::fts_scope("app", "book").substr(18) +
                " AND text : (((\"red\")) NOT (\"green apple\"))");
  EXPECT_FALSE(text_only("red AND tags:x")) << "a tag is not a word of the text";
  EXPECT_FALSE(text_only("name:red"));
  EXPECT_FALSE(text_only("*"));
  EXPECT_FALSE(text_only("r*d")) << "FTS5 has no inner wildcard";
  EXPECT_TRUE(text_only("\"NEAR(a b)\" OR x")) << "FTS5 syntax stays inside quotes";
}

TEST(SqliteQuery, SortExpressions) {
  EXPECT_EQ(sqlite::sort_expression("").value().sql, "o.timestamp");
  EXPECT_EQ(sqlite::sort_expression("name").value().sql, "o.name");
  EXPECT_TRUE(sqlite::sort_expression("properties.price"));
  EXPECT_FALSE(sqlite::sort_expression("bad field!"));
  EXPECT_FALSE(sqlite::sort_expression("a..b"));
}

}  // namespace
}  // namespace para
