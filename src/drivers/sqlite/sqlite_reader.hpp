// Reads a SQLite statement's rows straight into Arrow column builders, in record batches.
#pragma once

#include <sqlite3.h>

#include <cstdint>

#include "dbpool/result.hpp"

namespace dbpool::sqlite {

/// Rows per record batch: large enough to amortise per-batch costs, small enough that a
/// consumer can start on the first batch while memory stays bounded.
inline constexpr int64_t kDefaultBatchRows = 64 * 1024;

/// Steps `stmt` (prepared, bound, not yet stepped) to the end and returns its rows.
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
QueryResult ReadResult(sqlite3* db, sqlite3_stmt* stmt, int64_t batch_rows = kDefaultBatchRows);

}  // namespace dbpool::sqlite
