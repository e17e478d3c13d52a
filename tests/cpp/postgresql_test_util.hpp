// Helpers for the PostgreSQL driver tests: the fixture (server URL from DB_POOL_TEST_PG_URL),
// the regular-vs-streaming comparison, and an admin session (driver_test_util.hpp has the rest).
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <asio.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "dbpool/config.hpp"
#include "dbpool/error.hpp"
#include "dbpool/result.hpp"
#include "drivers/postgresql/pg_connection.hpp"
#include "drivers/postgresql/pg_driver.hpp"
#include "driver_test_util.hpp"
#include "runtime/runtime.hpp"

namespace dbpool::pg::testing {

using namespace dbpool::testing;  // NOLINT: the shared fixture and array readers

inline const char* TestUrl() { return std::getenv("DB_POOL_TEST_PG_URL"); }

inline void ExpectSameResult(const QueryResult& a, const QueryResult& b);

/// A runtime and a driver per test; the server URL comes from DB_POOL_TEST_PG_URL.
class PgTest : public dbpool::testing::DriverTest<PgDriver> {
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

  /// Runs `sql` through the regular path and through the streaming one (COPY without
  /// parameters, single-row mode with them); expects the same result (schema, batches,
  /// every buffer) or the same error, and returns the result or throws the error.
  QueryResult QueryBoth(Connection& conn, const std::string& sql, const Params& params = {}) {
    PgConnection& pg = dynamic_cast<PgConnection&>(conn);
    std::optional<QueryResult> regular;
    std::optional<QueryResult> copied;
    std::optional<DbError> regular_error;
    std::optional<DbError> copy_error;
    pg.SetCopyReads(CopyReads::kNever);
    try {
      regular = Query(conn, sql, params);
    } catch (const DbError& e) {
      regular_error = e;
    }
    pg.SetCopyReads(CopyReads::kAlways);
    try {
      copied = Query(conn, sql, params);
    } catch (const DbError& e) {
      copy_error = e;
    }
    pg.SetCopyReads(CopyReads::kAuto);
    EXPECT_FALSE(conn.IsBroken()) << sql;
    if (regular_error || copy_error) {
      EXPECT_TRUE(regular_error && copy_error)
          << sql << "\nregular: " << (regular_error ? regular_error->what() : "ok")
          << "\ncopy: " << (copy_error ? copy_error->what() : "ok");
      if (regular_error && copy_error) {
        EXPECT_EQ(regular_error->kind(), copy_error->kind()) << sql;
        EXPECT_EQ(regular_error->sqlstate(), copy_error->sqlstate()) << sql;
        EXPECT_EQ(regular_error->message(), copy_error->message()) << sql;
      }
      throw regular_error ? *regular_error : *copy_error;
    }
    ExpectSameResult(*regular, *copied);
    return std::move(*copied);
  }

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

/// Bytes per value of a fixed-width type; 0 for the others.
inline int FixedWidth(const arrow::DataType& type) {
  using arrow::TypeId;
  switch (type.id) {
    case TypeId::kInt8:
    case TypeId::kUInt8: return 1;
    case TypeId::kInt16:
    case TypeId::kUInt16: return 2;
    case TypeId::kInt32:
    case TypeId::kUInt32:
    case TypeId::kFloat32:
    case TypeId::kDate32: return 4;
    case TypeId::kInt64:
    case TypeId::kUInt64:
    case TypeId::kFloat64:
    case TypeId::kTime64:
    case TypeId::kTimestamp:
    case TypeId::kDuration: return 8;
    case TypeId::kDecimal128: return 16;
    default: return 0;
  }
}

/// Expects `a` and `b` (arrays of `type`) to hold the same values in the same buffers:
/// validity, values, offsets, string data, children.
inline void ExpectSameArray(const ArrowArray& a, const ArrowArray& b, const arrow::DataType& type,
                            const std::string& where) {
  using arrow::TypeId;
  ASSERT_EQ(a.length, b.length) << where;
  ASSERT_EQ(a.null_count, b.null_count) << where;
  ASSERT_EQ(a.offset, 0) << where;
  ASSERT_EQ(b.offset, 0) << where;
  ASSERT_EQ(a.n_buffers, b.n_buffers) << where;
  ASSERT_EQ(a.n_children, b.n_children) << where;
  const int64_t n = a.length;
  if (a.n_buffers > 0) {
    ASSERT_EQ(a.buffers[0] == nullptr, b.buffers[0] == nullptr) << where << " validity";
    if (a.buffers[0] != nullptr) {
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(Bit(a.buffers[0], i), Bit(b.buffers[0], i)) << where << " validity " << i;
      }
    }
  }
  if (int width = FixedWidth(type); width > 0) {
    ASSERT_EQ(std::memcmp(a.buffers[1], b.buffers[1], static_cast<size_t>(n * width)), 0)
        << where << " values";
    return;
  }
  switch (type.id) {
    case TypeId::kNull: return;
    case TypeId::kBoolean:
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(Bit(a.buffers[1], i), Bit(b.buffers[1], i)) << where << " bit " << i;
      }
      return;
    case TypeId::kString:
    case TypeId::kBinary: {
      ASSERT_EQ(std::memcmp(a.buffers[1], b.buffers[1], static_cast<size_t>((n + 1) * 8)), 0)
          << where << " offsets";
      int64_t bytes = At<int64_t>(a, n);
      if (bytes > 0) {
        ASSERT_EQ(std::memcmp(a.buffers[2], b.buffers[2], static_cast<size_t>(bytes)), 0)
            << where << " data";
      }
      return;
    }
    case TypeId::kList:
      ASSERT_EQ(std::memcmp(a.buffers[1], b.buffers[1], static_cast<size_t>((n + 1) * 8)), 0)
          << where << " offsets";
      ExpectSameArray(*a.children[0], *b.children[0], type.children[0].type, where + ".item");
      return;
    case TypeId::kStruct:
      for (size_t c = 0; c < type.children.size(); ++c) {
        ExpectSameArray(*a.children[c], *b.children[c], type.children[c].type,
                        where + "." + type.children[c].name);
      }
      return;
    default: FAIL() << where << ": no comparison for " << type.ToString();
  }
}

/// Expects two results of the same statement to be identical: schema (names, types,
/// metadata), batch boundaries and every buffer.
inline void ExpectSameResult(const QueryResult& a, const QueryResult& b) {
  ASSERT_EQ(a.rows_affected, b.rows_affected);
  ASSERT_EQ(a.schema.size(), b.schema.size());
  for (size_t c = 0; c < a.schema.size(); ++c) {
    EXPECT_EQ(a.schema[c], b.schema[c]) << "field " << c << ": " << a.schema[c].type.ToString()
                                        << " vs " << b.schema[c].type.ToString();
  }
  ASSERT_EQ(a.batches.size(), b.batches.size());
  for (size_t i = 0; i < a.batches.size(); ++i) {
    const ArrowArray& x = a.batches[i].array();
    const ArrowArray& y = b.batches[i].array();
    ASSERT_EQ(x.length, y.length) << "batch " << i;
    for (size_t c = 0; c < a.schema.size(); ++c) {
      ExpectSameArray(*x.children[c], *y.children[c], a.schema[c].type,
                      "batch " + std::to_string(i) + " column '" + a.schema[c].name + "'");
    }
  }
}

inline PgConnection& AsPg(Connection& conn) { return dynamic_cast<PgConnection&>(conn); }

}  // namespace dbpool::pg::testing
