// Parameterized reads in single-row mode (decoded as rows arrive, no whole-result PGresult)
// against a real server: identical output and errors to the regular path, bounded batches
// with one schema, early stop and errors leaving the connection clean, memory bounded by the
// batch, and the statement cache (hits, stale statements) on this path.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <regex>
#include <vector>

#include "postgresql_test_util.hpp"

namespace dbpool::pg::testing {
namespace {

using std::chrono::steady_clock;

class PgRowsTest : public PgTest {
 protected:
  void Stream(Connection& conn, const std::string& sql, Params params, CollectSink& sink,
              int64_t batch_rows) {
    Run(conn.QueryStream(sql, std::move(params), nullptr, sink, batch_rows));
  }
  void ExpectClean(Connection& conn) {
    EXPECT_FALSE(conn.IsBroken());
    EXPECT_FALSE(conn.InTransaction());
    Params one;
    one.values.emplace_back(int64_t{42});
    QueryResult r = Query(conn, "SELECT $1::int4 AS answer", one);
    EXPECT_EQ(At<int32_t>(Column(r, 0), 0), 42);
    AdminSession admin;
    ASSERT_TRUE(admin.ok());
    EXPECT_EQ(admin.Scalar("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                           "AND pid = " + std::to_string(conn.ServerSessionId())),
              "0");
  }
  static Params Param(int64_t v) {
    Params p;
    p.values.emplace_back(v);
    return p;
  }
};

// An error's SQLSTATE and message, with the per-connection names of prepared statements
// ("dbpool_<hex>_<n>") left out.
std::string WithoutStatementNames(const DbError& e) {
  return e.sqlstate() + " " +
         std::regex_replace(e.message(), std::regex("dbpool_[0-9a-f]+_[0-9]+"), "dbpool_*");
}

TEST_F(PgRowsTest, BulkProtocolRowsReadsParameterlessQueriesAsRows) {
  ConnectionConfig rows_config = config_;
  rows_config.options["bulk_protocol"] = "rows";
  auto rows = Connect(rows_config);
  auto regular = Connect();
  AsPg(*regular).SetCopyReads(CopyReads::kNever);
  AdminSession admin;
  ASSERT_TRUE(admin.ok());
  auto last_statement = [&](Connection& conn) {
    return admin.Scalar("SELECT query FROM pg_stat_activity WHERE pid = " +
                        std::to_string(conn.ServerSessionId()));
  };
  const std::string big =
      "SELECT g::int8 AS id, (g % 50)::numeric(15,2) AS qty, md5(g::text) AS note, "
      "CASE WHEN g % 7 = 0 THEN NULL ELSE date '1993-01-01' + g % 2000 END AS day "
      "FROM generate_series(1, 100000) g";
  // Identical results (or errors) to the regular path, for what COPY takes and what it
  // does not: no rows, no columns, several statements, a "$1" without its value.
  for (const std::string& sql :
       {big, big + " WHERE false", std::string("SELECT"), std::string("SELECT 1 AS a; SELECT 2 AS b"),
        std::string("SELECT $1::int AS x"), std::string("VALUES (1, 'x'), (2, NULL)")}) {
    std::optional<QueryResult> a;
    std::optional<QueryResult> b;
    std::string a_error;
    std::string b_error;
    try {
      a = Query(*rows, sql);
    } catch (const DbError& e) {
      a_error = WithoutStatementNames(e);
    }
    try {
      b = Query(*regular, sql);
    } catch (const DbError& e) {
      b_error = WithoutStatementNames(e);
    }
    EXPECT_EQ(a_error, b_error) << sql;
    if (a && b) ExpectSameResult(*a, *b);
    EXPECT_FALSE(rows->IsBroken()) << sql;
  }
  // The big read went to the server as itself, not wrapped in COPY; a default pool's does.
  Query(*rows, big);
  EXPECT_EQ(last_statement(*rows), big);
  auto copy = Connect();
  Query(*copy, big);
  EXPECT_EQ(last_statement(*copy).rfind("COPY (", 0), 0u) << last_statement(*copy);
  // Streams come in bounded batches.
  CollectSink sink;
  Stream(*rows, big, {}, sink, 1000);
  EXPECT_EQ(sink.rows, 100000);
  EXPECT_EQ(sink.max_rows, 1000);
  EXPECT_EQ(last_statement(*rows), big);
  ExpectClean(*rows);
  // A value that is neither is refused before connecting, naming the option.
  rows_config.options["bulk_protocol"] = "fast";
  DbError e = Catch([&] { Connect(rows_config); });
  EXPECT_EQ(e.kind(), ErrorKind::kConfig);
  EXPECT_NE(e.message().find("options.bulk_protocol"), std::string::npos) << e.message();
}

TEST_F(PgRowsTest, ParameterizedReadsAreIdenticalToTheRegularPath) {
  auto conn = Connect();
  Execute(*conn,
          "CREATE TEMP TABLE li (l_orderkey bigint, l_quantity numeric(15,2), "
          "l_returnflag char(1), l_shipdate date, l_comment varchar(44), tags text[]); "
          "INSERT INTO li SELECT g / 4, (g % 50)::numeric(15,2), substr('ANR', g % 3 + 1, 1), "
          "CASE WHEN g % 13 = 0 THEN NULL ELSE date '1993-01-01' + g % 2000 END, "
          "CASE WHEN g % 17 = 0 THEN NULL ELSE repeat(md5(g::text), 2)::varchar(44) END, "
          "ARRAY[g::text, NULL] FROM generate_series(1, 150000) g");
  QueryResult r = QueryBoth(*conn, "SELECT * FROM li WHERE l_orderkey >= $1 ORDER BY l_orderkey",
                            Param(10));
  EXPECT_EQ(r.num_rows(), 150000 - 39);
  EXPECT_EQ(r.batches.size(), 3u);  // 65536-row batches, as the regular path makes them
  EXPECT_EQ(r.schema[1].type, arrow::DataType::Decimal(15, 2));
  QueryBoth(*conn, "SELECT * FROM li WHERE l_orderkey < $1", Param(-1));  // no rows
  // The same errors: a conversion error names the same column and row; a runtime error
  // after rows were sent has the server's SQLSTATE.
  DbError e = Catch([&] {
    QueryBoth(*conn, "SELECT CASE WHEN g = 70000 THEN 'infinity'::date ELSE current_date END "
                     "AS d FROM generate_series(1, $1::int) g", Param(100000));
  });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  EXPECT_NE(e.message().find("column 'd' (row 70000)"), std::string::npos) << e.message();
  ExpectClean(*conn);
  e = Catch([&] {
    QueryBoth(*conn, "SELECT 1 / (g - $1::int) AS x FROM generate_series(1, 300000) g",
              Param(150000));
  });
  EXPECT_EQ(e.sqlstate(), "22012") << e.what();
  ExpectClean(*conn);
}

TEST_F(PgRowsTest, StreamWithParametersGivesBoundedBatchesOfOneSchema) {
  auto conn = Connect();
  CollectSink sink;
  sink.keep = true;
  Stream(*conn, "SELECT g::int8 AS g, g::text AS t FROM generate_series(1, $1::int) g",
         Param(25000), sink, 10000);
  EXPECT_EQ(sink.schemas, 1);
  ASSERT_EQ(sink.batches, 3);
  EXPECT_EQ(sink.rows, 25000);
  EXPECT_EQ(sink.max_rows, 10000);
  EXPECT_EQ(sink.kept[2].num_rows(), 5000);
  ASSERT_EQ(sink.schema.size(), 2u);
  EXPECT_EQ(sink.schema[1].type.id, arrow::TypeId::kString);
  EXPECT_EQ(At<int64_t>(*sink.kept[1].array().children[0], 0), 10001);
  for (const RecordBatch& batch : sink.kept) EXPECT_EQ(batch.array().n_children, 2);
  // Query() of the same statement: the same schema.
  QueryResult whole = Query(*conn, "SELECT g::int8 AS g, g::text AS t FROM generate_series(1, $1::int) g",
                            Param(25000));
  EXPECT_EQ(whole.schema, sink.schema);
  ExpectClean(*conn);
}

TEST_F(PgRowsTest, StoppingEarlyLeavesTheConnectionClean) {
  auto conn = Connect();
  CollectSink sink;
  sink.on_batch = [](int n) { return n < 2; };
  auto start = steady_clock::now();
  Stream(*conn, "SELECT generate_series(1, $1::int8) AS g, repeat('x', 50) AS x",
         Param(20000000), sink, 500);
  EXPECT_EQ(sink.batches, 2);
  EXPECT_LT(std::chrono::duration<double>(steady_clock::now() - start).count(), 5.0);
  ExpectClean(*conn);
  // Inside a transaction the rest is read, not cancelled: the transaction goes on.
  Execute(*conn, "CREATE TEMP TABLE kept (a int)");
  Run(conn->Begin());
  Execute(*conn, "INSERT INTO kept VALUES (1)");
  CollectSink stop;
  stop.on_batch = [](int) { return false; };
  Stream(*conn, "SELECT g FROM generate_series(1, $1::int) g", Param(200000), stop, 1000);
  EXPECT_EQ(stop.batches, 1);
  EXPECT_TRUE(conn->InTransaction());
  Run(conn->Commit());
  EXPECT_EQ(Query(*conn, "SELECT a FROM kept").num_rows(), 1);
  ExpectClean(*conn);
}

TEST_F(PgRowsTest, ABatchAfterARowReadGetsEveryRowOfItsFirstStatement) {
  // libpq leaves single-row mode on after the statement: the first statement of the next
  // pipeline (already prepared, or unnamed) came back empty.
  for (const char* cache : {"100", "0"}) {
    ConnectionConfig config = config_;
    config.options["statement_cache_size"] = cache;
    auto conn = Connect(config);
    AsPg(*conn).SetCopyReads(CopyReads::kAlways);
    for (int round = 0; round < 2; ++round) {  // the second: statements already prepared
      EXPECT_EQ(Query(*conn, "SELECT g FROM generate_series(1, $1::int) g", Param(3)).num_rows(),
                3);
      std::vector<Statement> batch(2);
      batch[0].sql = "SELECT g FROM generate_series(1, 4) g";
      batch[1].sql = "SELECT 1 AS one";
      auto results = Run(conn->QueryBatch(std::move(batch), nullptr));
      ASSERT_EQ(results.size(), 2u);
      EXPECT_EQ(results[0].num_rows(), 4) << "statement_cache_size=" << cache << " round " << round;
      EXPECT_EQ(results[1].num_rows(), 1);
    }
    ExpectClean(*conn);
  }
}

TEST_F(PgRowsTest, FiveMillionRowStreamRunsInMemoryBoundedByTheBatch) {
  auto conn = Connect();
  CollectSink sink;  // drops every batch at once
  int64_t rss_at_start = 0;
  int64_t rss_peak = 0;
  sink.on_batch = [&](int n) {
    int64_t rss = CurrentRss();
    if (n == 5) rss_at_start = rss;
    if (n > 5 && rss > rss_peak) rss_peak = rss;
    return true;
  };
  // ~24 bytes of Arrow data per row: 120 MB if it were held at once, far more as a PGresult.
  Stream(*conn, "SELECT g::int8 AS g, (g % 1000)::text AS t FROM "
                "(SELECT generate_series(1, $1::int) AS g) s",
         Param(5000000), sink, 65536);
  EXPECT_EQ(sink.rows, 5000000);
#ifndef __SANITIZE_ADDRESS__
  EXPECT_LT(rss_peak - rss_at_start, int64_t{48} << 20)
      << "RSS grew from " << (rss_at_start >> 20) << " MB to " << (rss_peak >> 20) << " MB";
#endif
  ExpectClean(*conn);
}

TEST_F(PgRowsTest, CachedStatementsServeTheRowPathAndAreReplacedWhenStale) {
  auto conn = Connect();
  AsPg(*conn).SetCopyReads(CopyReads::kAlways);  // the row path even for small results
  Execute(*conn, "CREATE TEMP TABLE st (a int); INSERT INTO st SELECT generate_series(1, 3)");
  const std::string sql = "SELECT * FROM st WHERE a > $1";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Query(*conn, sql, Param(0)).num_rows(), 3);
  EXPECT_EQ(AsPg(*conn).cached_statements(), 1u);
  Execute(*conn, "ALTER TABLE st ALTER COLUMN a TYPE int8");
  QueryResult r = Query(*conn, sql, Param(1));
  EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kInt64);
  EXPECT_EQ(r.num_rows(), 2);
  Execute(*conn, "DEALLOCATE ALL");
  EXPECT_EQ(Query(*conn, sql, Param(2)).num_rows(), 1);
  // A statement prepared by Execute (no plans yet) is described, not prepared again.
  Execute(*conn, "SELECT * FROM st WHERE a > $1 AND true", Param(0));
  EXPECT_EQ(Query(*conn, "SELECT * FROM st WHERE a > $1 AND true", Param(0)).num_rows(), 3);
  // Syntax errors are the server's, and nothing stays cached for them.
  size_t cached = AsPg(*conn).cached_statements();
  EXPECT_EQ(Catch([&] { Query(*conn, "SELECT * FROM st WHERE a >> $1 +", Param(0)); }).sqlstate(),
            "42601");
  EXPECT_EQ(AsPg(*conn).cached_statements(), cached);
  AsPg(*conn).SetCopyReads(CopyReads::kAuto);
  ExpectClean(*conn);
}

}  // namespace
}  // namespace dbpool::pg::testing
