// Helpers for the MySQL driver tests: the fixture (server URL from DB_POOL_TEST_MYSQL_URL)
// and a blocking admin session (driver_test_util.hpp has the rest).
#pragma once

#include <gtest/gtest.h>
#include <mysql.h>

#include <asio.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "dbpool/config.hpp"
#include "dbpool/error.hpp"
#include "dbpool/result.hpp"
#include "drivers/mysql/mysql_driver.hpp"
#include "drivers/mysql/mysql_session.hpp"
#include "driver_test_util.hpp"
#include "runtime/runtime.hpp"

namespace dbpool::mysql::testing {

using namespace dbpool::testing;  // NOLINT: the shared fixture and array readers

inline const char* TestUrl() { return std::getenv("DB_POOL_TEST_MYSQL_URL"); }

/// A runtime and a driver per test; the server URL comes from DB_POOL_TEST_MYSQL_URL.
class MysqlTest : public dbpool::testing::DriverTest<MysqlDriver> {
 protected:
  void SetUp() override {
    if (TestUrl() == nullptr || *TestUrl() == '\0') {
      // Under scripts/run_tests.sh the server must be there: a missing one is a failure.
      if (std::getenv("DB_POOL_TEST_REQUIRE_SERVICES")) {
        FAIL() << "DB_POOL_TEST_MYSQL_URL is not set";
      }
      GTEST_SKIP() << "DB_POOL_TEST_MYSQL_URL is not set (e.g. "
                      "mysql://root@127.0.0.1:3306/test; scripts/services.sh start mariadb)";
    }
    config_ = PoolConfig::FromUrl(TestUrl()).connection;
  }

};

/// A plain blocking Connector/C session for side operations (KILL CONNECTION, looking at
/// the processlist) that must not go through the code under test.
class AdminSession {
 public:
  AdminSession() {
    EnsureLibraryInit();
    Settings s = Settings::From(PoolConfig::FromUrl(TestUrl()).connection);
    mysql_ = mysql_init(nullptr);
    ok_ = mysql_real_connect(mysql_, s.host.c_str(), s.user.c_str(), s.password.c_str(),
                             s.database.c_str(), s.port, nullptr, 0) != nullptr;
  }
  ~AdminSession() { mysql_close(mysql_); }
  AdminSession(const AdminSession&) = delete;
  AdminSession& operator=(const AdminSession&) = delete;

  bool ok() const { return ok_; }
  const char* error() { return mysql_error(mysql_); }
  /// Runs a statement; false (see error()) when it fails.
  bool Exec(const std::string& sql) {
    if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return false;
    do {
      if (MYSQL_RES* r = mysql_store_result(mysql_)) mysql_free_result(r);
    } while (mysql_next_result(mysql_) == 0);
    return true;
  }
  /// The first value of the first row as text ("" for no row / NULL / error).
  std::string Scalar(const std::string& sql) {
    if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return "";
    std::string value;
    if (MYSQL_RES* r = mysql_store_result(mysql_)) {
      MYSQL_ROW row = mysql_fetch_row(r);
      if (row != nullptr && row[0] != nullptr) value = row[0];
      mysql_free_result(r);
    }
    return value;
  }

 private:
  MYSQL* mysql_ = nullptr;
  bool ok_ = false;
};

/// An integer column's value whatever its width and sign (for expressions whose exact
/// integer type the server chooses).
inline int64_t IntValue(const QueryResult& result, int column, int64_t row = 0) {
  const ArrowArray& a = Column(result, column);
  switch (result.schema.at(column).type.id) {
    case arrow::TypeId::kInt8: return At<int8_t>(a, row);
    case arrow::TypeId::kUInt8: return At<uint8_t>(a, row);
    case arrow::TypeId::kInt16: return At<int16_t>(a, row);
    case arrow::TypeId::kUInt16: return At<uint16_t>(a, row);
    case arrow::TypeId::kInt32: return At<int32_t>(a, row);
    case arrow::TypeId::kUInt32: return At<uint32_t>(a, row);
    case arrow::TypeId::kInt64: return At<int64_t>(a, row);
    case arrow::TypeId::kUInt64: return static_cast<int64_t>(At<uint64_t>(a, row));
    default:
      ADD_FAILURE() << "column " << column << " is not an integer column";
      return 0;
  }
}

}  // namespace dbpool::mysql::testing
