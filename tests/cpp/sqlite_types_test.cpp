// Type mapping round trips through a real SQLite database: NULL, minimum, maximum and an
// ordinary value of every declared type, read back from the Arrow C Data buffers.
#include <cfloat>
#include <climits>

#include "sqlite_test_util.hpp"

namespace dbpool::sqlite::testing {
namespace {

constexpr int64_t kUs = 1000000;

class SqliteTypesTest : public SqliteFixture {
 protected:
  void SetUp() override { conn_ = Connect(":memory:"); }
  std::unique_ptr<Connection> conn_;
};

TEST_F(SqliteTypesTest, EveryDeclaredTypeNullMinMaxOrdinary) {
  Execute(*conn_, R"(CREATE TABLE t (
      i INTEGER, b BOOLEAN, f DOUBLE, s VARCHAR(20), y BLOB, d DECIMAL(15,2), dd DECIMAL(18,0),
      n NUMERIC, dt DATE, ts TIMESTAMP, tm TIME, tz TIMESTAMPTZ, j JSON))");
  const std::string insert = "INSERT INTO t VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)";
  Params nulls;
  nulls.values.resize(13);
  EXPECT_EQ(Execute(*conn_, insert, nulls), 1);
  Execute(*conn_, insert,
          {{int64_t{INT64_MIN}, false, -DBL_MAX, std::string(""), dbpool::Bytes{""},
            std::string("-9999999999999.99"), int64_t{-999999999999999999}, -1.5,
            std::string("0001-01-01"), std::string("0001-01-01 00:00:00"),
            std::string("00:00:00"), std::string("1970-01-01T00:00:00Z"), std::string("[]")}});
  Execute(*conn_, insert,
          {{int64_t{INT64_MAX}, true, DBL_MAX, std::string("\xF0\x9D\x84\x9E h\xC3\xA9llo"),
            dbpool::Bytes{std::string("\x00\xff", 2)}, std::string("9999999999999.99"),
            int64_t{999999999999999999}, int64_t{9007199254740992},
            std::string("9999-12-31"), std::string("9999-12-31 23:59:59.999999"),
            std::string("23:59:59.999999"), std::string("2024-01-01 01:00:00+01:00"),
            std::string("{\"a\": [1, 2]}")}});
  Execute(*conn_, insert,
          {{int64_t{42}, true, 3.25, std::string("abc"), dbpool::Bytes{"xyz"},
            std::string("123.45"), int64_t{7}, int64_t{42}, std::string("2024-02-29"),
            std::string("2024-01-02T03:04:05.5+01:00"), std::string("12:34:56.5"),
            std::string("2024-01-02 03:04:05"), std::string("null")}});

  QueryResult r = Query(*conn_, "SELECT * FROM t ORDER BY rowid");
  ASSERT_EQ(r.batches.size(), 1u);
  ASSERT_EQ(r.num_rows(), 4);
  const char* formats[] = {"l", "b", "g", "U", "Z", "d:15,2", "d:18,0", "g", "tdD", "tsu:",
                           "ttu", "tsu:UTC", "U"};
  for (size_t c = 0; c < 13; ++c) {
    EXPECT_EQ(Format(r, c), formats[c]) << r.schema[c].name;
    EXPECT_TRUE(IsNull(Column(r, c), 0)) << r.schema[c].name;
    for (int row = 1; row < 4; ++row) EXPECT_FALSE(IsNull(Column(r, c), row)) << c;
    EXPECT_EQ(Column(r, c).null_count, 1);
  }
  const auto& meta = r.schema[12].metadata;
  ASSERT_EQ(meta.size(), 1u);
  EXPECT_EQ(meta[0].first, "dbpool.db_type");
  EXPECT_EQ(meta[0].second, "JSON");

  EXPECT_EQ(At<int64_t>(Column(r, 0), 1), INT64_MIN);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 2), INT64_MAX);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 3), 42);
  EXPECT_FALSE(BoolValue(Column(r, 1), 1));
  EXPECT_TRUE(BoolValue(Column(r, 1), 2));
  EXPECT_TRUE(BoolValue(Column(r, 1), 3));
  EXPECT_EQ(At<double>(Column(r, 2), 1), -DBL_MAX);
  EXPECT_EQ(At<double>(Column(r, 2), 2), DBL_MAX);
  EXPECT_EQ(At<double>(Column(r, 2), 3), 3.25);
  EXPECT_EQ(StringValue(Column(r, 3), 1), "");
  EXPECT_EQ(StringValue(Column(r, 3), 2), "\xF0\x9D\x84\x9E h\xC3\xA9llo");
  EXPECT_EQ(StringValue(Column(r, 3), 3), "abc");
  EXPECT_EQ(StringValue(Column(r, 4), 1), "");
  EXPECT_EQ(StringValue(Column(r, 4), 2), std::string("\x00\xff", 2));
  EXPECT_EQ(StringValue(Column(r, 4), 3), "xyz");
  EXPECT_TRUE(At<__int128>(Column(r, 5), 1) == -__int128{999999999999999});
  EXPECT_TRUE(At<__int128>(Column(r, 5), 2) == __int128{999999999999999});
  EXPECT_TRUE(At<__int128>(Column(r, 5), 3) == 12345);
  EXPECT_TRUE(At<__int128>(Column(r, 6), 1) == -999999999999999999);
  EXPECT_TRUE(At<__int128>(Column(r, 6), 2) == 999999999999999999);
  EXPECT_TRUE(At<__int128>(Column(r, 6), 3) == 7);
  EXPECT_EQ(At<double>(Column(r, 7), 1), -1.5);
  EXPECT_EQ(At<double>(Column(r, 7), 2), 9007199254740992.0);
  EXPECT_EQ(At<double>(Column(r, 7), 3), 42.0);
  EXPECT_EQ(At<int32_t>(Column(r, 8), 1), -719162);
  EXPECT_EQ(At<int32_t>(Column(r, 8), 2), 2932896);
  EXPECT_EQ(At<int32_t>(Column(r, 8), 3), 19782);
  EXPECT_EQ(At<int64_t>(Column(r, 9), 1), -719162LL * 86400 * kUs);
  EXPECT_EQ(At<int64_t>(Column(r, 9), 2), 2932897LL * 86400 * kUs - 1);
  // 2024-01-02T03:04:05.5+01:00 = 2024-01-02 02:04:05.5 UTC
  EXPECT_EQ(At<int64_t>(Column(r, 9), 3),
            (19724LL * 86400 + 2 * 3600 + 4 * 60 + 5) * kUs + 500000);
  EXPECT_EQ(At<int64_t>(Column(r, 10), 1), 0);
  EXPECT_EQ(At<int64_t>(Column(r, 10), 2), 86400 * kUs - 1);
  EXPECT_EQ(At<int64_t>(Column(r, 10), 3), (12 * 3600 + 34 * 60 + 56) * kUs + 500000);
  EXPECT_EQ(At<int64_t>(Column(r, 11), 1), 0);
  EXPECT_EQ(At<int64_t>(Column(r, 11), 2), 19723LL * 86400 * kUs);
  EXPECT_EQ(StringValue(Column(r, 12), 2), "{\"a\": [1, 2]}");
}

TEST_F(SqliteTypesTest, TemporalFromNumbers) {
  Execute(*conn_, "CREATE TABLE t (d DATE, ts DATETIME, tm TIME)");
  // SQLite's own date functions: unixepoch() seconds and julianday() numbers.
  Execute(*conn_,
          "INSERT INTO t VALUES (unixepoch('2024-02-29'), unixepoch('2024-02-29 10:00:01'), 3661)");
  Execute(*conn_,
          "INSERT INTO t VALUES (julianday('2024-02-29'), julianday('2024-02-29 10:00:01.250'),"
          " '01:01:01')");
  QueryResult r = Query(*conn_, "SELECT * FROM t ORDER BY rowid");
  ASSERT_EQ(r.num_rows(), 2);
  for (int row = 0; row < 2; ++row) {
    EXPECT_EQ(At<int32_t>(Column(r, 0), row), 19782);
    EXPECT_EQ(At<int64_t>(Column(r, 2), row), 3661 * kUs);
  }
  EXPECT_EQ(At<int64_t>(Column(r, 1), 0), (19782LL * 86400 + 36001) * kUs);
  EXPECT_EQ(At<int64_t>(Column(r, 1), 1), (19782LL * 86400 + 36001) * kUs + 250000);

  // A time of day in a DATE column would be lost: refused.
  Execute(*conn_, "INSERT INTO t VALUES (unixepoch('2024-02-29 00:00:01'), NULL, NULL)");
  DbError e = Catch([&] { Query(*conn_, "SELECT d FROM t ORDER BY rowid"); });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  EXPECT_NE(e.message().find("column 'd' (DATE) row index 2"), std::string::npos) << e.what();
}

TEST_F(SqliteTypesTest, MismatchedValuesConvertOrFailNamingColumnAndRow) {
  Execute(*conn_, "CREATE TABLE t (i INTEGER, r REAL, n NUMERIC, d DECIMAL(5,2), dt DATE, b BOOL)");
  // INTEGER affinity turns '12' into 12 but keeps 'abc' and 1.5 as they are.
  Execute(*conn_, "INSERT INTO t (i) VALUES ('12'), ('abc')");
  DbError e = Catch([&] { Query(*conn_, "SELECT i FROM t ORDER BY rowid"); });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  EXPECT_NE(e.message().find("column 'i' (INTEGER) row index 1"), std::string::npos) << e.what();
  EXPECT_NE(e.message().find("'abc'"), std::string::npos) << e.what();
  Execute(*conn_, "DELETE FROM t");
  Execute(*conn_, "INSERT INTO t (i) VALUES (1.5)");
  EXPECT_EQ(Catch([&] { Query(*conn_, "SELECT i FROM t"); }).kind(),
            ErrorKind::kDataConversion);
  Execute(*conn_, "DELETE FROM t");

  // NUMERIC: a double must hold the value exactly.
  Execute(*conn_, "INSERT INTO t (n) VALUES (9007199254740993)");
  e = Catch([&] { Query(*conn_, "SELECT n FROM t"); });
  EXPECT_NE(e.message().find("column 'n' (NUMERIC) row index 0"), std::string::npos) << e.what();
  Execute(*conn_, "DELETE FROM t");
  Execute(*conn_, "INSERT INTO t (d) VALUES (999.994), ('1234.5')");
  e = Catch([&] { Query(*conn_, "SELECT d FROM t ORDER BY rowid"); });
  EXPECT_NE(e.message().find("column 'd' (DECIMAL(5,2)) row index 1"), std::string::npos)
      << e.what();
  Execute(*conn_, "DELETE FROM t");
  Execute(*conn_, "INSERT INTO t (dt, b) VALUES ('2024-01-01', 'true'), ('yesterday', 0)");
  e = Catch([&] { Query(*conn_, "SELECT dt FROM t ORDER BY rowid"); });
  EXPECT_NE(e.message().find("column 'dt' (DATE) row index 1"), std::string::npos) << e.what();
  QueryResult r = Query(*conn_, "SELECT b FROM t ORDER BY rowid");
  EXPECT_TRUE(BoolValue(Column(r, 0), 0));
  EXPECT_FALSE(BoolValue(Column(r, 0), 1));
}

TEST_F(SqliteTypesTest, ExpressionColumnsTakeTheFirstNonNullStorageClass) {
  QueryResult r = Query(*conn_,
                        "SELECT 1+1 AS two, 1.5 AS r, 'x' AS s, x'00ff' AS y, NULL AS nada, "
                        "(SELECT count(*) FROM sqlite_schema) AS c");
  const char* formats[] = {"l", "g", "U", "Z", "n", "l"};
  for (size_t c = 0; c < 6; ++c) EXPECT_EQ(Format(r, c), formats[c]) << c;
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), 2);
  EXPECT_EQ(StringValue(Column(r, 3), 0), std::string("\x00\xff", 2));
  EXPECT_EQ(Column(r, 4).length, 1);
  EXPECT_EQ(Column(r, 4).null_count, 1);
  EXPECT_TRUE(r.schema[0].metadata.empty());

  // Later values convert to the first one's type when exact.
  r = Query(*conn_, "SELECT column1 AS v FROM (VALUES (NULL), (NULL), (1.5), (2), ('2.5e1'))");
  EXPECT_EQ(Format(r, 0), "g");
  EXPECT_TRUE(IsNull(Column(r, 0), 0));
  EXPECT_TRUE(IsNull(Column(r, 0), 1));
  EXPECT_EQ(At<double>(Column(r, 0), 2), 1.5);
  EXPECT_EQ(At<double>(Column(r, 0), 3), 2.0);
  EXPECT_EQ(At<double>(Column(r, 0), 4), 25.0);
  r = Query(*conn_, "SELECT column1 AS v FROM (VALUES ('a'), (5), (2.5))");
  EXPECT_EQ(Format(r, 0), "U");
  EXPECT_EQ(StringValue(Column(r, 0), 1), "5");
  EXPECT_EQ(StringValue(Column(r, 0), 2), "2.5");
  r = Query(*conn_, "SELECT column1 AS v FROM (VALUES (1), ('12'), ('3.0'))");
  EXPECT_EQ(At<int64_t>(Column(r, 0), 1), 12);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 2), 3);
  DbError e =
      Catch([&] { Query(*conn_, "SELECT column1 AS v FROM (VALUES (1), (x'01'))"); });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  EXPECT_NE(e.message().find("column 'v' row index 1"), std::string::npos) << e.what();
}

TEST_F(SqliteTypesTest, InvalidUtf8NamesTheColumn) {
  Execute(*conn_, "CREATE TABLE t (id INTEGER, name TEXT)");
  Execute(*conn_, "INSERT INTO t VALUES (1, 'ok'), (2, CAST(x'C328' AS TEXT))");
  DbError e = Catch([&] { Query(*conn_, "SELECT id, name FROM t ORDER BY id"); });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  EXPECT_NE(e.message().find("column 'name'"), std::string::npos) << e.what();
  EXPECT_NE(e.message().find("UTF-8"), std::string::npos) << e.what();
  EXPECT_NE(e.message().find("row index 1"), std::string::npos) << e.what();
  // Two values that are each invalid but valid when concatenated (text is checked per
  // batch, over the whole data buffer first): the first one is named.
  Execute(*conn_, "INSERT INTO t VALUES (3, CAST(x'61C3' AS TEXT)), (4, CAST(x'A9' AS TEXT))");
  e = Catch([&] { Query(*conn_, "SELECT id, name FROM t WHERE id >= 3 ORDER BY id"); });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  EXPECT_NE(e.message().find("column 'name' (TEXT) row index 0"), std::string::npos) << e.what();
  // The bytes stay reachable as a blob, and the connection is fine.
  QueryResult r = Query(*conn_, "SELECT CAST(name AS BLOB) FROM t WHERE id = 2");
  EXPECT_EQ(StringValue(Column(r, 0), 0), "\xC3\x28");
}

}  // namespace
}  // namespace dbpool::sqlite::testing
