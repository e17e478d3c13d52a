// SQL Server column types as db-lib reports them (dbcoltype + dbcoltypeinfo) -> Arrow.
#pragma once

#include <string>

#include "dbpool/arrow_types.hpp"

namespace dbpool::mssql {

/// db-lib's type code for uniqueidentifier (not in the public sybdb.h).
inline constexpr int kSybUnique = 36;

/// How the reader converts a column's values (db-lib's in-memory forms).
enum class ColumnKind {
  kUInt8,           ///< tinyint
  kInt16,           ///< smallint
  kInt32,           ///< int
  kInt64,           ///< bigint
  kBoolean,         ///< bit
  kFloat32,         ///< real
  kFloat64,         ///< float
  kDecimal,         ///< decimal / numeric: DBNUMERIC
  kMoney,           ///< money: DBMONEY (high, low) in 1/10000
  kSmallMoney,      ///< smallmoney: DBMONEY4
  kString,          ///< char, varchar, nchar, nvarchar, text, ntext, xml: UTF-8 from db-lib
  kBinary,          ///< binary, varbinary, image
  kDate,            ///< date: DBDATETIMEALL
  kTime,            ///< time(n): DBDATETIMEALL, 100 ns units
  kDateTime2,       ///< datetime2(n): DBDATETIMEALL
  kDateTimeOffset,  ///< datetimeoffset(n): DBDATETIMEALL in UTC plus the offset
  kDateTime,        ///< datetime: DBDATETIME, 1/300 s
  kSmallDateTime,   ///< smalldatetime: DBDATETIME4, minutes
  kGuid,            ///< uniqueidentifier: 16 bytes, first three groups host-endian
  kOther,           ///< anything else: its text form from dbconvert
};

struct ColumnSpec {
  ColumnKind kind = ColumnKind::kOther;
  arrow::DataType type;
  int db_type = 0;  ///< the dbcoltype code
};

/// The spec for db-lib type `db_type` with the column's precision and scale
/// (dbcoltypeinfo; only decimals and the time types use them).
///
/// | SQL Server                          | Arrow                         |
/// |-------------------------------------|-------------------------------|
/// | tinyint / smallint / int / bigint   | UInt8 / Int16 / Int32 / Int64 |
/// | bit                                 | Boolean                       |
/// | real / float                        | Float32 / Float64             |
/// | decimal(p,s), numeric(p,s)          | Decimal128(p, s)              |
/// | money / smallmoney                  | Decimal128(19, 4) / (10, 4)   |
/// | char, varchar, nchar, nvarchar, (max), text, ntext | String         |
/// | binary, varbinary, (max), image     | Binary                        |
/// | date                                | Date32                        |
/// | time(7) / time(0..6)                | Time64(ns) / Time64(us)       |
/// | datetime, smalldatetime, datetime2  | Timestamp(us)                 |
/// | datetimeoffset                      | Timestamp(us, "UTC")          |
/// | uniqueidentifier                    | String (canonical, lower case)|
/// | anything else (sql_variant, ...)    | String, dbpool.db_type set    |
ColumnSpec SpecFor(int db_type, int precision, int scale);

/// db-lib's name for a type code ("INT", "DATETIME2"...), for messages and metadata.
std::string TypeName(int db_type);

/// Magnitude bytes of a DBNUMERIC of `precision` digits (db-lib keeps the sign apart).
int NumericBytes(int precision);

}  // namespace dbpool::mssql
