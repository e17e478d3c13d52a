// PGresult (binary format) -> Arrow record batches, column by column, following ColumnPlans.
#pragma once

#include <libpq-fe.h>

#include <vector>

#include "arrow/builder.hpp"
#include "dbpool/result.hpp"
#include "drivers/postgresql/pg_types.hpp"

namespace dbpool::pg {

/// Rows per record batch: large enough to amortise per-batch costs, small enough that a
/// consumer of a big result gets its first batch early.
inline constexpr int kBatchRows = 65536;

/// The schema that `plans` describe (one field per column).
arrow::Schema SchemaOf(const std::vector<ColumnPlan>& plans);

/// Converts every row of `result` (PGRES_TUPLES_OK, all columns in binary format) into
/// batches of at most `batch_rows` rows following `plans` (one per column). Throws
/// DbError(kDataConversion) naming the column and row of a value that cannot be converted
/// (invalid UTF-8, infinite date, interval with months, truncated wire value...).
std::vector<RecordBatch> ReadBatches(const PGresult* result, const std::vector<ColumnPlan>& plans,
                                     int batch_rows = kBatchRows);

/// Appends one non-null binary wire value of `size` bytes to `builder` (whose type is
/// plan.field.type). Throws DecodeError; exposed for tests on captured bytes.
void AppendValue(const ColumnPlan& plan, const char* data, int32_t size,
                 arrow::ArrayBuilder& builder);

}  // namespace dbpool::pg
