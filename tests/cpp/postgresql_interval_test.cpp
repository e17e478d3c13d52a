// Interval columns on every read path against a real server: Duration(us) without months,
// the exact {months, days, microseconds} struct with them (whole results, interval[],
// batches, the statement cache off, PgBouncer), and the stream rule (the first batch fixes
// the type; a later month value is an error naming the column that leaves the connection
// clean), through COPY, single-row mode (parameters) and the regular path.
#include <array>
#include <cstdlib>
#include <vector>

#include "arrow/interval.hpp"
#include "postgresql_test_util.hpp"

namespace dbpool::pg::testing {
namespace {

using arrow::TimeUnit;
using Parts = std::array<int64_t, 3>;

Parts IntervalAt(const ArrowArray& parts, int64_t row) {
  return {At<int32_t>(*parts.children[0], row), At<int32_t>(*parts.children[1], row),
          At<int64_t>(*parts.children[2], row)};
}

// Row g has g days and g seconds, one row in 1000 is NULL, and row `month_row` (if any) is
// '1 year 2 months 3 days 04:05:06.789'.
std::string Rows(int rows, int month_row, const std::string& limit = "") {
  return "SELECT g::int4 AS g, CASE WHEN g = " + std::to_string(month_row) +
         " THEN interval '1 year 2 months 3 days 04:05:06.789' WHEN g % 1000 = 0 THEN NULL "
         "ELSE g * interval '1 day 00:00:01' END AS iv FROM generate_series(1, " +
         (limit.empty() ? std::to_string(rows) : limit) + ") g";
}

enum class Path { kCopy, kRows, kRegular };

class PgIntervalTest : public PgTest, public ::testing::WithParamInterface<Path> {
 protected:
  // Streams Rows(rows, month_row) in batches of 1000 rows through the path of the test.
  void Stream(Connection& conn, int rows, int month_row, CollectSink& sink) {
    sink.keep = true;
    Params params;
    std::string sql = Rows(rows, month_row);
    if (GetParam() == Path::kRows) {
      params.values.emplace_back(int64_t{rows});
      sql = Rows(rows, month_row, "$1::int");
    }
    AsPg(conn).SetCopyReads(GetParam() == Path::kRegular ? CopyReads::kNever
                                                         : CopyReads::kAlways);
    Run(conn.QueryStream(sql, std::move(params), nullptr, sink, 1000));
    AsPg(conn).SetCopyReads(CopyReads::kAuto);
  }
  void ExpectClean(Connection& conn) {
    EXPECT_FALSE(conn.IsBroken());
    EXPECT_FALSE(conn.InTransaction());
    QueryResult r = Query(conn, "SELECT interval '1 day' AS one");
    EXPECT_EQ(At<int64_t>(Column(r, 0), 0), arrow::kIntervalDayMicros);
  }
};

TEST_P(PgIntervalTest, StreamWithoutMonthsIsDurationInEveryBatch) {
  auto conn = Connect();
  CollectSink sink;
  Stream(*conn, 3500, 0, sink);
  EXPECT_EQ(sink.schemas, 1);
  EXPECT_EQ(sink.schema_batches, 0);
  ASSERT_EQ(sink.kept.size(), 4u);
  EXPECT_EQ(sink.schema[1].type, arrow::DataType::Duration(TimeUnit::kMicro));
  const ArrowArray& last = *sink.kept[3].array().children[1];
  EXPECT_EQ(last.n_children, 0);
  EXPECT_EQ(At<int64_t>(last, 0), 3001LL * (arrow::kIntervalDayMicros + 1000000));
  EXPECT_TRUE(IsNull(*sink.kept[0].array().children[1], 999));
  // No rows at all: the schema alone, Duration(us).
  CollectSink empty;
  Stream(*conn, 0, 0, empty);
  EXPECT_EQ(empty.schemas, 1);
  EXPECT_TRUE(empty.kept.empty());
  EXPECT_EQ(empty.schema[1].type, arrow::DataType::Duration(TimeUnit::kMicro));
}

TEST_P(PgIntervalTest, StreamWithAMonthInTheFirstBatchIsTheStructInEveryBatch) {
  auto conn = Connect();
  CollectSink sink;
  Stream(*conn, 2500, 1, sink);
  ASSERT_EQ(sink.kept.size(), 3u);
  EXPECT_EQ(sink.schema_batches, 0);
  ASSERT_EQ(sink.schema[1].type, arrow::IntervalStructType());
  EXPECT_EQ(Metadata(sink.schema[1], "dbpool.db_type"), "interval");
  EXPECT_EQ(IntervalAt(*sink.kept[0].array().children[1], 0), (Parts{14, 3, 14706789000}));
  EXPECT_EQ(IntervalAt(*sink.kept[0].array().children[1], 1), (Parts{0, 2, 2000000}));
  EXPECT_EQ(IntervalAt(*sink.kept[2].array().children[1], 499), (Parts{0, 2500, 2500000000}));
  EXPECT_TRUE(IsNull(*sink.kept[1].array().children[1], 999));
}

TEST_P(PgIntervalTest, StreamWithAMonthInALaterBatchFailsNamingTheColumnAndRow) {
  auto conn = Connect();
  CollectSink sink;
  DbError e = Catch([&] { Stream(*conn, 200000, 1500, sink); });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  EXPECT_NE(e.message().find("column 'iv' (row 1500): a value of 14 month(s), 3 day(s) and "
                             "14706789000 microsecond(s) does not fit Duration(us)"),
            std::string::npos)
      << e.message();
  EXPECT_NE(e.message().find("::text"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("query()"), std::string::npos) << e.message();
  EXPECT_EQ(sink.kept.size(), 1u);  // the first batch was handed over as Duration
  EXPECT_EQ(sink.schema[1].type, arrow::DataType::Duration(TimeUnit::kMicro));
  ExpectClean(*conn);
  // In the last batch too (raised after the statement ended).
  CollectSink tail;
  e = Catch([&] { Stream(*conn, 2500, 2500, tail); });
  EXPECT_NE(e.message().find("column 'iv' (row 2500)"), std::string::npos) << e.message();
  ExpectClean(*conn);
}

INSTANTIATE_TEST_SUITE_P(Paths, PgIntervalTest, ::testing::Values(Path::kCopy, Path::kRows),
                         [](const auto& info) {
                           return info.param == Path::kCopy ? std::string("Copy")
                                                            : std::string("Rows");
                         });

class PgIntervalWholeTest : public PgTest {};

TEST_F(PgIntervalWholeTest, RegularPathStreamIsDecidedByTheWholeResult) {
  auto conn = Connect();
  AsPg(*conn).SetCopyReads(CopyReads::kNever);
  CollectSink sink;
  sink.keep = true;
  Run(conn->QueryStream(Rows(2500, 1500), {}, nullptr, sink, 1000));
  ASSERT_EQ(sink.kept.size(), 3u);
  ASSERT_EQ(sink.schema[1].type, arrow::IntervalStructType());
  EXPECT_EQ(IntervalAt(*sink.kept[0].array().children[1], 0), (Parts{0, 1, 1000000}));
  EXPECT_EQ(IntervalAt(*sink.kept[1].array().children[1], 499), (Parts{14, 3, 14706789000}));
}

TEST_F(PgIntervalWholeTest, UnnamedStatementsGiveTheSameTypes) {
  ConnectionConfig config = config_;
  config.options["statement_cache_size"] = "0";
  auto conn = Connect(config);
  Params params;
  params.values.emplace_back(int64_t{2500});
  for (CopyReads mode : {CopyReads::kNever, CopyReads::kAlways}) {
    AsPg(*conn).SetCopyReads(mode);
    QueryResult r = Query(*conn, Rows(2500, 2400, "$1::int"), params);
    ASSERT_EQ(r.schema[1].type, arrow::IntervalStructType());
    EXPECT_EQ(IntervalAt(Column(r, 1), 2399), (Parts{14, 3, 14706789000}));
    EXPECT_EQ(IntervalAt(Column(r, 1), 2398), (Parts{0, 2399, 2399000000}));
    r = Query(*conn, Rows(2500, 0, "$1::int"), params);
    EXPECT_EQ(r.schema[1].type, arrow::DataType::Duration(TimeUnit::kMicro));
  }
}

TEST_F(PgIntervalWholeTest, PipelinedBatchesDecideEachResultAlone) {
  ConnectionConfig config = config_;
  config.options["statement_cache_size"] = "0";
  auto conn = Connect(config);
  std::vector<Statement> batch(2);
  batch[0].sql = "SELECT interval '-1 mon' AS a";
  batch[1].sql = "SELECT interval '-1 day' AS a";
  auto results = Run(conn->QueryBatch(std::move(batch), nullptr));
  ASSERT_EQ(results.size(), 2u);
  ASSERT_EQ(results[0].schema[0].type, arrow::IntervalStructType());
  EXPECT_EQ(IntervalAt(Column(results[0], 0), 0), (Parts{-1, 0, 0}));
  EXPECT_EQ(results[1].schema[0].type, arrow::DataType::Duration(TimeUnit::kMicro));
  EXPECT_EQ(At<int64_t>(Column(results[1], 0), 0), -arrow::kIntervalDayMicros);
}

TEST_F(PgIntervalWholeTest, ThroughPgBouncerInTransactionMode) {
  const char* url = std::getenv("DB_POOL_TEST_PGBOUNCER_URL");
  if (url == nullptr || *url == '\0') GTEST_SKIP() << "DB_POOL_TEST_PGBOUNCER_URL is not set";
  auto conn = Connect(PoolConfig::FromUrl(url).connection);
  Params params;
  params.values.emplace_back(int64_t{3});
  for (int i = 0; i < 3; ++i) {  // named, then (once the pooler is seen) unnamed statements
    QueryResult r = Query(*conn, Rows(3, 3, "$1::int"), params);
    ASSERT_EQ(r.schema[1].type, arrow::IntervalStructType());
    EXPECT_EQ(IntervalAt(Column(r, 1), 2), (Parts{14, 3, 14706789000}));
    EXPECT_EQ(IntervalAt(Column(r, 1), 0), (Parts{0, 1, 1000000}));
  }
  QueryResult r = Query(*conn, Rows(3, 0));
  EXPECT_EQ(r.schema[1].type, arrow::DataType::Duration(TimeUnit::kMicro));
}

}  // namespace
}  // namespace dbpool::pg::testing
