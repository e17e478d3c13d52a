// db-lib type codes -> column specs.
#include "drivers/mssql/mssql_types.hpp"

#include <sybfront.h>
#include <sybdb.h>

#include <algorithm>

namespace dbpool::mssql {
namespace {

using arrow::DataType;
using arrow::TimeUnit;
using arrow::TypeId;

ColumnSpec Make(ColumnKind kind, DataType type, int db_type) {
  return ColumnSpec{kind, std::move(type), db_type};
}

}  // namespace

int NumericBytes(int precision) {
  // The smallest n with 256^n >= 10^precision: what FreeTDS's tds_numeric_bytes_per_prec
  // holds (minus the sign byte).
  unsigned __int128 limit = 1;
  for (int i = 0; i < precision; ++i) limit *= 10;
  int n = 1;
  unsigned __int128 span = 256;
  while (span < limit && n < 16) {
    span <<= 8;
    ++n;
  }
  return n;
}

ColumnSpec SpecFor(int db_type, int precision, int scale) {
  switch (db_type) {
    case SYBINT1:
      return Make(ColumnKind::kUInt8, DataType::Of(TypeId::kUInt8), db_type);
    case SYBINT2:
      return Make(ColumnKind::kInt16, DataType::Of(TypeId::kInt16), db_type);
    case SYBINT4:
      return Make(ColumnKind::kInt32, DataType::Of(TypeId::kInt32), db_type);
    case SYBINT8:
      return Make(ColumnKind::kInt64, DataType::Of(TypeId::kInt64), db_type);
    case SYBBIT:
    case SYBBITN:
      return Make(ColumnKind::kBoolean, DataType::Of(TypeId::kBoolean), db_type);
    case SYBREAL:
      return Make(ColumnKind::kFloat32, DataType::Of(TypeId::kFloat32), db_type);
    case SYBFLT8:
      return Make(ColumnKind::kFloat64, DataType::Of(TypeId::kFloat64), db_type);
    case SYBDECIMAL:
    case SYBNUMERIC: {
      int p = std::clamp(precision, 1, 38);
      return Make(ColumnKind::kDecimal, DataType::Decimal(p, std::clamp(scale, 0, p)), db_type);
    }
    case SYBMONEY:
      return Make(ColumnKind::kMoney, DataType::Decimal(19, 4), db_type);
    case SYBMONEY4:
      return Make(ColumnKind::kSmallMoney, DataType::Decimal(10, 4), db_type);
    case SYBCHAR:
    case SYBVARCHAR:
    case SYBTEXT:
    case SYBNTEXT:
    case SYBNVARCHAR:
      return Make(ColumnKind::kString, DataType::Of(TypeId::kString), db_type);
    case SYBBINARY:
    case SYBVARBINARY:
    case SYBIMAGE:
      return Make(ColumnKind::kBinary, DataType::Of(TypeId::kBinary), db_type);
    case SYBMSDATE:
      return Make(ColumnKind::kDate, DataType::Of(TypeId::kDate32), db_type);
    case SYBMSTIME:
      // time(7) counts 100 ns: only nanoseconds hold it exactly.
      return Make(ColumnKind::kTime,
                  DataType::Time(std::max(precision, scale) >= 7 ? TimeUnit::kNano
                                                                 : TimeUnit::kMicro),
                  db_type);
    case SYBMSDATETIME2:
      return Make(ColumnKind::kDateTime2, DataType::Timestamp(TimeUnit::kMicro, ""), db_type);
    case SYBMSDATETIMEOFFSET:
      return Make(ColumnKind::kDateTimeOffset, DataType::Timestamp(TimeUnit::kMicro, "UTC"),
                  db_type);
    case SYBDATETIME:
    case SYBDATETIMN:
      return Make(ColumnKind::kDateTime, DataType::Timestamp(TimeUnit::kMicro, ""), db_type);
    case SYBDATETIME4:
      return Make(ColumnKind::kSmallDateTime, DataType::Timestamp(TimeUnit::kMicro, ""),
                  db_type);
    case kSybUnique:
      return Make(ColumnKind::kGuid, DataType::Of(TypeId::kString), db_type);
    default:
      return Make(ColumnKind::kOther, DataType::Of(TypeId::kString), db_type);
  }
}

std::string TypeName(int db_type) {
  if (db_type == kSybUnique) return "UNIQUEIDENTIFIER";
  const char* name = dbprtype(db_type);
  return name != nullptr && *name != '\0' ? name : "type " + std::to_string(db_type);
}

}  // namespace dbpool::mssql
