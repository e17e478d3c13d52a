// PostgreSQL type OIDs -> Arrow fields: a static table for the built-in types and a
// per-connection cache of pg_type rows for the others (enums, domains, their arrays...).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "dbpool/arrow_types.hpp"

namespace dbpool::pg {

using Oid = ::Oid;

/// Field metadata key holding the PostgreSQL type name for mappings that lose it.
inline constexpr const char* kDbTypeKey = "dbpool.db_type";

/// How one binary-format wire value becomes an Arrow value.
enum class Decode : uint8_t {
  kBool,
  kInt16,
  kInt32,
  kInt64,
  kUInt32,          ///< oid, xid, cid, reg* types
  kUInt64,          ///< xid8
  kFloat32,
  kFloat64,
  kNumericDecimal,  ///< numeric(p <= 38, s) -> Decimal128
  kNumericText,     ///< numeric without typmod or p > 38 -> exact decimal text
  kMoney,           ///< int64 cents -> Decimal128(19, 4)
  kText,            ///< text-like: the bytes, checked to be UTF-8
  kBytes,           ///< bytea and unknown types: the bytes as they are
  kVersionedText,   ///< jsonb / jsonpath: a version byte (1), then the text
  kDate,
  kTime,
  kTimeTz,
  kTimestamp,       ///< timestamp and timestamptz (both are UTC microseconds on the wire)
  kInterval,        ///< -> Struct{months, days, microseconds}, maybe narrowed (pg_interval.hpp)
  kUuid,
  kInet,            ///< inet and cidr
  kMacaddr,
  kMacaddr8,
  kBits,            ///< bit / varbit -> '0101' text
  kPgLsn,           ///< pg_lsn -> 'XXXXXXXX/XXXXXXXX' text
  kVoid,            ///< void (SELECT pg_sleep(1)) -> Null
  kArray,           ///< one-dimensional arrays -> List<element>
};

/// The plan for one column or array element: the Arrow field and how to decode values.
struct ColumnPlan {
  arrow::Field field;
  Decode decode = Decode::kBytes;
  std::vector<ColumnPlan> element;  ///< kArray: exactly one, the element plan
};

/// One pg_type row, for types the static table does not know.
struct PgTypeInfo {
  Oid oid = 0;
  std::string name;
  char typtype = 'b';   ///< b base, c composite, d domain, e enum, p pseudo, r range, m multirange
  char category = 'U';  ///< typcategory; 'A' for arrays
  Oid base = 0;         ///< typbasetype (domains)
  Oid elem = 0;         ///< typelem (arrays)
  int32_t typmod = -1;  ///< typtypmod (domains: e.g. the numeric(10,2) of the base)
};

/// What a connection knows about types. Not thread-safe: owned by one connection.
class TypeRegistry {
 public:
  /// Appends to `missing` every OID reachable from `oid` (through domains and arrays) that
  /// needs a pg_type lookup before Plan() can map it.
  void CollectMissing(Oid oid, std::vector<Oid>* missing) const;
  /// Remembers a pg_type row (the cache lives as long as the connection).
  void Add(PgTypeInfo info);
  /// Remembers that `oid` has no pg_type row (a type dropped meanwhile), so that it is not
  /// looked up again; Plan() maps it to Binary.
  void AddUnknown(Oid oid);

  /// The plan for a column named `name` of type `oid` with modifier `typmod` (PQfmod).
  ColumnPlan Plan(std::string name, Oid oid, int32_t typmod) const;

  /// Adds the rows of CatalogQuery()'s result (binary format); OIDs of `asked` that have
  /// no row are remembered as unknown. Throws DbError(kInternal) for a malformed row.
  void AddCatalogRows(const PGresult* result, const std::vector<Oid>& asked);

  /// The catalog query for CollectMissing()'s OIDs, with one text parameter: the OIDs as
  /// an array literal "{1,2,3}". Columns: oid, typname, typtype, typcategory, typbasetype,
  /// typelem, typtypmod.
  static const char* CatalogQuery();

 private:
  ColumnPlan PlanType(std::string name, Oid oid, int32_t typmod, int depth) const;

  std::unordered_map<Oid, PgTypeInfo> catalog_;
};

/// Decimal128 precision and scale for a numeric typmod, or false when the column must be
/// text (no typmod, or more than 38 digits once the scale is folded in; see pg_types.cpp).
bool NumericDecimalType(int32_t typmod, int32_t* precision, int32_t* scale);

}  // namespace dbpool::pg
