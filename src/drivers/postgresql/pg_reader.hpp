// Binary wire values -> Arrow builders: one decoder per type, shared by every result path
// (whole PGresults column by column, COPY binary streams row by row; see pg_copy.hpp).
#pragma once

#include <libpq-fe.h>

#include <optional>
#include <vector>

#include "arrow/builder.hpp"
#include "dbpool/error.hpp"
#include "dbpool/result.hpp"
#include "drivers/postgresql/pg_decode.hpp"
#include "drivers/postgresql/pg_types.hpp"

namespace dbpool::pg {

/// Rows per record batch: large enough to amortise per-batch costs, small enough that a
/// consumer of a big result gets its first batch early.
inline constexpr int kBatchRows = 65536;

/// A batch read value by value also ends once about this many bytes of values went into it,
/// so that rows of big values (documents, blobs) do not make 65536-row batches of gigabytes.
inline constexpr int64_t kBatchBytes = int64_t{64} << 20;

/// The schema that `plans` describe (one field per column).
arrow::Schema SchemaOf(const std::vector<ColumnPlan>& plans);

/// Converts every row of `result` (PGRES_TUPLES_OK, all columns in binary format) into
/// batches of at most `batch_rows` rows following `plans` (one per column). Throws
/// DbError(kDataConversion) naming the column and row of a value that cannot be converted
/// (invalid UTF-8, infinite date, truncated wire value...). Interval columns come out as
/// the exact struct: ResultSchema() (pg_interval.hpp) decides their final type.
std::vector<RecordBatch> ReadBatches(const PGresult* result, const std::vector<ColumnPlan>& plans,
                                     int batch_rows = kBatchRows);

/// Appends one non-null binary wire value of `size` bytes to `builder` (whose type is
/// plan.field.type). Throws DecodeError.
using ValueDecoder = void (*)(const ColumnPlan& plan, const char* data, int32_t size,
                              arrow::ArrayBuilder& builder);

/// The decoder for plan.decode: looked up once per column, then called for every value.
ValueDecoder DecoderFor(const ColumnPlan& plan);

/// The column builders of a result read value by value (COPY messages, single-row
/// PGresults), in batches of at most `batch_rows` rows or about `batch_bytes` bytes of
/// values. Text is checked as UTF-8 once per
/// batch (one ASCII pass over each column's data, value by value only past that) rather than
/// value by value, with the same error, naming the same column and row.
class ValueBatches {
 public:
  ValueBatches(std::vector<ColumnPlan> plans, int64_t batch_rows,
               int64_t batch_bytes = kBatchBytes);

  const std::vector<ColumnPlan>& plans() const { return plans_; }
  size_t num_columns() const { return plans_.size(); }

  /// Column `c` of the current row. Append throws DecodeError: pass it to Failure().
  void AppendNull(size_t c) { columns_[c]->AppendNull(); }
  void Append(size_t c, const char* data, int32_t size) {
    decoders_[c](plans_[c], data, size, *columns_[c]);
    pending_bytes_ += size;
  }
  void EndRow() {
    builder_.EndRow();
    ++total_rows_;
  }

  /// Rows since the last TakeBatch(), and in the whole result.
  int64_t pending_rows() const { return builder_.num_rows(); }
  int64_t total_rows() const { return total_rows_; }
  /// True when the current batch is full (rows or bytes): call TakeBatch().
  bool batch_full() const { return pending_rows() >= batch_rows_ || pending_bytes_ >= batch_bytes_; }

  /// The error for column `column` of the current row, whose value threw `error`: a text
  /// value before it (earlier in the batch, or left of it in its row) that is not valid
  /// UTF-8 is reported instead, as a check per value would have stopped there first.
  DbError Failure(size_t column, const DecodeError& error) const;

  /// The rows since the last call, as a batch. Throws DbError(kDataConversion) for text that
  /// is not valid UTF-8. After a full batch the next one's buffers are sized from it.
  RecordBatch TakeBatch();

 private:
  int64_t batch_start() const { return total_rows_ - builder_.num_rows(); }
  std::optional<DbError> FirstInvalidText() const;

  std::vector<ColumnPlan> plans_;
  std::vector<ValueDecoder> decoders_;
  arrow::RecordBatchBuilder builder_;
  std::vector<arrow::ArrayBuilder*> columns_;
  std::vector<size_t> text_columns_;  // checked per batch
  int64_t batch_rows_;
  int64_t batch_bytes_;
  int64_t pending_bytes_ = 0;
  int64_t total_rows_ = 0;
};

/// DecoderFor(plan)(plan, data, size, builder); exposed for tests on captured bytes.
void AppendValue(const ColumnPlan& plan, const char* data, int32_t size,
                 arrow::ArrayBuilder& builder);

/// The DbError(kDataConversion) for a value that failed to decode: names the column and the
/// 1-based row of the whole result, the same text for every result path.
DbError ConversionError(const ColumnPlan& plan, int64_t row, const DecodeError& error);

}  // namespace dbpool::pg
