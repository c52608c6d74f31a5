// The query-string parser and its SQL translation.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "search/query.h"
#include "store/sqlite_query.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view q(reinterpret_cast<const char*>(data), size);
  auto query = para::search::parse_query(q);
  if (!query) return 0;
  (void)para::search::referenced_fields(*query);
  (void)para::sqlite::where_clause(*query, "app");
  auto printed = para::search::to_string(*query);
  auto again = para::search::parse_query(printed);
  if (again && !(*again == *query)) __builtin_trap();
  return 0;
}
