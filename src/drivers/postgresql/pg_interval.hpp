// Interval columns of a result: decoded as PostgreSQL's exact (months, days, microseconds)
// struct, then given as Duration(us) when no value has months; the rule for whole results
// and the first-batch rule for streams (docs/types.md, "interval").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dbpool/arrow_types.hpp"
#include "dbpool/result.hpp"
#include "drivers/postgresql/pg_types.hpp"

namespace dbpool::pg {

/// Decides the Arrow type of the interval and interval[] columns of one result. Their
/// plans build the struct (arrow::IntervalStructType()); a column whose values all fit
/// Duration(us) (no months, within int64 microseconds) is narrowed to Duration(us) in
/// place. Other columns are never touched.
class IntervalColumns {
 public:
  explicit IntervalColumns(const std::vector<ColumnPlan>& plans);

  /// False when the result has no interval column (then every other call is a no-op that
  /// returns the plans' schema).
  bool any() const { return !columns_.empty(); }

  /// Whole results: each interval column is Duration(us) in every batch when all its
  /// values fit, else the struct in every batch. Returns the result's schema.
  arrow::Schema FinishWhole(std::vector<RecordBatch>& batches) const;

  /// Streams: call with each batch before handing it over (`first_row`: its first row in
  /// the result, 0-based), and with nullptr once the result ended. The first call fixes
  /// each interval column's type from that batch (nullptr: no rows, so Duration(us)),
  /// narrows it and returns the schema to announce before it; later calls narrow the
  /// columns made Duration(us) and return nothing, or throw DbError(kDataConversion) naming
  /// the column and row of a value that does not fit. Nothing, ever, when !any().
  std::optional<arrow::Schema> ForStream(RecordBatch* batch, int64_t first_row);

 private:
  struct Column {
    size_t index = 0;       ///< in the schema
    bool list = false;      ///< interval[]: the struct is the list's child
    bool duration = true;   ///< streams: the type FixFromFirst chose
  };
  // The row (of the batch, 0-based) of the first value of column `column` that does not
  // fit Duration(us), -1 when there is none.
  arrow::Schema FixFromFirst(RecordBatch* first);
  void Narrow(RecordBatch& batch, int64_t first_row) const;
  void NarrowDurations(RecordBatch& batch) const;  // the columns with duration == true
  static int64_t FirstMisfitRow(const ArrowArray& batch, const Column& column);
  static void NarrowColumn(ArrowArray& batch, const Column& column);
  arrow::Field DurationField(const Column& column) const;
  arrow::Field StructField(const Column& column) const;

  arrow::Schema schema_;  ///< the plans' schema (interval columns as the struct)
  std::vector<Column> columns_;
  bool fixed_ = false;  ///< streams: FixFromFirst ran
};

/// The schema of a whole result read with `plans` into `batches`, after IntervalColumns
/// decided its interval columns (SchemaOf(plans) when it has none).
arrow::Schema ResultSchema(const std::vector<ColumnPlan>& plans, std::vector<RecordBatch>& batches);

}  // namespace dbpool::pg
