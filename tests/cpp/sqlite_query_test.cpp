// Statement execution tests: parameters, several statements, errors and their SQLSTATEs,
// transactions, and batch splitting.
#include "drivers/sqlite/sqlite_reader.hpp"
#include "sqlite_test_util.hpp"

namespace dbpool::sqlite::testing {
namespace {

class SqliteQueryTest : public SqliteFixture {
 protected:
  void SetUp() override { conn_ = Connect(":memory:"); }
  std::unique_ptr<Connection> conn_;
};

Params Named(std::vector<std::string> names, std::vector<dbpool::Value> values) {
  Params p;
  p.names = std::move(names);
  p.values = std::move(values);
  return p;
}

TEST_F(SqliteQueryTest, PositionalParametersOfEveryKind) {
  QueryResult r = Query(*conn_, "SELECT ?, ?, ?, ?, ?, ?, typeof(?6)",
                        {{std::monostate{}, true, int64_t{-7}, 2.5, std::string("it's"),
                          dbpool::Bytes{""}}});
  ASSERT_EQ(r.num_rows(), 1);
  EXPECT_TRUE(IsNull(Column(r, 0), 0));
  EXPECT_EQ(At<int64_t>(Column(r, 1), 0), 1);  // bool binds as 0/1
  EXPECT_EQ(At<int64_t>(Column(r, 2), 0), -7);
  EXPECT_EQ(At<double>(Column(r, 3), 0), 2.5);
  EXPECT_EQ(StringValue(Column(r, 4), 0), "it's");  // bound, never interpolated
  EXPECT_EQ(Format(r, 5), "Z");
  EXPECT_EQ(StringValue(Column(r, 6), 0), "blob");  // an empty blob, not NULL

  r = Query(*conn_, "SELECT ?2 - ?1", {{int64_t{1}, int64_t{10}}});
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), 9);

  DbError e = Catch([&] { Query(*conn_, "SELECT ?, ?", {{int64_t{1}}}); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_NE(e.message().find("2 parameter(s) but 1 value(s)"), std::string::npos) << e.what();
  e = Catch([&] { Query(*conn_, "SELECT 1", {{int64_t{1}}}); });
  EXPECT_NE(e.message().find("0 parameter(s) but 1 value(s)"), std::string::npos) << e.what();
}

TEST_F(SqliteQueryTest, NamedParametersWithAnyPrefix) {
  QueryResult r = Query(*conn_, "SELECT :a, @b, $c, :a",
                        Named({"a", "@b", "c"}, {int64_t{1}, std::string("two"), 3.0}));
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), 1);
  EXPECT_EQ(StringValue(Column(r, 1), 0), "two");
  EXPECT_EQ(At<double>(Column(r, 2), 0), 3.0);
  EXPECT_EQ(At<int64_t>(Column(r, 3), 0), 1);

  DbError e = Catch([&] { Query(*conn_, "SELECT :a, :b", Named({"a"}, {int64_t{1}})); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_NE(e.message().find("no value given for parameter :b"), std::string::npos) << e.what();
  e = Catch(
      [&] { Query(*conn_, "SELECT :a", Named({"a", "typo"}, {int64_t{1}, int64_t{2}})); });
  EXPECT_NE(e.message().find("'typo' does not occur"), std::string::npos) << e.what();
  e = Catch([&] { Query(*conn_, "SELECT ?", Named({"a"}, {int64_t{1}})); });
  EXPECT_NE(e.message().find("positional"), std::string::npos) << e.what();
}

TEST_F(SqliteQueryTest, SeveralStatements) {
  // Execute runs them all and sums the rows affected.
  EXPECT_EQ(Execute(*conn_,
                    "CREATE TABLE t (x INTEGER); -- a comment\n"
                    "INSERT INTO t VALUES (1), (2); INSERT INTO t VALUES (3);;"),
            3);
  // Query returns the last statement's result; earlier rows are discarded.
  QueryResult r = Query(
      *conn_, "SELECT 99; UPDATE t SET x = x * 10; SELECT sum(x) AS s FROM t; /* end */");
  ASSERT_EQ(r.num_rows(), 1);
  EXPECT_EQ(r.schema[0].name, "s");
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), 60);
  r = Query(*conn_, "SELECT 1; DELETE FROM t WHERE x > 10");
  EXPECT_FALSE(r.has_rows());
  EXPECT_EQ(r.rows_affected, 2);
  // DDL after DML does not report the DML's count.
  EXPECT_EQ(Execute(*conn_, "CREATE TABLE u (y)"), 0);
  EXPECT_EQ(Query(*conn_, "  -- nothing\n").rows_affected, 0);

  DbError e = Catch(
      [&] { Execute(*conn_, "INSERT INTO t VALUES (?); SELECT 1", {{int64_t{1}}}); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_NE(e.message().find("single statement"), std::string::npos) << e.what();
  // Nothing ran: the check comes before the first statement executes.
  r = Query(*conn_, "SELECT count(*) FROM t");
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), 1);
}

TEST_F(SqliteQueryTest, ErrorsCarrySqlStateAndExtendedCode) {
  Execute(*conn_,
          "CREATE TABLE p (id INTEGER PRIMARY KEY);"
          "CREATE TABLE c (id INTEGER UNIQUE, name TEXT NOT NULL, pid INTEGER REFERENCES p(id),"
          " n INTEGER CHECK (n > 0))");
  Execute(*conn_, "INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 'a', 1, 1)");
  struct Case {
    const char* sql;
    const char* sqlstate;
    int64_t code;
  } cases[] = {
      {"SELEC 1", "42601", SQLITE_ERROR},
      {"SELECT * FROM missing", "42P01", SQLITE_ERROR},
      {"SELECT nope FROM c", "42703", SQLITE_ERROR},
      {"INSERT INTO c VALUES (1, 'b', 1, 1)", "23505", SQLITE_CONSTRAINT_UNIQUE},
      {"INSERT INTO p VALUES (1)", "23505", SQLITE_CONSTRAINT_PRIMARYKEY},
      {"INSERT INTO c VALUES (2, NULL, 1, 1)", "23502", SQLITE_CONSTRAINT_NOTNULL},
      {"INSERT INTO c VALUES (2, 'b', 42, 1)", "23503", SQLITE_CONSTRAINT_FOREIGNKEY},
      {"INSERT INTO c VALUES (2, 'b', 1, -1)", "23514", SQLITE_CONSTRAINT_CHECK},
      {"COMMIT", "25P01", SQLITE_ERROR},
  };
  for (const Case& c : cases) {
    DbError e = Catch([&] { Execute(*conn_, c.sql); });
    EXPECT_EQ(e.kind(), ErrorKind::kQuery) << c.sql;
    EXPECT_EQ(e.sqlstate(), c.sqlstate) << c.sql << ": " << e.what();
    EXPECT_EQ(e.vendor_code(), c.code) << c.sql;
  }
  EXPECT_FALSE(conn_->IsBroken());
  EXPECT_EQ(At<int64_t>(Column(Query(*conn_, "SELECT count(*) FROM c"), 0), 0), 1);
}

TEST_F(SqliteQueryTest, Transactions) {
  Execute(*conn_, "CREATE TABLE t (x INTEGER)");
  EXPECT_FALSE(conn_->InTransaction());
  Run(conn_->Begin());
  EXPECT_TRUE(conn_->InTransaction());
  DbError e = Catch([&] { Run(conn_->Begin()); });
  EXPECT_EQ(e.sqlstate(), "25001") << e.what();
  Execute(*conn_, "INSERT INTO t VALUES (1)");
  Run(conn_->Rollback());
  EXPECT_FALSE(conn_->InTransaction());
  Run(conn_->Rollback());  // no transaction: a no-op
  Run(conn_->Begin());
  Execute(*conn_, "INSERT INTO t VALUES (2)");
  // An error inside a transaction leaves it open.
  Catch([&] { Execute(*conn_, "INSERT INTO nope VALUES (1)"); });
  EXPECT_TRUE(conn_->InTransaction());
  Run(conn_->Commit());
  EXPECT_FALSE(conn_->InTransaction());
  // Raw BEGIN through Execute is tracked as well.
  Execute(*conn_, "BEGIN");
  EXPECT_TRUE(conn_->InTransaction());
  Execute(*conn_, "COMMIT");
  QueryResult r = Query(*conn_, "SELECT x FROM t");
  ASSERT_EQ(r.num_rows(), 1);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), 2);
  Run(conn_->Ping());
}

TEST_F(SqliteQueryTest, BatchesSplitAtTheThreshold) {
  const int64_t kRows = 2 * kDefaultBatchRows + 18928;
  Execute(*conn_, "CREATE TABLE t (x INTEGER, s TEXT)");
  Execute(*conn_,
          "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
          "INSERT INTO t SELECT x, 'row ' || x FROM c",
          {{kRows}});
  QueryResult r = Query(*conn_, "SELECT x, s, x * 2 AS expr FROM t ORDER BY x");
  ASSERT_EQ(r.batches.size(), 3u);
  EXPECT_EQ(r.batches[0].num_rows(), kDefaultBatchRows);
  EXPECT_EQ(r.batches[1].num_rows(), kDefaultBatchRows);
  EXPECT_EQ(r.batches[2].num_rows(), 18928);
  EXPECT_EQ(r.num_rows(), kRows);
  // Values continue across batches.
  EXPECT_EQ(At<int64_t>(Column(r, 0, 1), 0), kDefaultBatchRows + 1);
  EXPECT_EQ(StringValue(Column(r, 1, 2), 18927), "row " + std::to_string(kRows));
  EXPECT_EQ(At<int64_t>(Column(r, 2, 2), 18927), 2 * kRows);

  // An expression column that is NULL for more than a batch keeps the batch open until its
  // type is known, so all batches share one schema.
  r = Query(*conn_, "SELECT CASE WHEN x > 70000 THEN x END AS late FROM t");
  EXPECT_EQ(Format(r, 0), "l");
  ASSERT_EQ(r.batches.size(), 3u);
  EXPECT_EQ(r.batches[0].num_rows(), 70001);
  EXPECT_EQ(r.batches[1].num_rows(), kDefaultBatchRows);
  EXPECT_EQ(Column(r, 0, 0).null_count, 70000);
  EXPECT_EQ(r.num_rows(), kRows);

  r = Query(*conn_, "SELECT x FROM t WHERE x < 0");
  EXPECT_EQ(r.num_rows(), 0);
  EXPECT_EQ(r.schema.size(), 1u);
  EXPECT_EQ(Format(r, 0), "l");
}

TEST_F(SqliteQueryTest, RepeatedStatementsUseTheCacheSafely) {
  Execute(*conn_, "CREATE TABLE t (x INTEGER, s TEXT)");
  for (int64_t i = 0; i < 100; ++i) {
    Execute(*conn_, "INSERT INTO t VALUES (?, ?)", {{i, std::string(i, 'x')}});
  }
  QueryResult r = Query(*conn_, "SELECT count(*), sum(length(s)) FROM t");
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), 100);
  EXPECT_EQ(At<int64_t>(Column(r, 1), 0), 4950);
  // A failed cached statement is reset and works again; schema changes re-prepare.
  Catch([&] { Query(*conn_, "SELECT x FROM t WHERE x = ?", {}); });
  Execute(*conn_, "ALTER TABLE t ADD COLUMN y INTEGER DEFAULT 5");
  r = Query(*conn_, "SELECT * FROM t WHERE x = ?", {{int64_t{3}}});
  ASSERT_EQ(r.schema.size(), 3u);
  EXPECT_EQ(At<int64_t>(Column(r, 2), 0), 5);
}

}  // namespace
}  // namespace dbpool::sqlite::testing
