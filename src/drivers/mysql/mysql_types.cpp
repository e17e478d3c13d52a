// The MySQL -> Arrow type mapping (docs/types.md): one switch over the column's wire type,
// refined by its flags (UNSIGNED, ENUM, SET), character set (63 = binary) and extended
// metadata (JSON, plugin types).
#include "drivers/mysql/mysql_types.hpp"

#include <algorithm>

namespace dbpool::mysql {
namespace {

using arrow::DataType;
using arrow::TimeUnit;
using arrow::TypeId;

// Variable-length values up to this size are fetched into the bound buffer; longer ones
// are copied straight into the Arrow buffer with mysql_stmt_fetch_column.
constexpr unsigned long kMaxInlineBuffer = 1024;
// DECIMAL text: up to 65 digits, a sign and a point.
constexpr unsigned long kDecimalBuffer = 72;

ColumnPlan Make(const FieldInfo& f, DataType type, Decode decode, enum_field_types bind,
                unsigned long buffer = 0) {
  ColumnPlan plan;
  plan.field.name = f.name;
  plan.field.type = std::move(type);
  // Always nullable, as in the other drivers: NOT_NULL_FLAG describes the table column,
  // and the same column read through an outer join can still be NULL.
  plan.decode = decode;
  plan.bind_type = bind;
  plan.buffer_size = buffer;
  return plan;
}

ColumnPlan Tagged(ColumnPlan plan, std::string db_type) {
  plan.field.metadata.emplace_back(kDbTypeKey, std::move(db_type));
  return plan;
}

unsigned long InlineBuffer(const FieldInfo& f) {
  return std::clamp<unsigned long>(f.length, 16, kMaxInlineBuffer);
}

ColumnPlan Integer(const FieldInfo& f, TypeId signed_id, TypeId unsigned_id, Decode signed_decode,
                   Decode unsigned_decode, enum_field_types bind) {
  const bool is_unsigned = (f.flags & UNSIGNED_FLAG) != 0;
  return Make(f, DataType::Of(is_unsigned ? unsigned_id : signed_id),
              is_unsigned ? unsigned_decode : signed_decode, bind);
}

ColumnPlan StringColumn(const FieldInfo& f) {
  const unsigned long buffer = InlineBuffer(f);
  // Plugin types (MariaDB INET4, INET6, UUID) travel as their text form.
  const std::string& plugin = f.data_type_name;
  if (plugin == "inet4" || plugin == "inet6" || plugin == "uuid") {
    return Tagged(Make(f, DataType::Of(TypeId::kString), Decode::kText, MYSQL_TYPE_STRING, buffer),
                  plugin);
  }
  if (f.type == MYSQL_TYPE_JSON || f.format_name == "json") {
    return Tagged(Make(f, DataType::Of(TypeId::kString), Decode::kText, MYSQL_TYPE_STRING, buffer),
                  "json");
  }
  if ((f.flags & ENUM_FLAG) != 0 || f.type == MYSQL_TYPE_ENUM) {
    return Tagged(Make(f, DataType::Of(TypeId::kString), Decode::kText, MYSQL_TYPE_STRING, buffer),
                  "enum");
  }
  if ((f.flags & SET_FLAG) != 0 || f.type == MYSQL_TYPE_SET) {
    return Tagged(Make(f, DataType::Of(TypeId::kString), Decode::kText, MYSQL_TYPE_STRING, buffer),
                  "set");
  }
  if (f.charsetnr == kBinaryCharset) {
    ColumnPlan plan =
        Make(f, DataType::Of(TypeId::kBinary), Decode::kBytes, MYSQL_TYPE_BLOB, buffer);
    return plugin.empty() ? plan : Tagged(std::move(plan), plugin);
  }
  ColumnPlan plan = Make(f, DataType::Of(TypeId::kString), Decode::kText, MYSQL_TYPE_STRING, buffer);
  return plugin.empty() ? plan : Tagged(std::move(plan), plugin);
}

}  // namespace

FieldInfo ReadField(const MYSQL_FIELD& field) {
  FieldInfo info;
  info.name.assign(field.name != nullptr ? field.name : "", field.name_length);
  info.type = field.type;
  info.flags = field.flags;
  info.charsetnr = field.charsetnr;
  info.length = field.length;
  info.decimals = field.decimals;
  MARIADB_CONST_STRING attr{};
  if (mariadb_field_attr(&attr, &field, MARIADB_FIELD_ATTR_DATA_TYPE_NAME) == 0 && attr.length > 0) {
    info.data_type_name.assign(attr.str, attr.length);
  }
  if (mariadb_field_attr(&attr, &field, MARIADB_FIELD_ATTR_FORMAT_NAME) == 0 && attr.length > 0) {
    info.format_name.assign(attr.str, attr.length);
  }
  return info;
}

int32_t DecimalPrecision(const FieldInfo& f) {
  int64_t precision = static_cast<int64_t>(f.length);
  if (f.decimals > 0) --precision;                 // the decimal point
  if ((f.flags & UNSIGNED_FLAG) == 0) --precision;  // the sign
  return static_cast<int32_t>(std::max<int64_t>({precision, f.decimals, 1}));
}

ColumnPlan PlanColumn(const FieldInfo& f) {
  switch (f.type) {
    case MYSQL_TYPE_NULL:
      return Make(f, DataType::Of(TypeId::kNull), Decode::kNull, MYSQL_TYPE_NULL);
    case MYSQL_TYPE_TINY:
      return Integer(f, TypeId::kInt8, TypeId::kUInt8, Decode::kInt8, Decode::kUInt8,
                     MYSQL_TYPE_TINY);
    case MYSQL_TYPE_SHORT:
      return Integer(f, TypeId::kInt16, TypeId::kUInt16, Decode::kInt16, Decode::kUInt16,
                     MYSQL_TYPE_SHORT);
    case MYSQL_TYPE_YEAR:
      // 1901..2155 and 0: a small integer. The binary protocol sends it as 2 bytes.
      return Tagged(Make(f, DataType::Of(TypeId::kInt16), Decode::kInt16, MYSQL_TYPE_SHORT),
                    "year");
    case MYSQL_TYPE_INT24:  // MEDIUMINT: 3 bytes on disk, 4 on the wire
    case MYSQL_TYPE_LONG:
      return Integer(f, TypeId::kInt32, TypeId::kUInt32, Decode::kInt32, Decode::kUInt32,
                     MYSQL_TYPE_LONG);
    case MYSQL_TYPE_LONGLONG:
      return Integer(f, TypeId::kInt64, TypeId::kUInt64, Decode::kInt64, Decode::kUInt64,
                     MYSQL_TYPE_LONGLONG);
    case MYSQL_TYPE_FLOAT:
      return Make(f, DataType::Of(TypeId::kFloat32), Decode::kFloat32, MYSQL_TYPE_FLOAT);
    case MYSQL_TYPE_DOUBLE:
      return Make(f, DataType::Of(TypeId::kFloat64), Decode::kFloat64, MYSQL_TYPE_DOUBLE);
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL: {
      // The binary protocol sends DECIMAL as its exact text (fetched as a string, never
      // through a float).
      const int32_t precision = DecimalPrecision(f);
      const int32_t scale = static_cast<int32_t>(f.decimals);
      if (precision <= 38) {
        return Make(f, DataType::Decimal(precision, scale), Decode::kDecimal,
                    MYSQL_TYPE_STRING, kDecimalBuffer);
      }
      return Tagged(Make(f, DataType::Of(TypeId::kString), Decode::kDecimalText,
                         MYSQL_TYPE_STRING, kDecimalBuffer),
                    "decimal(" + std::to_string(precision) + "," + std::to_string(scale) + ")");
    }
    case MYSQL_TYPE_BIT:
      // Up to 64 bits, big-endian bytes. BIT(1) is MySQL's usual boolean.
      if (f.length == 1) return Make(f, DataType::Of(TypeId::kBoolean), Decode::kBool, MYSQL_TYPE_BIT, 8);
      return Tagged(Make(f, DataType::Of(TypeId::kUInt64), Decode::kBits, MYSQL_TYPE_BIT, 8),
                    "bit(" + std::to_string(f.length) + ")");
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
      return Make(f, DataType::Of(TypeId::kDate32), Decode::kDate, MYSQL_TYPE_DATE);
    case MYSQL_TYPE_DATETIME:
      return Make(f, DataType::Timestamp(TimeUnit::kMicro, ""), Decode::kDateTime,
                  MYSQL_TYPE_DATETIME);
    case MYSQL_TYPE_TIMESTAMP:
      // The session time_zone is '+00:00' (set on connect), so values arrive in UTC.
      return Make(f, DataType::Timestamp(TimeUnit::kMicro, "UTC"), Decode::kDateTime,
                  MYSQL_TYPE_TIMESTAMP);
    case MYSQL_TYPE_TIME:
      // -838:59:59..838:59:59 is an elapsed time more than a time of day.
      return Make(f, DataType::Duration(TimeUnit::kMicro), Decode::kTime, MYSQL_TYPE_TIME);
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_STRING:
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_ENUM:
    case MYSQL_TYPE_SET:
    case MYSQL_TYPE_JSON:
      return StringColumn(f);
    case MYSQL_TYPE_GEOMETRY:
      // MySQL's internal format: a 4-byte SRID, then WKB.
      return Tagged(Make(f, DataType::Of(TypeId::kBinary), Decode::kBytes, MYSQL_TYPE_BLOB,
                         InlineBuffer(f)),
                    f.data_type_name.empty() ? "geometry" : f.data_type_name);
    default:
      return Tagged(Make(f, DataType::Of(TypeId::kBinary), Decode::kBytes, MYSQL_TYPE_BLOB,
                         InlineBuffer(f)),
                    "mysql type " + std::to_string(static_cast<int>(f.type)));
  }
}

arrow::Schema SchemaOf(const std::vector<ColumnPlan>& plans) {
  arrow::Schema schema;
  schema.reserve(plans.size());
  for (const ColumnPlan& plan : plans) schema.push_back(plan.field);
  return schema;
}

}  // namespace dbpool::mysql
