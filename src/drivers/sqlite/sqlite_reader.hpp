// Reads a SQLite statement's rows straight into Arrow column builders, in record batches.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "dbpool/result.hpp"

namespace dbpool::sqlite {

/// Rows per record batch: large enough to amortise per-batch costs, small enough that a
/// consumer can start on the first batch while memory stays bounded.
inline constexpr int64_t kDefaultBatchRows = 64 * 1024;

/// Rows read on the calling thread before the rest of a result is read by two threads
/// (a Stepper steps and stages rows while this thread converts them). Small results never
/// pay for the thread; on a single-core machine it is never started.
inline constexpr int64_t kPipelineAfterRows = 4096;

class ReaderState;

/// Reads a statement's rows (prepared, bound, not yet stepped) batch by batch.
///
/// Column types come from the declared types (see sqlite_types.hpp). The one exception is a
/// column without a declared type (an expression such as COUNT(*) or 1+1): SQLite is
/// dynamically typed, so its type is the storage class of its first non-NULL value, and
/// Null when every value is NULL. Because every batch must share one schema, a batch is not
/// closed while such a column has seen only NULLs (that batch can exceed `batch_rows`).
///
/// A value whose storage class differs from the column type is converted when that is
/// exact (integer -> Float64, number -> its text in a String column, numeric text ->
/// Int64/Float64/Decimal, REAL 2.0 -> Int64 2); anything else, and invalid UTF-8 in text,
/// throws DbError(kDataConversion) naming the column and the row index (0-based).
/// Statement failures throw the DbError of sqlite_error.hpp.
///
/// The statement belongs to the reader until it is destroyed (a running Stepper is stopped
/// and joined then); reset or finalize it only after that.
class BatchReader {
 public:
  BatchReader(sqlite3* db, sqlite3_stmt* stmt, int64_t batch_rows = kDefaultBatchRows,
              int64_t pipeline_after_rows = kPipelineAfterRows);
  ~BatchReader();
  BatchReader(const BatchReader&) = delete;
  BatchReader& operator=(const BatchReader&) = delete;

  /// The next batch (steps as far as needed), or nullopt after the last. Blocking.
  std::optional<RecordBatch> Next();
  /// The result's schema: final once Next has returned a batch or nullopt.
  arrow::Schema schema() const;

 private:
  std::unique_ptr<ReaderState> state_;
};

/// Steps `stmt` to the end and returns all its rows (BatchReader's rules).
QueryResult ReadResult(sqlite3* db, sqlite3_stmt* stmt, int64_t batch_rows = kDefaultBatchRows,
                       int64_t pipeline_after_rows = kPipelineAfterRows);

}  // namespace dbpool::sqlite
