// Helpers for the PostgreSQL driver tests: server URL from DB_POOL_TEST_PG_URL, a runtime,
// running coroutines to completion, and readers for the exported Arrow C structs.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <asio.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "dbpool/config.hpp"
#include "dbpool/error.hpp"
#include "dbpool/result.hpp"
#include "drivers/postgresql/pg_driver.hpp"
#include "runtime/runtime.hpp"

namespace dbpool::pg::testing {

inline const char* TestUrl() { return std::getenv("DB_POOL_TEST_PG_URL"); }

/// A runtime and a driver per test; the server URL comes from DB_POOL_TEST_PG_URL.
class PgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (TestUrl() == nullptr || *TestUrl() == '\0') {
      // Under scripts/run_tests.sh the server must be there: a missing one is a failure.
      if (std::getenv("DB_POOL_TEST_REQUIRE_SERVICES")) FAIL() << "DB_POOL_TEST_PG_URL is not set";
      GTEST_SKIP() << "DB_POOL_TEST_PG_URL is not set (e.g. "
                      "postgresql://postgres@127.0.0.1:5432/postgres)";
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
  PgDriver driver_{runtime_};
  ConnectionConfig config_;
};

/// A plain blocking libpq session for side operations (terminating a backend, looking at
/// pg_stat_activity) that must not go through the code under test.
class AdminSession {
 public:
  AdminSession() : conn_(PQconnectdb(TestUrl())) {}
  ~AdminSession() { PQfinish(conn_); }
  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  /// The first value of the first row as text ("" for no row / NULL).
  std::string Scalar(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    std::string value;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
      value = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
    return value;
  }

 private:
  PGconn* conn_;
};

// ---- Reading values out of exported arrays (C Data interface layouts) ----

inline const ArrowArray& Column(const QueryResult& result, int column, int batch = 0) {
  return *result.batches.at(batch).array().children[column];
}

inline bool IsNull(const ArrowArray& a, int64_t i) {
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

/// The [begin, end) element range of list value i (64-bit offsets).
inline std::pair<int64_t, int64_t> ListRange(const ArrowArray& a, int64_t i) {
  return {At<int64_t>(a, i), At<int64_t>(a, i + 1)};
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

}  // namespace dbpool::pg::testing
