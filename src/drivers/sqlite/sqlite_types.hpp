// Declared SQLite column types (sqlite3_column_decltype) -> Arrow types.
#pragma once

#include <string>
#include <string_view>

#include "dbpool/arrow_types.hpp"

namespace dbpool::sqlite {

/// How the reader converts a column's values; one per Arrow type it can produce, plus
/// kNumeric (Float64 that refuses integers a double cannot hold exactly).
enum class ColumnKind {
  kPending,  ///< no declared type and no non-NULL value seen yet
  kNull,
  kBoolean,
  kInt64,
  kFloat64,
  kNumeric,
  kDecimal,
  kString,
  kBinary,
  kDate,
  kTimestamp,
  kTime,
};

/// What a column becomes: the converter and the Arrow type it builds.
struct ColumnSpec {
  ColumnKind kind = ColumnKind::kPending;
  arrow::DataType type;
};

/// The spec for a declared type (case-insensitive; may carry "(p,s)" and modifiers such as
/// UNSIGNED). Exact names first, then SQLite's affinity rules
/// (https://www.sqlite.org/datatype3.html#determination_of_column_affinity):
///
/// | declared type                                     | Arrow                   |
/// |---------------------------------------------------|-------------------------|
/// | BOOLEAN, BOOL                                     | Boolean                 |
/// | DATE                                              | Date32                  |
/// | DATETIME, TIMESTAMP                               | Timestamp(us)           |
/// | TIMESTAMPTZ, TIMESTAMP WITH TIME ZONE             | Timestamp(us, "UTC")    |
/// | TIME                                              | Time64(us)              |
/// | DECIMAL(p[,s]), NUMERIC(p[,s]), p <= 38           | Decimal128(p, s)        |
/// | DECIMAL(p,s), NUMERIC(p,s), p > 38                | Decimal128(38, min(s,38)) |
/// | DECIMAL, NUMERIC (no precision)                   | Float64, exact only (1) |
/// | anything containing INT (INTEGER, BIGINT, ...)    | Int64 (2)               |
/// | containing CHAR, CLOB or TEXT (VARCHAR(n), ...)   | String                  |
/// | containing BLOB; BINARY, VARBINARY, BYTEA         | Binary                  |
/// | containing REAL, FLOA or DOUB                     | Float64                 |
/// | anything else (JSON, UUID, ENUM...)               | String (3)              |
///
/// (1) SQLite's NUMERIC affinity already stores such values as INTEGER or as REAL rounded
///     to 15 digits, so a double holds what the database holds; an INTEGER beyond 2^53
///     that a double cannot represent is a DataConversionError, never a silent rounding.
/// (2) SQLite stores every integer as 64-bit, so the declared width (TINYINT...) promises
///     nothing; Int64 never truncates.
/// (3) Values keep their text form; the declared name is in the field metadata.
ColumnSpec SpecFromDeclType(std::string_view decltype_text);

/// The spec for a column without a declared type (an expression), from the storage class
/// (SQLITE_INTEGER...) of its first non-NULL value.
ColumnSpec SpecFromStorageClass(int storage_class);

/// The Null spec for an expression column that held only NULLs.
ColumnSpec NullSpec();

}  // namespace dbpool::sqlite
