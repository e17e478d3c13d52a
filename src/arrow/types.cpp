// DataType factories, Arrow C Data format strings, readable names and equality; Field ==.
#include <string>
#include <utility>

#include "dbpool/arrow_types.hpp"
#include "dbpool/error.hpp"

namespace dbpool::arrow {
namespace {

const char* UnitLetter(TimeUnit unit) { return unit == TimeUnit::kMicro ? "u" : "n"; }
const char* UnitName(TimeUnit unit) { return unit == TimeUnit::kMicro ? "us" : "ns"; }

bool HasUnit(TypeId id) {
  return id == TypeId::kTime64 || id == TypeId::kTimestamp || id == TypeId::kDuration;
}

}  // namespace

DataType DataType::Decimal(int32_t precision, int32_t scale) {
  // Decimal128 holds at most 38 digits. The scale is left free: Arrow allows negative
  // scales and scale > precision (PostgreSQL 15 NUMERIC(3, 5)); drivers decide the mapping.
  if (precision < 1 || precision > 38) {
    throw DbError(ErrorKind::kInternal,
                  "invalid Decimal128 precision " + std::to_string(precision));
  }
  DataType t = Of(TypeId::kDecimal128);
  t.precision = precision;
  t.scale = scale;
  return t;
}

DataType DataType::Timestamp(TimeUnit unit, std::string timezone) {
  DataType t = Of(TypeId::kTimestamp);
  t.unit = unit;
  t.timezone = std::move(timezone);
  return t;
}

DataType DataType::Time(TimeUnit unit) {
  DataType t = Of(TypeId::kTime64);
  t.unit = unit;
  return t;
}

DataType DataType::Duration(TimeUnit unit) {
  DataType t = Of(TypeId::kDuration);
  t.unit = unit;
  return t;
}

DataType DataType::List(Field element) {
  // Arrow (and Polars) name the list child "item"; an unnamed element gets that name.
  if (element.name.empty()) element.name = "item";
  DataType t = Of(TypeId::kList);
  t.children.push_back(std::move(element));
  return t;
}

DataType DataType::Struct(std::vector<Field> fields) {
  DataType t = Of(TypeId::kStruct);
  t.children = std::move(fields);
  return t;
}

std::string DataType::Format() const {
  switch (id) {
    case TypeId::kNull: return "n";
    case TypeId::kBoolean: return "b";
    case TypeId::kInt8: return "c";
    case TypeId::kInt16: return "s";
    case TypeId::kInt32: return "i";
    case TypeId::kInt64: return "l";
    case TypeId::kUInt8: return "C";
    case TypeId::kUInt16: return "S";
    case TypeId::kUInt32: return "I";
    case TypeId::kUInt64: return "L";
    case TypeId::kFloat32: return "f";
    case TypeId::kFloat64: return "g";
    case TypeId::kDecimal128:
      return "d:" + std::to_string(precision) + "," + std::to_string(scale);
    case TypeId::kString: return "U";
    case TypeId::kBinary: return "Z";
    case TypeId::kDate32: return "tdD";
    case TypeId::kTime64: return std::string("tt") + UnitLetter(unit);
    // The C Data interface always has the colon; an empty zone means naive (wall clock).
    case TypeId::kTimestamp: return std::string("ts") + UnitLetter(unit) + ":" + timezone;
    case TypeId::kDuration: return std::string("tD") + UnitLetter(unit);
    case TypeId::kList: return "+L";
    case TypeId::kStruct: return "+s";
  }
  throw DbError(ErrorKind::kInternal, "unknown Arrow type id");
}

std::string DataType::ToString() const {
  switch (id) {
    case TypeId::kNull: return "Null";
    case TypeId::kBoolean: return "Boolean";
    case TypeId::kInt8: return "Int8";
    case TypeId::kInt16: return "Int16";
    case TypeId::kInt32: return "Int32";
    case TypeId::kInt64: return "Int64";
    case TypeId::kUInt8: return "UInt8";
    case TypeId::kUInt16: return "UInt16";
    case TypeId::kUInt32: return "UInt32";
    case TypeId::kUInt64: return "UInt64";
    case TypeId::kFloat32: return "Float32";
    case TypeId::kFloat64: return "Float64";
    case TypeId::kDecimal128:
      return "Decimal128(" + std::to_string(precision) + ", " + std::to_string(scale) + ")";
    case TypeId::kString: return "String";
    case TypeId::kBinary: return "Binary";
    case TypeId::kDate32: return "Date32";
    case TypeId::kTime64: return std::string("Time64[") + UnitName(unit) + "]";
    case TypeId::kTimestamp:
      return std::string("Timestamp[") + UnitName(unit) +
             (timezone.empty() ? "" : ", " + timezone) + "]";
    case TypeId::kDuration: return std::string("Duration[") + UnitName(unit) + "]";
    case TypeId::kList:
      return "List<" + (children.empty() ? std::string("?") : children[0].type.ToString()) +
             ">";
    case TypeId::kStruct: {
      std::string out = "Struct<";
      for (size_t i = 0; i < children.size(); ++i) {
        if (i > 0) out += ", ";
        out += children[i].name + ": " + children[i].type.ToString();
      }
      return out + ">";
    }
  }
  return "Unknown";
}

bool DataType::operator==(const DataType& other) const {
  // Only the attributes that matter for `id` are compared, so a stray precision on an
  // Int64 (the struct is a plain aggregate) does not make two equal types differ.
  if (id != other.id) return false;
  if (id == TypeId::kDecimal128) {
    return precision == other.precision && scale == other.scale;
  }
  if (HasUnit(id) && unit != other.unit) return false;
  if (id == TypeId::kTimestamp) return timezone == other.timezone;
  if (id == TypeId::kList || id == TypeId::kStruct) return children == other.children;
  return true;
}

bool Field::operator==(const Field& other) const {
  return name == other.name && nullable == other.nullable && metadata == other.metadata &&
         type == other.type;
}

}  // namespace dbpool::arrow
