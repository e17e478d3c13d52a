// Binary wire values -> Arrow builders: one decoder per type, shared by every result path
// (whole PGresults column by column, COPY binary streams row by row; see pg_copy.hpp).
#pragma once

#include <libpq-fe.h>

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

/// DecoderFor(plan)(plan, data, size, builder); exposed for tests on captured bytes.
void AppendValue(const ColumnPlan& plan, const char* data, int32_t size,
                 arrow::ArrayBuilder& builder);

/// The DbError(kDataConversion) for a value that failed to decode: names the column and the
/// 1-based row of the whole result, the same text for every result path.
DbError ConversionError(const ColumnPlan& plan, int64_t row, const DecodeError& error);

}  // namespace dbpool::pg
