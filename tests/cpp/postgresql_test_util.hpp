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
#include <optional>
#include <string>

#include "dbpool/config.hpp"
#include "dbpool/error.hpp"
#include "dbpool/result.hpp"
#include "drivers/postgresql/pg_connection.hpp"
#include "drivers/postgresql/pg_driver.hpp"
#include "runtime/runtime.hpp"

namespace dbpool::pg::testing {

inline const char* TestUrl() { return std::getenv("DB_POOL_TEST_PG_URL"); }

inline void ExpectSameResult(const QueryResult& a, const QueryResult& b);

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

inline bool Bit(const void* bits, int64_t i) {
  return ((static_cast<const uint8_t*>(bits)[i >> 3] >> (i & 7)) & 1) != 0;
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
