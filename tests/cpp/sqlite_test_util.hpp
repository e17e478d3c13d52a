// Helpers for the SQLite driver tests: the fixture, opening a database by name, and the
// format string of a column (driver_test_util.hpp has the rest).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "dbpool/result.hpp"
#include "driver_test_util.hpp"
#include "drivers/sqlite/sqlite_driver.hpp"

namespace dbpool::sqlite::testing {

using namespace dbpool::testing;  // NOLINT: the shared fixture and array readers

/// A driver with its own runtime, and shortcuts for the calls the tests repeat.
class SqliteFixture : public dbpool::testing::DriverTest<SqliteDriver> {
 protected:
  SqliteFixture() : DriverTest(1, 2) {}

  using DriverTest::Connect;
  std::unique_ptr<Connection> Connect(const std::string& database,
                                      std::map<std::string, std::string> options = {}) {
    ConnectionConfig config;
    config.db_type = "sqlite";
    config.database = database;
    config.options = std::move(options);
    return Connect(config);
  }
};

/// The Arrow C Data format string of column `c`, as ExportSchema gives it.
inline std::string Format(const QueryResult& result, size_t c) {
  ArrowSchema schema{};
  ExportSchema(result.schema, &schema);
  std::string format = schema.children[c]->format;
  schema.release(&schema);
  return format;
}

}  // namespace dbpool::sqlite::testing
