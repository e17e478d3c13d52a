// Bulk reads through COPY (TO STDOUT, binary) and QueryStream against a real server:
// identical output to the regular path, statements COPY cannot take, early stop, cancel and
// errors mid-stream leaving the connection usable, memory bounded by the batch size; the
// prepared-statement cache (on, off, eviction, stale statements) and pipelined batches.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>
#include <vector>

#include "postgresql_test_util.hpp"

namespace dbpool::pg::testing {
namespace {

using std::chrono::steady_clock;

class PgCopyTest : public PgTest {
 protected:
  void Stream(Connection& conn, const std::string& sql, CollectSink& sink, int64_t batch_rows,
              CancelTokenPtr cancel = nullptr, Params params = {}) {
    Run(conn.QueryStream(sql, std::move(params), std::move(cancel), sink, batch_rows));
  }

  // The connection works, has no transaction open and no statement running on the server.
  void ExpectClean(Connection& conn) {
    EXPECT_FALSE(conn.IsBroken());
    EXPECT_FALSE(conn.InTransaction());
    QueryResult r = Query(conn, "SELECT 42::int4 AS answer");
    EXPECT_EQ(At<int32_t>(Column(r, 0), 0), 42);
    AdminSession admin;
    ASSERT_TRUE(admin.ok());
    EXPECT_EQ(admin.Scalar("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                           "AND pid = " + std::to_string(conn.ServerSessionId())),
              "0");
  }

  // Named statements on the server (read through COPY, which uses the unnamed one).
  int64_t ServerStatements(Connection& conn) {
    AsPg(conn).SetCopyReads(CopyReads::kAlways);
    QueryResult r = Query(conn, "SELECT count(*) FROM pg_prepared_statements");
    AsPg(conn).SetCopyReads(CopyReads::kAuto);
    return At<int64_t>(Column(r, 0), 0);
  }
};

TEST_F(PgCopyTest, LineitemShapedTableIsIdenticalThroughBothPaths) {
  auto conn = Connect();
  Execute(*conn,
          "CREATE TEMP TABLE li (l_orderkey bigint, l_partkey int, l_suppkey int, "
          "l_linenumber int, l_quantity numeric(15,2), l_extendedprice numeric(15,2), "
          "l_discount numeric(15,2), l_tax numeric(15,2), l_returnflag char(1), "
          "l_linestatus char(1), l_shipdate date, l_commitdate date, l_receiptdate date, "
          "l_shipinstruct varchar(25), l_shipmode varchar(10), l_comment varchar(44)); "
          "INSERT INTO li SELECT g / 4, g % 20000, g % 1000, g % 7, (g % 50)::numeric(15,2), "
          "round(g * 1.37, 2), (g % 11) / 100.0, (g % 9) / 100.0, substr('ANR', g % 3 + 1, 1), "
          "CASE WHEN g % 5 = 0 THEN NULL ELSE 'O' END, date '1992-01-01' + g % 2500, "
          "CASE WHEN g % 13 = 0 THEN NULL ELSE date '1993-01-01' + g % 2000 END, "
          "date '1994-01-01' + g % 1500, 'DELIVER IN PERSON', 'TRUCK', "
          "CASE WHEN g % 17 = 0 THEN NULL ELSE repeat(md5(g::text), 2)::varchar(44) END "
          "FROM generate_series(1, 150000) g");
  QueryResult r = QueryBoth(*conn, "SELECT * FROM li ORDER BY l_orderkey, l_linenumber");
  EXPECT_EQ(r.num_rows(), 150000);
  EXPECT_EQ(r.batches.size(), 3u);
  EXPECT_EQ(r.schema[4].type, arrow::DataType::Decimal(15, 2));
  EXPECT_EQ(r.schema[10].type.id, arrow::TypeId::kDate32);
}

TEST_F(PgCopyTest, TypesOfEveryKindAreIdenticalThroughBothPaths) {
  auto conn = Connect();
  Execute(*conn, "CREATE TYPE pg_temp.color AS ENUM ('red', 'green')");
  QueryBoth(*conn,
            "SELECT g AS i, (g % 30000)::int2 AS s, g::int8 * 1000000000 AS b, g::oid AS o, "
            "(g * 0.5)::float4 AS f4, (g / 3.0)::float8 AS f8, (g * 1.25)::numeric(12,3) AS d, "
            "(g * 1.25)::numeric AS nt, g::money AS m, g::text AS t, "
            "decode(md5(g::text), 'hex') AS by, (g % 2 = 0) AS bo, "
            "date '2000-01-01' + g AS dt, time '00:00' + g * interval '1 second' AS tm, "
            "timetz '12:00+02' AS ttz, timestamp '2000-01-01' + g * interval '1 hour' AS ts, "
            "timestamptz '2000-01-01 UTC' + g * interval '1 minute' AS tstz, "
            "g * interval '1 day' AS iv, md5(g::text)::uuid AS u, "
            "json_build_object('g', g) AS j, jsonb_build_object('g', g) AS jb, "
            "ARRAY[g, NULL, g + 1] AS arr, ARRAY[g::text, 'x'] AS tarr, "
            "'10.0.0.1'::inet AS ip, '08:00:2b:01:02:03'::macaddr AS mac, B'101' AS bits, "
            "'0/16'::pg_lsn AS lsn, point(g, g) AS pt, "
            "CASE WHEN g % 3 = 0 THEN NULL ELSE 'red'::pg_temp.color END AS c, "
            "CASE WHEN g % 4 = 0 THEN NULL ELSE g END AS maybe "
            "FROM generate_series(1, 70000) g");
  QueryBoth(*conn, "SELECT 1::int4 AS a, 'x'::text AS b WHERE false");  // no rows
  QueryBoth(*conn, "VALUES (1, 'a'), (2, NULL)");
  QueryBoth(*conn, "TABLE pg_catalog.pg_am");
  QueryBoth(*conn, "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r "
                   "WHERE n < 10) SELECT * FROM r");
  QueryBoth(*conn, "(SELECT 1 AS x) UNION ALL (SELECT 2)");
  QueryBoth(*conn, "SELECT pg_sleep(0) AS v");  // void
  // The same errors, naming the same column and row.
  DbError e = Catch([&] {
    QueryBoth(*conn, "SELECT CASE WHEN g = 70000 THEN 'infinity'::date ELSE current_date END "
                     "AS d FROM generate_series(1, 100000) g");
  });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  EXPECT_NE(e.message().find("column 'd' (row 70000)"), std::string::npos) << e.message();
  ExpectClean(*conn);
}

TEST_F(PgCopyTest, StatementsCopyCannotTakeStillWork) {
  auto conn = Connect();
  Execute(*conn, "CREATE TEMP TABLE src (a int); INSERT INTO src VALUES (1), (2), (3)");
  // Trailing semicolons, comments, a comment that would swallow the closing parenthesis.
  for (const char* sql : {"SELECT a FROM src ORDER BY a;", "SELECT a FROM src ORDER BY a ; ; ",
                          "SELECT a FROM src ORDER BY a -- the end",
                          "SELECT a FROM src ORDER BY a; -- the end\n/* really */",
                          "/* lead */ -- in\n ( SELECT a FROM src ORDER BY a )"}) {
    QueryResult r = QueryBoth(*conn, sql);
    EXPECT_EQ(r.num_rows(), 3) << sql;
  }
  // Describe says: no rows (SELECT INTO) -> the regular path, run once.
  QueryResult into = Query(*conn, "SELECT a INTO TEMP copied FROM src");
  EXPECT_FALSE(into.has_rows());
  EXPECT_EQ(into.rows_affected, 3);
  EXPECT_EQ(Query(*conn, "SELECT * FROM copied").num_rows(), 3);
  // Not SELECT-like: SHOW, EXPLAIN, INSERT ... RETURNING.
  EXPECT_EQ(Query(*conn, "SHOW server_version_num").num_rows(), 1);
  EXPECT_GE(Query(*conn, "EXPLAIN SELECT * FROM src").num_rows(), 1);
  EXPECT_EQ(Query(*conn, "INSERT INTO src VALUES (4) RETURNING a").num_rows(), 1);
  // A data-modifying WITH runs once through COPY.
  QueryResult w = Query(*conn, "WITH ins AS (INSERT INTO src VALUES (5) RETURNING a) "
                               "SELECT a FROM ins");
  EXPECT_EQ(w.num_rows(), 1);
  EXPECT_EQ(Query(*conn, "SELECT count(*) FROM src WHERE a = 5").batches.size(), 1u);
  EXPECT_EQ(At<int64_t>(Column(Query(*conn, "SELECT count(*) FROM src WHERE a = 5"), 0), 0), 1);
  // Inside a transaction too, and the transaction goes on.
  Run(conn->Begin());
  w = Query(*conn, "WITH ins AS (INSERT INTO src VALUES (6) RETURNING a) SELECT a FROM ins");
  EXPECT_EQ(w.num_rows(), 1);
  Run(conn->Commit());
  EXPECT_EQ(At<int64_t>(Column(Query(*conn, "SELECT count(*) FROM src WHERE a = 6"), 0), 0), 1);
  // Errors are the regular path's: syntax, a missing table, a parameter without a value.
  EXPECT_EQ(Catch([&] { Query(*conn, "SELECT FROM WHERE"); }).sqlstate(), "42601");
  EXPECT_EQ(Catch([&] { Query(*conn, "SELECT * FROM no_such_table"); }).sqlstate(), "42P01");
  DbError missing = Catch([&] { Query(*conn, "SELECT $1::int"); });
  EXPECT_EQ(missing.kind(), ErrorKind::kQuery) << missing.what();  // not a lost session
  EXPECT_FALSE(conn->IsBroken());
  EXPECT_EQ(Catch([&] { Query(*conn, "SELECT 1; SELECT 2"); }).sqlstate(), "42601");
  ExpectClean(*conn);
}

TEST_F(PgCopyTest, RuntimeErrorAndConversionErrorMidCopyLeaveTheConnectionClean) {
  auto conn = Connect();
  AsPg(*conn).SetCopyReads(CopyReads::kAlways);
  DbError e = Catch([&] {
    Query(*conn, "SELECT 1 / (g - 150000) AS x FROM generate_series(1, 300000) g");
  });
  EXPECT_EQ(e.sqlstate(), "22012") << e.what();
  ExpectClean(*conn);
  e = Catch([&] {
    Query(*conn, "SELECT CASE WHEN g = 5000 THEN date 'infinity' ELSE date '2000-01-01' END "
                 "AS dt FROM generate_series(1, 2000000) g");
  });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  EXPECT_NE(e.message().find("column 'dt' (row 5000)"), std::string::npos) << e.message();
  ExpectClean(*conn);
}

TEST_F(PgCopyTest, StreamDeliversBatchesOfTheAskedSize) {
  auto conn = Connect();
  CollectSink sink;
  sink.keep = true;
  Stream(*conn, "SELECT g::int8 AS g, g::text AS t FROM generate_series(1, 25000) g", sink,
         10000);
  EXPECT_EQ(sink.schemas, 1);
  ASSERT_EQ(sink.batches, 3);
  EXPECT_EQ(sink.rows, 25000);
  EXPECT_EQ(sink.kept[0].num_rows(), 10000);
  EXPECT_EQ(sink.kept[2].num_rows(), 5000);
  EXPECT_EQ(sink.schema[1].type.id, arrow::TypeId::kString);
  EXPECT_EQ(At<int64_t>(*sink.kept[1].array().children[0], 0), 10001);
  // No rows: the schema, no batch. With parameters: the regular path, same contract.
  CollectSink empty;
  Stream(*conn, "SELECT 1::int4 AS a WHERE false", empty, 100);
  EXPECT_EQ(empty.schemas, 1);
  EXPECT_EQ(empty.batches, 0);
  CollectSink with_params;
  Params params;
  params.values.emplace_back(int64_t{250});
  Stream(*conn, "SELECT g FROM generate_series(1, $1) g", with_params, 100, nullptr, params);
  EXPECT_EQ(with_params.batches, 3);
  EXPECT_EQ(with_params.rows, 250);
  ExpectClean(*conn);
}

TEST_F(PgCopyTest, StoppingEarlyLeavesTheConnectionUsable) {
  auto conn = Connect();
  for (int64_t rows : {int64_t{2000}, int64_t{20000000}}) {
    // 2000 rows are all received before the stop (nothing to cancel); 20M are not.
    CollectSink sink;
    sink.on_batch = [](int n) { return n < 2; };
    auto start = steady_clock::now();
    Stream(*conn, "SELECT generate_series(1, " + std::to_string(rows) +
                      ")::int8 AS g, repeat('x', 50) AS x",
           sink, 500);
    EXPECT_EQ(sink.batches, 2);
    EXPECT_LT(std::chrono::duration<double>(steady_clock::now() - start).count(), 5.0);
    ExpectClean(*conn);
  }
  // Inside a transaction the rest is read, not cancelled: the transaction goes on.
  Execute(*conn, "CREATE TEMP TABLE kept (a int)");
  Run(conn->Begin());
  Execute(*conn, "INSERT INTO kept VALUES (1)");
  CollectSink sink;
  sink.on_batch = [](int) { return false; };
  Stream(*conn, "SELECT g FROM generate_series(1, 200000) g", sink, 1000);
  EXPECT_EQ(sink.batches, 1);
  EXPECT_TRUE(conn->InTransaction());
  EXPECT_EQ(Query(*conn, "SELECT a FROM kept").num_rows(), 1);  // not aborted
  Run(conn->Commit());
  EXPECT_EQ(Query(*conn, "SELECT a FROM kept").num_rows(), 1);
  ExpectClean(*conn);
}

TEST_F(PgCopyTest, CancelAndSinkErrorsMidStreamLeaveTheConnectionUsable) {
  auto conn = Connect();
  auto token = std::make_shared<CancelToken>();
  CollectSink sink;
  sink.on_batch = [token](int n) {
    if (n == 3) token->Cancel();
    return true;
  };
  auto start = steady_clock::now();
  DbError e = Catch([&] {
    Stream(*conn, "SELECT generate_series(1, 50000000) AS g", sink, 1000, token);
  });
  EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.what();
  EXPECT_EQ(e.sqlstate(), "57014");
  EXPECT_LT(std::chrono::duration<double>(steady_clock::now() - start).count(), 5.0);
  ExpectClean(*conn);

  // A sink that throws: the error reaches the caller, the COPY is ended on the server.
  class ThrowingSink final : public BatchSink {
   public:
    asio::awaitable<void> OnSchema(arrow::Schema) override { co_return; }
    asio::awaitable<bool> OnBatch(RecordBatch) override {
      throw DbError(ErrorKind::kInternal, "consumer failed");
      co_return true;
    }
  } throwing;
  e = Catch([&] {
    Run(conn->QueryStream("SELECT generate_series(1, 50000000) AS g", {}, nullptr, throwing,
                          1000));
  });
  EXPECT_EQ(e.message(), "consumer failed");
  ExpectClean(*conn);

  class SchemaThrowingSink final : public BatchSink {
   public:
    asio::awaitable<void> OnSchema(arrow::Schema) override {
      throw DbError(ErrorKind::kInternal, "no schema wanted");
      co_return;
    }
    asio::awaitable<bool> OnBatch(RecordBatch) override { co_return true; }
  } schema_throwing;
  e = Catch([&] {
    Run(conn->QueryStream("SELECT generate_series(1, 50000000) AS g", {}, nullptr,
                          schema_throwing, 1000));
  });
  EXPECT_EQ(e.message(), "no schema wanted");
  ExpectClean(*conn);
}

TEST_F(PgCopyTest, TenMillionRowStreamRunsInMemoryBoundedByTheBatch) {
  auto conn = Connect();
  CollectSink sink;  // drops every batch at once
  int64_t rss_at_start = 0;
  int64_t rss_peak = 0;
  double first_batch_at = 0;
  auto start = steady_clock::now();
  sink.on_batch = [&](int n) {
    int64_t rss = CurrentRss();
    if (n == 1) {
      first_batch_at = std::chrono::duration<double>(steady_clock::now() - start).count();
    }
    if (n == 5) rss_at_start = rss;
    if (n > 5 && rss > rss_peak) rss_peak = rss;
    return true;
  };
  // ~24 bytes of Arrow data per row: 240 MB if it were all held at once. (An SRF in the
  // select list streams; one in FROM would be materialised on the server first.)
  Stream(*conn, "SELECT g::int8 AS g, (g % 1000)::text AS t FROM "
                "(SELECT generate_series(1, 10000000) AS g) s",
         sink, 65536);
  double total = std::chrono::duration<double>(steady_clock::now() - start).count();
  EXPECT_EQ(sink.rows, 10000000);
  EXPECT_EQ(sink.batches, (10000000 + 65535) / 65536);
  EXPECT_LT(first_batch_at, total / 4) << "batches must arrive while the query runs";
#ifndef __SANITIZE_ADDRESS__  // ASan holds freed memory in a 256 MB quarantine
  EXPECT_LT(rss_peak - rss_at_start, int64_t{48} << 20)
      << "RSS grew from " << (rss_at_start >> 20) << " MB to " << (rss_peak >> 20) << " MB";
#endif
  ExpectClean(*conn);
}

TEST_F(PgCopyTest, SmallResultsSwitchToTheRegularPathAndBack) {
  auto conn = Connect();
  Execute(*conn, "CREATE TEMP TABLE grow (a int); INSERT INTO grow SELECT generate_series(1, 10)");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Query(*conn, "SELECT a FROM grow").num_rows(), 10);
  Execute(*conn, "INSERT INTO grow SELECT generate_series(1, 5000)");
  for (int i = 0; i < 3; ++i) {
    QueryResult r = Query(*conn, "SELECT a FROM grow");
    EXPECT_EQ(r.num_rows(), 5010);
    EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kInt32);
  }
}

// ---- Prepared-statement cache ----

TEST_F(PgCopyTest, StatementCacheReusesNamedStatements) {
  auto conn = Connect();
  for (int i = 0; i < 5; ++i) {
    Params params;
    params.values.emplace_back(int64_t{i});
    QueryResult r = Query(*conn, "SELECT $1::int4 AS v, 'x'::text AS t", params);
    EXPECT_EQ(At<int32_t>(Column(r, 0), 0), i);
    EXPECT_EQ(r.schema[0].name, "v");
  }
  EXPECT_EQ(AsPg(*conn).cached_statements(), 1u);
  // Other parameter types are another statement.
  Params text;
  text.values.emplace_back(std::string("7"));
  EXPECT_EQ(At<int32_t>(Column(Query(*conn, "SELECT $1::int4 AS v, 'x'::text AS t", text), 0), 0),
            7);
  EXPECT_EQ(AsPg(*conn).cached_statements(), 2u);
  EXPECT_EQ(ServerStatements(*conn), 2);
  // Execute with parameters uses it too; a runtime error keeps the statement.
  Execute(*conn, "CREATE TEMP TABLE c (a int PRIMARY KEY)");
  Params one;
  one.values.emplace_back(int64_t{1});
  EXPECT_EQ(Execute(*conn, "INSERT INTO c VALUES ($1)", one), 1);
  EXPECT_EQ(Catch([&] { Execute(*conn, "INSERT INTO c VALUES ($1)", one); }).sqlstate(), "23505");
  EXPECT_EQ(AsPg(*conn).cached_statements(), 3u);
  // A statement that does not prepare is not kept.
  EXPECT_EQ(Catch([&] { Query(*conn, "SELEC $1", one); }).sqlstate(), "42601");
  EXPECT_EQ(AsPg(*conn).cached_statements(), 3u);
  EXPECT_EQ(ServerStatements(*conn), 3);
}

TEST_F(PgCopyTest, StatementCacheEvictsAndDeallocates) {
  ConnectionConfig config = config_;
  config.options["statement_cache_size"] = "3";
  auto conn = Connect(config);
  for (int i = 0; i < 8; ++i) {
    Params params;
    params.values.emplace_back(int64_t{i});
    std::string sql = "SELECT $1::int8 + " + std::to_string(i) + " AS v";
    EXPECT_EQ(At<int64_t>(Column(Query(*conn, sql, params), 0), 0), 2 * i);
    EXPECT_LE(AsPg(*conn).cached_statements(), 3u);
    EXPECT_LE(ServerStatements(*conn), 3);
  }
  EXPECT_EQ(AsPg(*conn).cached_statements(), 3u);
  // The most recent ones are still there (hits prepare nothing).
  Params params;
  params.values.emplace_back(int64_t{1});
  Query(*conn, "SELECT $1::int8 + 7 AS v", params);
  EXPECT_EQ(ServerStatements(*conn), 3);
}

TEST_F(PgCopyTest, BatchLargerThanTheCacheEvictsWithinTheBatch) {
  ConnectionConfig config = config_;
  config.options["statement_cache_size"] = "2";
  auto conn = Connect(config);
  for (int round = 0; round < 2; ++round) {
    std::vector<Statement> batch(6);
    for (int i = 0; i < 6; ++i) {
      batch[i].sql = "SELECT $1::int8 * " + std::to_string(i % 5) + " AS v";  // 5 distinct
      batch[i].params.values.emplace_back(int64_t{10});
    }
    auto results = Run(conn->QueryBatch(std::move(batch), nullptr));
    ASSERT_EQ(results.size(), 6u);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(At<int64_t>(Column(results[i], 0), 0), 10 * (i % 5));
    EXPECT_EQ(AsPg(*conn).cached_statements(), 2u);
    EXPECT_LE(ServerStatements(*conn), 2);
  }
  ExpectClean(*conn);
}

TEST_F(PgCopyTest, StatementCacheOffUsesUnnamedStatementsOnly) {
  ConnectionConfig config = config_;
  config.options["statement_cache_size"] = "0";
  auto conn = Connect(config);
  for (int i = 0; i < 3; ++i) {
    Params params;
    params.values.emplace_back(int64_t{i});
    EXPECT_EQ(At<int64_t>(Column(Query(*conn, "SELECT $1::int8 AS v", params), 0), 0), i);
  }
  EXPECT_EQ(AsPg(*conn).cached_statements(), 0u);
  EXPECT_EQ(ServerStatements(*conn), 0);
  std::vector<Statement> batch(3);
  for (int i = 0; i < 3; ++i) {
    batch[i].sql = "SELECT $1::int8 AS v";
    batch[i].params.values.emplace_back(int64_t{i});
  }
  auto results = Run(conn->QueryBatch(std::move(batch), nullptr));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(At<int64_t>(Column(results[2], 0), 0), 2);
  EXPECT_EQ(ServerStatements(*conn), 0);
}

TEST_F(PgCopyTest, StatementCacheSizeIsValidated) {
  for (const char* bad : {"", "-1", "abc", "1.5", "100001", "99999999999"}) {
    ConnectionConfig config = config_;
    config.options["statement_cache_size"] = bad;
    DbError e = Catch([&] { Connect(config); });
    EXPECT_EQ(e.kind(), ErrorKind::kConfig) << bad;
    EXPECT_NE(e.message().find("statement_cache_size"), std::string::npos) << e.message();
  }
}

TEST_F(PgCopyTest, StaleCachedStatementsArePreparedAgain) {
  auto conn = Connect();
  Execute(*conn, "CREATE TEMP TABLE st (a int); INSERT INTO st VALUES (1)");
  Params params;
  params.values.emplace_back(int64_t{0});
  const std::string sql = "SELECT * FROM st WHERE a > $1";
  EXPECT_EQ(Query(*conn, sql, params).schema[0].type.id, arrow::TypeId::kInt32);
  // The result columns change: the server refuses the old statement, it is prepared again.
  Execute(*conn, "ALTER TABLE st ALTER COLUMN a TYPE int8");
  QueryResult r = Query(*conn, sql, params);
  EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kInt64);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), 1);
  Execute(*conn, "ALTER TABLE st ADD COLUMN b text DEFAULT 'x'");
  r = Query(*conn, sql, params);
  ASSERT_EQ(r.schema.size(), 2u);
  EXPECT_EQ(StringValue(Column(r, 1), 0), "x");
  // The session's statements are dropped: prepared again.
  Execute(*conn, "DEALLOCATE ALL");
  EXPECT_EQ(Query(*conn, sql, params).num_rows(), 1);
  // Inside a transaction the error has aborted it: reported, and fine after ROLLBACK.
  Run(conn->Begin());
  Execute(*conn, "ALTER TABLE st DROP COLUMN b");
  DbError e = Catch([&] { Query(*conn, sql, params); });
  EXPECT_EQ(e.sqlstate(), "0A000");
  Run(conn->Rollback());
  EXPECT_EQ(Query(*conn, sql, params).schema.size(), 2u);
  ExpectClean(*conn);
}

TEST_F(PgCopyTest, StatementVanishedBetweenCallsSwitchesToUnnamedStatements) {
  // What a transaction-mode pooler does: the next call finds the session without the
  // statements prepared before. (DEALLOCATE behind a leading SELECT is not seen by the
  // cache, unlike a plain DEALLOCATE / DISCARD, which clear it.)
  auto conn = Connect();
  const std::string sql = "SELECT $1::int8 AS v";
  Params params;
  params.values.emplace_back(int64_t{5});
  EXPECT_EQ(At<int64_t>(Column(Query(*conn, sql, params), 0), 0), 5);
  EXPECT_EQ(AsPg(*conn).cached_statements(), 1u);
  Execute(*conn, "DEALLOCATE ALL");  // seen: the cache is cleared, named statements go on
  EXPECT_EQ(AsPg(*conn).cached_statements(), 0u);
  EXPECT_EQ(At<int64_t>(Column(Query(*conn, sql, params), 0), 0), 5);
  EXPECT_TRUE(AsPg(*conn).named_statements());
  Execute(*conn, "SELECT 1; DEALLOCATE ALL");  // unseen: the statement just vanishes
  // The call that meets the vanished statement is run again, unnamed; so is every later one.
  EXPECT_EQ(At<int64_t>(Column(Query(*conn, sql, params), 0), 0), 5);
  EXPECT_FALSE(AsPg(*conn).named_statements());
  EXPECT_EQ(Execute(*conn, "SELECT $1::int8", params), 1);
  EXPECT_EQ(AsPg(*conn).cached_statements(), 0u);
  EXPECT_EQ(ServerStatements(*conn), 0);
  ExpectClean(*conn);
}

TEST_F(PgCopyTest, StatementVanishedInsideATransactionIsReportedWithTheFix) {
  auto conn = Connect();
  Params params;
  params.values.emplace_back(int64_t{1});
  Execute(*conn, "SELECT $1::int8", params);
  Execute(*conn, "SELECT 1; DEALLOCATE ALL");
  Run(conn->Begin());
  DbError e = Catch([&] { Execute(*conn, "SELECT $1::int8", params); });
  EXPECT_EQ(e.sqlstate(), "26000");
  EXPECT_NE(e.message().find("statement_cache_size=0"), std::string::npos) << e.message();
  Run(conn->Rollback());
  EXPECT_FALSE(AsPg(*conn).named_statements());
  EXPECT_EQ(Execute(*conn, "SELECT $1::int8", params), 1);
  ExpectClean(*conn);
}

// ---- Pipelined batches ----

TEST_F(PgCopyTest, BatchIsPipelinedWithOneResultPerStatement) {
  auto conn = Connect();
  Execute(*conn, "CREATE TEMP TABLE b (a int)");
  std::vector<Statement> batch(5);
  batch[0].sql = "INSERT INTO b VALUES ($1)";
  batch[0].params.values.emplace_back(int64_t{1});
  batch[1].sql = "SELECT $1::text AS t";
  batch[1].params.values.emplace_back(std::string("hello"));
  batch[2].sql = "SELECT a FROM b";
  batch[3].sql = "INSERT INTO b VALUES ($1)";  // same statement again
  batch[3].params.values.emplace_back(int64_t{2});
  batch[4].sql = "SELECT count(*) AS n FROM b";
  auto results = Run(conn->QueryBatch(std::move(batch), nullptr));
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[0].rows_affected, 1);
  EXPECT_EQ(StringValue(Column(results[1], 0), 0), "hello");
  EXPECT_EQ(results[2].num_rows(), 1);
  EXPECT_EQ(results[3].rows_affected, 1);
  EXPECT_EQ(At<int64_t>(Column(results[4], 0), 0), 2);

  // An error: the first one is thrown once every result is in; the others ran, each in
  // its own implicit transaction, as they would one by one.
  std::vector<Statement> failing(3);
  failing[0].sql = "INSERT INTO b VALUES (10)";
  failing[1].sql = "SELECT 1 / $1::int AS x";
  failing[1].params.values.emplace_back(int64_t{0});
  failing[2].sql = "INSERT INTO b VALUES (11)";
  DbError e = Catch([&] { Run(conn->QueryBatch(std::move(failing), nullptr)); });
  EXPECT_EQ(e.sqlstate(), "22012");
  EXPECT_EQ(At<int64_t>(Column(Query(*conn, "SELECT count(*) FROM b"), 0), 0), 4);
  // A syntax error in a statement being prepared.
  std::vector<Statement> bad(2);
  bad[0].sql = "SELEC 1";
  bad[1].sql = "SELECT 2 AS two";
  e = Catch([&] { Run(conn->QueryBatch(std::move(bad), nullptr)); });
  EXPECT_EQ(e.sqlstate(), "42601");
  ExpectClean(*conn);
}

TEST_F(PgCopyTest, BatchCanBeCancelled) {
  auto conn = Connect();
  auto token = std::make_shared<CancelToken>();
  std::thread canceller([token] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    token->Cancel();
  });
  std::vector<Statement> batch(2);
  batch[0].sql = "SELECT 1";
  batch[1].sql = "SELECT pg_sleep(10)";
  auto start = steady_clock::now();
  DbError e = Catch([&] { Run(conn->QueryBatch(std::move(batch), token)); });
  canceller.join();
  EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.what();
  EXPECT_LT(std::chrono::duration<double>(steady_clock::now() - start).count(), 2.0);
  ExpectClean(*conn);
}

}  // namespace
}  // namespace dbpool::pg::testing
