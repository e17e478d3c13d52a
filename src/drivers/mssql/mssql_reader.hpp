// The rows of db-lib's current result set -> Arrow record batches.
#pragma once

#include <sybfront.h>
#include <sybdb.h>

#include <atomic>
#include <cstdint>

#include "dbpool/result.hpp"

namespace dbpool::mssql {

inline constexpr int64_t kBatchRows = 64 * 1024;

/// Reads every row of the current result set (after dbresults returned SUCCEED with
/// columns) into batches of about `batch_rows` rows, types from the column metadata.
/// Returns false when `cancelled` became true (checked every few hundred rows); the rows
/// read so far are then discarded and the caller cancels the statement. Throws
/// DbError(kDataConversion) naming the column (invalid UTF-8), rows then left unread.
bool ReadResultSet(DBPROCESS* dbproc, const std::atomic<bool>& cancelled, QueryResult* out,
                   int64_t batch_rows = kBatchRows);

/// The canonical lower-case 36-character text of a uniqueidentifier as db-lib holds it.
std::string GuidText(const unsigned char* data);

/// Microseconds since 1970-01-01 of SQL Server `datetime` (days since 1900, 1/300 s ticks),
/// rounded to the millisecond as SQL Server shows it (.000, .003, .007).
int64_t DateTimeMicros(int32_t days_1900, int32_t ticks_300);

/// The unscaled value of a db-lib DBNUMERIC (sign byte, then big-endian magnitude).
__int128 NumericValue(const DBNUMERIC& number);

}  // namespace dbpool::mssql
