// Logical Arrow types and schemas used by result sets (the subset TYPES.md needs).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace dbpool::arrow {

enum class TypeId {
  kNull,
  kBoolean,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kUInt8,
  kUInt16,
  kUInt32,
  kUInt64,
  kFloat32,
  kFloat64,
  kDecimal128,   ///< precision, scale
  kString,       ///< UTF-8, 64-bit offsets (Arrow large_utf8, format "U")
  kBinary,       ///< 64-bit offsets (Arrow large_binary, format "Z")
  kDate32,       ///< days since 1970-01-01
  kTime64,       ///< unit us or ns since midnight
  kTimestamp,    ///< unit us or ns since 1970-01-01 UTC; timezone "" (naive) or e.g. "UTC"
  kDuration,     ///< unit us or ns
  kList,         ///< one child: the element type (64-bit offsets, Arrow large_list "+L")
  kStruct,       ///< children: the fields
};

enum class TimeUnit { kMicro, kNano };

struct Field;

/// A logical type. Plain value type; nested types hold their children as fields.
struct DataType {
  TypeId id = TypeId::kNull;
  int32_t precision = 0;           ///< kDecimal128 only
  int32_t scale = 0;               ///< kDecimal128 only
  TimeUnit unit = TimeUnit::kMicro;  ///< kTime64, kTimestamp, kDuration
  std::string timezone;            ///< kTimestamp only; empty = no zone
  std::vector<Field> children;     ///< kList (exactly one), kStruct

  static DataType Of(TypeId id) { DataType t; t.id = id; return t; }
  static DataType Decimal(int32_t precision, int32_t scale);
  static DataType Timestamp(TimeUnit unit, std::string timezone);
  static DataType Time(TimeUnit unit);
  static DataType Duration(TimeUnit unit);
  static DataType List(Field element);
  static DataType Struct(std::vector<Field> fields);

  /// The Arrow C Data format string ("l", "d:15,2", "tsu:UTC", "+L"...).
  std::string Format() const;
  /// Human readable, e.g. "Decimal128(15, 2)", for error messages.
  std::string ToString() const;
  bool operator==(const DataType& other) const;
};

/// A named column. `metadata` goes to the Arrow field metadata (e.g. the database type name
/// under key "dbpool.db_type" for types that fall back to String or Binary).
struct Field {
  std::string name;
  DataType type;
  bool nullable = true;
  std::vector<std::pair<std::string, std::string>> metadata;

  bool operator==(const Field& other) const;
};

using Schema = std::vector<Field>;

}  // namespace dbpool::arrow
