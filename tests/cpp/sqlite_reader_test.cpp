// The SQLite reader gives the same batches, values and errors whether it reads rows on one
// thread or hands the stepping to a Stepper thread (from the first row, mid-result, never).
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "drivers/sqlite/sqlite_reader.hpp"
#include "sqlite_test_util.hpp"

namespace dbpool::sqlite::testing {
namespace {

constexpr int64_t kNever = -1;
constexpr int kRows = 5000;  // several Stepper chunks (1024 rows) and reader batches

// A readable form of one cell, for comparing whole results.
std::string CellText(const ArrowArray& array, const std::string& format, int64_t row) {
  if (format == "n" || IsNull(array, row)) return "NULL";
  char text[64];
  if (format == "g") {
    std::snprintf(text, sizeof text, "%.17g", At<double>(array, row));
    return text;
  }
  if (format == "tdD") return std::to_string(At<int32_t>(array, row));
  if (format == "b") return BoolValue(array, row) ? "true" : "false";
  if (format == "U" || format == "Z") return "'" + StringValue(array, row) + "'";
  if (format.rfind("d:", 0) == 0) {
    const auto v = At<__int128>(array, row);
    std::snprintf(text, sizeof text, "%" PRId64 ":%" PRIu64, static_cast<int64_t>(v >> 64),
                  static_cast<uint64_t>(v));
    return text;
  }
  return std::to_string(At<int64_t>(array, row));  // l, ts*, tt*
}

struct Snapshot {
  std::vector<std::string> formats;
  std::vector<int64_t> batch_rows;
  std::vector<std::vector<std::string>> columns;  // every row of every batch
};

Snapshot Snap(const QueryResult& result) {
  Snapshot snap;
  for (size_t c = 0; c < result.schema.size(); ++c) snap.formats.push_back(Format(result, c));
  snap.columns.resize(result.schema.size());
  for (size_t b = 0; b < result.batches.size(); ++b) {
    snap.batch_rows.push_back(result.batches[b].num_rows());
    for (size_t c = 0; c < snap.formats.size(); ++c) {
      const ArrowArray& array = Column(result, c, b);
      EXPECT_EQ(array.length, result.batches[b].num_rows());
      for (int64_t r = 0; r < array.length; ++r) {
        snap.columns[c].push_back(CellText(array, snap.formats[c], r));
      }
    }
  }
  return snap;
}

class SqliteReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sqlite3_open_v2(":memory:", &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                              nullptr),
              SQLITE_OK);
    Exec(R"(CREATE TABLE t (
        i INTEGER, r REAL, s TEXT, y BLOB, d DECIMAL(15,2), dt DATE, ts TIMESTAMP, b BOOLEAN,
        n NUMERIC, x))");
    // Every storage class each column can hold, including the converted ones: REALs not
    // exact at the decimal's scale, numbers in a column typed by its first value (x), dates
    // as numbers, long and empty text, NULLs.
    Exec(R"(WITH RECURSIVE k(v) AS (SELECT 0 UNION ALL SELECT v + 1 FROM k WHERE v < 4999)
        INSERT INTO t SELECT
          CASE WHEN v % 17 = 0 THEN NULL ELSE v * 7919 - 20000000 END,
          CASE WHEN v % 13 = 0 THEN NULL ELSE v / 7.0 END,
          CASE v % 5 WHEN 0 THEN '' WHEN 1 THEN 'h' || char(233) || 'llo ' || v
                     WHEN 2 THEN printf('%.*c', v % 3000, 'z') WHEN 3 THEN NULL ELSE 'plain' END,
          CASE v % 4 WHEN 0 THEN x'' WHEN 1 THEN NULL ELSE randomblob(v % 50) END,
          CASE v % 3 WHEN 0 THEN v / 3.0 WHEN 1 THEN v + 0.25 ELSE v END,
          CASE v % 3 WHEN 0 THEN date('2000-01-01', '+' || v || ' days')
                     WHEN 1 THEN unixepoch('1990-06-30', '+' || v || ' days') ELSE NULL END,
          CASE v % 2 WHEN 0 THEN datetime(1700000000 + v * 3607, 'unixepoch')
                     ELSE 1700000000 + v END,
          CASE v % 3 WHEN 0 THEN 0 WHEN 1 THEN 'true' ELSE NULL END,
          CASE WHEN v % 2 = 0 THEN v ELSE v + 0.5 END,
          CASE WHEN v < 2500 THEN NULL WHEN v % 3 = 1 THEN 'text ' || v
               WHEN v % 3 = 2 THEN v * 1e300 * (v % 7 - 3) ELSE v - 1e15 END
        FROM k)");
  }
  void TearDown() override { sqlite3_close_v2(db_); }

  void Exec(const std::string& sql) {
    char* error = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << error;
  }

  // Reads `sql` to the end; a statement's error or conversion error comes back as text.
  std::string ReadError(const std::string& sql, int64_t pipeline_after) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
    std::string message;
    try {
      ReadResult(db_, stmt, 700, pipeline_after);
    } catch (const DbError& error) {
      message = error.message();
    }
    sqlite3_finalize(stmt);
    return message;
  }

  Snapshot Read(const std::string& sql, int64_t pipeline_after, int64_t batch_rows = 700) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
    Snapshot snap = Snap(ReadResult(db_, stmt, batch_rows, pipeline_after));
    sqlite3_finalize(stmt);
    return snap;
  }

  sqlite3* db_ = nullptr;
};

TEST_F(SqliteReaderTest, PipelinedReadsMatchTheSingleThreadedRead) {
  const Snapshot live = Read("SELECT * FROM t ORDER BY rowid", kNever);
  ASSERT_EQ(live.columns.size(), 10u);
  ASSERT_EQ(live.columns[0].size(), static_cast<size_t>(kRows));
  // x has only NULLs for 2500 rows: the first batch waits for its type (String).
  EXPECT_EQ(live.formats[9], "U");
  EXPECT_EQ(live.batch_rows.front(), 2501);
  EXPECT_EQ(live.columns[9][2500], "'text 2500'");
  EXPECT_EQ(live.columns[9][2501], "'-2.501e+303'");  // SQLite's text of a REAL
  EXPECT_EQ(live.columns[4][1], "0:125");            // DECIMAL(15,2) 1.25
  EXPECT_EQ(live.columns[4][3], "0:100");            // 3 / 3.0 = 1.0
  for (int64_t after : {int64_t{0}, int64_t{1}, int64_t{1500}, int64_t{2600}, int64_t{4999}}) {
    const Snapshot staged = Read("SELECT * FROM t ORDER BY rowid", after);
    EXPECT_EQ(staged.formats, live.formats) << after;
    EXPECT_EQ(staged.batch_rows, live.batch_rows) << after;
    for (size_t c = 0; c < live.columns.size(); ++c) {
      EXPECT_EQ(staged.columns[c], live.columns[c]) << "column " << c << " after " << after;
    }
  }
  // Fewer rows than a chunk, and none at all.
  EXPECT_EQ(Read("SELECT i, s FROM t WHERE rowid <= 10", 0).columns[1],
            Read("SELECT i, s FROM t WHERE rowid <= 10", kNever).columns[1]);
  const Snapshot empty = Read("SELECT * FROM t WHERE 0", 0);
  EXPECT_TRUE(empty.batch_rows.empty());
  EXPECT_EQ(empty.formats, Read("SELECT * FROM t WHERE 0", kNever).formats);
}

TEST_F(SqliteReaderTest, ConversionErrorsNameTheSameRowInEveryMode) {
  Exec("UPDATE t SET i = 'abc' WHERE rowid = 3501");
  Exec("UPDATE t SET s = CAST(x'C328' AS TEXT) WHERE rowid = 4200");
  const std::string at_i = ReadError("SELECT i FROM t ORDER BY rowid", kNever);
  EXPECT_NE(at_i.find("column 'i' (INTEGER) row index 3500: cannot convert TEXT value 'abc'"),
            std::string::npos)
      << at_i;
  const std::string at_s = ReadError("SELECT s FROM t ORDER BY rowid", kNever);
  EXPECT_NE(at_s.find("column 's' (TEXT) row index 4199"), std::string::npos) << at_s;
  for (int64_t after : {int64_t{0}, int64_t{3000}}) {
    EXPECT_EQ(ReadError("SELECT i FROM t ORDER BY rowid", after), at_i);
    EXPECT_EQ(ReadError("SELECT s FROM t ORDER BY rowid", after), at_s);
  }
  // A REAL in an INTEGER column: the message shows the number as SQLite prints it.
  Exec("UPDATE t SET i = 2.5 WHERE rowid = 3501");
  EXPECT_NE(ReadError("SELECT i FROM t ORDER BY rowid", 0).find("REAL value 2.5 to Int64"),
            std::string::npos);
}

int StopAfter(void* calls) { return --*static_cast<int*>(calls) <= 0 ? 1 : 0; }

TEST_F(SqliteReaderTest, InterruptedStepperFailsTypedAndLeavesTheStatementReusable) {
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db_, "SELECT * FROM t ORDER BY rowid", -1, &stmt, nullptr),
            SQLITE_OK);
  int calls = 200;  // the progress handler runs on the stepping thread
  sqlite3_progress_handler(db_, 100, &StopAfter, &calls);
  try {
    ReadResult(db_, stmt, 700, 0);
    ADD_FAILURE() << "expected an interrupt";
  } catch (const DbError& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kCancelled) << error.what();
  }
  sqlite3_progress_handler(db_, 0, nullptr, nullptr);
  sqlite3_reset(stmt);
  EXPECT_EQ(ReadResult(db_, stmt, 700, 0).num_rows(), kRows);
  sqlite3_finalize(stmt);
}

TEST_F(SqliteReaderTest, StoppingAfterTheFirstBatchJoinsTheStepper) {
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db_, "SELECT * FROM t ORDER BY rowid", -1, &stmt, nullptr),
            SQLITE_OK);
  {
    BatchReader reader(db_, stmt, 100, 0);
    std::optional<RecordBatch> batch = reader.Next();
    ASSERT_TRUE(batch.has_value());
    // x is still all NULL: the batch only closes once its type is known.
    EXPECT_EQ(batch->num_rows(), 2501);
  }  // the Stepper is stopped mid-result and joined here
  sqlite3_reset(stmt);
  EXPECT_EQ(ReadResult(db_, stmt, 700, 0).num_rows(), kRows);
  sqlite3_finalize(stmt);
}

}  // namespace
}  // namespace dbpool::sqlite::testing
