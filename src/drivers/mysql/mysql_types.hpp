// MySQL column metadata (MYSQL_FIELD) -> Arrow field and the way its values are fetched and
// decoded: the type mapping of docs/types.md, decided from the metadata alone.
#pragma once

#include <mysql.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dbpool/arrow_types.hpp"

namespace dbpool::mysql {

/// Field metadata key holding the MySQL type name for mappings that lose it.
inline constexpr const char* kDbTypeKey = "dbpool.db_type";

/// MySQL's pseudo character set number of binary strings (BINARY, VARBINARY, BLOB).
inline constexpr unsigned int kBinaryCharset = 63;

/// How one value becomes an Arrow value.
enum class Decode : uint8_t {
  kNull,         ///< the NULL type (SELECT NULL)
  kInt8,
  kUInt8,
  kInt16,        ///< SMALLINT and YEAR
  kUInt16,
  kInt32,        ///< INT and MEDIUMINT
  kUInt32,
  kInt64,
  kUInt64,
  kFloat32,
  kFloat64,
  kDecimal,      ///< DECIMAL(p <= 38, s) -> Decimal128
  kDecimalText,  ///< DECIMAL(p > 38, s) -> its exact text
  kBool,         ///< BIT(1)
  kBits,         ///< BIT(n > 1) -> UInt64
  kDate,         ///< DATE -> Date32
  kDateTime,     ///< DATETIME and TIMESTAMP -> Timestamp(us) (TIMESTAMP tagged "UTC")
  kTime,         ///< TIME -> Duration(us)
  kText,         ///< character strings, JSON, ENUM, SET: UTF-8 checked
  kBytes,        ///< binary strings, GEOMETRY, unknown types
};

/// What a result column says about itself (copied out of MYSQL_FIELD, so that the mapping
/// can be tested without a server).
struct FieldInfo {
  std::string name;
  enum_field_types type = MYSQL_TYPE_NULL;
  unsigned int flags = 0;
  unsigned int charsetnr = 0;
  unsigned long length = 0;  ///< display width (numbers), bytes (strings), bits (BIT)
  unsigned int decimals = 0;
  /// MariaDB extended metadata (10.5+): the data type name of plugin types ("inet6",
  /// "uuid", "point"...) and the format name ("json"); empty when the server does not say.
  std::string data_type_name;
  std::string format_name;
};

/// Reads a result column's metadata.
FieldInfo ReadField(const MYSQL_FIELD& field);

/// The plan for one column: its Arrow field, the decoder, and how the client library is
/// asked to deliver the value in the binary protocol.
struct ColumnPlan {
  arrow::Field field;
  Decode decode = Decode::kBytes;
  enum_field_types bind_type = MYSQL_TYPE_STRING;  ///< MYSQL_BIND.buffer_type
  unsigned long buffer_size = 0;  ///< initial bound buffer for variable-length values
};

/// The plan for a column (see docs/types.md, section MySQL / MariaDB).
ColumnPlan PlanColumn(const FieldInfo& field);

/// DECIMAL precision from the column metadata: `length` counts the digits plus one for the
/// sign (signed columns) and one for the decimal point (scale > 0).
int32_t DecimalPrecision(const FieldInfo& field);

/// The schema that `plans` describe.
arrow::Schema SchemaOf(const std::vector<ColumnPlan>& plans);

}  // namespace dbpool::mysql
