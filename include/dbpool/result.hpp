// A query result: Arrow record batches owned by C++, exported through the Arrow C Stream
// interface so that Polars (or pyarrow, duckdb...) takes them without copying.
#pragma once

#include <cstdint>
#include <vector>

#include "dbpool/arrow_c.hpp"
#include "dbpool/arrow_types.hpp"

namespace dbpool {

/// One record batch: an owning Arrow C Data struct array whose children are the columns.
class RecordBatch {
 public:
  RecordBatch() = default;
  /// Takes ownership of `array` (a struct array with one child per schema field).
  explicit RecordBatch(ArrowArray array) : array_(array) {}
  RecordBatch(RecordBatch&& other) noexcept;
  RecordBatch& operator=(RecordBatch&& other) noexcept;
  RecordBatch(const RecordBatch&) = delete;
  RecordBatch& operator=(const RecordBatch&) = delete;
  ~RecordBatch();

  int64_t num_rows() const { return array_.release ? array_.length : 0; }
  const ArrowArray& array() const { return array_; }
  /// Moves the array out (the caller now owns it and must release it).
  ArrowArray Release();

 private:
  ArrowArray array_{};
};

/// What a statement produced: a schema and zero or more batches, or a row count.
struct QueryResult {
  arrow::Schema schema;
  std::vector<RecordBatch> batches;
  /// Rows affected for statements without a result set (INSERT/UPDATE/DDL); -1 when the
  /// statement returned rows.
  int64_t rows_affected = -1;

  bool has_rows() const { return rows_affected < 0; }
  int64_t num_rows() const;
};

/// Fills `out` with a copy of the schema as a C Data struct schema (caller releases it).
void ExportSchema(const arrow::Schema& schema, ArrowSchema* out);

/// How ExportStream gives String/Binary columns: kOffsets as in the schema (large_utf8 /
/// large_binary); kView as Utf8View / BinaryView ("vu"/"vz"), converted batch by batch
/// as the consumer takes them, without copying the bytes (Polars keeps strings as views,
/// so it then imports them as they are instead of building a second copy).
enum class StringLayout { kOffsets, kView };

/// Moves `result` into a C stream that yields its batches in order (caller releases it).
void ExportStream(QueryResult&& result, ArrowArrayStream* out,
                  StringLayout strings = StringLayout::kOffsets);

}  // namespace dbpool
