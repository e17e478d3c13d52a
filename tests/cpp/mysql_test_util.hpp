// Helpers for the MySQL driver tests: server URL from DB_POOL_TEST_MYSQL_URL, a runtime,
// running coroutines to completion, a blocking admin session, and readers for the exported
// Arrow C structs.
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
#include "runtime/runtime.hpp"

namespace dbpool::mysql::testing {

inline const char* TestUrl() { return std::getenv("DB_POOL_TEST_MYSQL_URL"); }

/// A runtime and a driver per test; the server URL comes from DB_POOL_TEST_MYSQL_URL.
class MysqlTest : public ::testing::Test {
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

  /// Runs `awaitable` on the runtime's event loop and waits for its result.
  template <typename T>
  T Run(asio::awaitable<T> awaitable) {
    return asio::co_spawn(runtime_.executor(), std::move(awaitable), asio::use_future).get();
  }

  std::unique_ptr<Connection> Connect() { return Connect(config_); }
  std::unique_ptr<Connection> Connect(const ConnectionConfig& config) {
    return Run(driver_.Connect(config));
  }

  QueryResult Query(Connection& conn, const std::string& sql, Params params = {},
                    CancelTokenPtr cancel = nullptr) {
    return Run(conn.Query(sql, std::move(params), std::move(cancel)));
  }
  int64_t Execute(Connection& conn, const std::string& sql, Params params = {}) {
    return Run(conn.Execute(sql, std::move(params), nullptr));
  }

  /// Runs `fn` and returns the DbError it throws (fails the test if it throws none).
  template <typename F>
  DbError Catch(F&& fn) {
    try {
      fn();
    } catch (const DbError& e) {
      return e;
    }
    ADD_FAILURE() << "expected a DbError";
    return DbError(ErrorKind::kInternal, "no error");
  }

  // Declared first, destroyed last: connections must go before the event loop.
  Runtime runtime_{2, 2};
  MysqlDriver driver_{runtime_};
  ConnectionConfig config_;
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

// ---- Reading values out of exported arrays (C Data interface layouts) ----

inline const ArrowArray& Column(const QueryResult& result, int column, int batch = 0) {
  return *result.batches.at(batch).array().children[column];
}

inline bool IsNull(const ArrowArray& a, int64_t i) {
  if (a.n_buffers == 0) return true;  // the Null type has no buffers
  if (a.buffers[0] == nullptr) return false;
  auto bits = static_cast<const uint8_t*>(a.buffers[0]);
  int64_t j = a.offset + i;
  return ((bits[j >> 3] >> (j & 7)) & 1) == 0;
}

template <typename T>
T At(const ArrowArray& a, int64_t i) {
  T v;
  std::memcpy(&v, static_cast<const uint8_t*>(a.buffers[1]) + (a.offset + i) * sizeof(T),
              sizeof(T));
  return v;
}

inline bool BoolValue(const ArrowArray& a, int64_t i) {
  auto bits = static_cast<const uint8_t*>(a.buffers[1]);
  int64_t j = a.offset + i;
  return ((bits[j >> 3] >> (j & 7)) & 1) != 0;
}

/// String / Binary with 64-bit offsets.
inline std::string StringValue(const ArrowArray& a, int64_t i) {
  int64_t begin = At<int64_t>(a, i);
  int64_t end = At<int64_t>(a, i + 1);
  return std::string(static_cast<const char*>(a.buffers[2]) + begin,
                     static_cast<size_t>(end - begin));
}

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

inline std::string Metadata(const arrow::Field& field, const std::string& key) {
  for (const auto& [k, v] : field.metadata) {
    if (k == key) return v;
  }
  return "";
}

inline std::string Int128ToString(__int128 v) {
  if (v == 0) return "0";
  bool negative = v < 0;
  std::string digits;
  while (v != 0) {
    int d = static_cast<int>(v % 10);
    digits.insert(digits.begin(), static_cast<char>('0' + (negative ? -d : d)));
    v /= 10;
  }
  return negative ? "-" + digits : digits;
}

}  // namespace dbpool::mysql::testing
