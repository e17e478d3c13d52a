// Unit tests of bulk_insert's pure parts for SQL Server: the table-name check that keeps
// bcp's SQL text safe (no server needed; the round trips are in test_mssql_bulk.py).
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "dbpool/error.hpp"
#include "drivers/mssql/mssql_bulk.hpp"

namespace dbpool::mssql {
namespace {

// The kind of error CheckTableName raises for `name`; nullopt when it accepts it.
std::optional<ErrorKind> KindOf(const std::string& name) {
  try {
    CheckTableName(name);
  } catch (const DbError& e) {
    return e.kind();
  }
  return std::nullopt;
}

TEST(MssqlBulk, TableNamesPlainQualifiedBracketedAndTemporary) {
  for (const char* name : {"orders", "dbo.orders", "sales.dbo.orders", "#staging", "[my table]",
                           "[odd]]name]", "dbo.[Order Details]", "t_1$"}) {
    EXPECT_EQ(KindOf(name), std::nullopt) << name;
  }
}

TEST(MssqlBulk, TableNamesThatCouldCarrySqlAreConfigErrors) {
  for (const char* name : {"", "orders; DROP TABLE x", "a b", "a.b.c.d", "[unclosed", "dbo.",
                           ".orders", "1orders", "[]", "x'--", "a..b", "[a]b"}) {
    EXPECT_EQ(KindOf(name), std::optional(ErrorKind::kConfig)) << name;
  }
}

}  // namespace
}  // namespace dbpool::mssql
