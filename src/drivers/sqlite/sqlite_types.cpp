// Declared type parsing: exact names, then SQLite's substring affinity rules.
#include "drivers/sqlite/sqlite_types.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace dbpool::sqlite {
namespace {

using arrow::DataType;
using arrow::TimeUnit;
using arrow::TypeId;

constexpr int32_t kMaxDecimalPrecision = 38;

ColumnSpec Make(ColumnKind kind, DataType type) { return ColumnSpec{kind, std::move(type)}; }

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool Contains(std::string_view text, std::string_view needle) {
  return text.find(needle) != std::string_view::npos;
}

// Parses "p" or "p,s" (spaces allowed). Returns false when malformed.
bool ParsePrecisionScale(std::string_view args, int32_t* precision, int32_t* scale) {
  auto comma = args.find(',');
  std::string_view p_text = Trim(args.substr(0, comma));
  std::string_view s_text = comma == std::string_view::npos ? "0" : Trim(args.substr(comma + 1));
  auto p_end = p_text.data() + p_text.size();
  auto s_end = s_text.data() + s_text.size();
  auto [pp, pe] = std::from_chars(p_text.data(), p_end, *precision);
  auto [sp, se] = std::from_chars(s_text.data(), s_end, *scale);
  return pe == std::errc() && se == std::errc() && pp == p_end && sp == s_end &&
         *precision >= 1 && *scale >= 0 && *scale <= *precision;
}

ColumnSpec DecimalSpec(std::string_view args) {
  int32_t precision = 0;
  int32_t scale = 0;
  if (args.empty() || !ParsePrecisionScale(args, &precision, &scale)) {
    // No (usable) precision: see note (1) in the header.
    return Make(ColumnKind::kNumeric, DataType::Of(TypeId::kFloat64));
  }
  // Arrow's Decimal128 holds 38 digits; wider declarations keep their scale and values that
  // do not fit are reported by the reader (TYPES.md: never a silent float).
  precision = std::min(precision, kMaxDecimalPrecision);
  scale = std::min(scale, precision);
  return Make(ColumnKind::kDecimal, DataType::Decimal(precision, scale));
}

}  // namespace

ColumnSpec SpecFromDeclType(std::string_view decltype_text) {
  std::string upper = Upper(Trim(decltype_text));
  // Split "NAME(args) suffix" into the name (with modifiers such as UNSIGNED) and args.
  std::string_view full = upper;
  std::string_view name = full;
  std::string_view args;
  if (auto open = full.find('('); open != std::string_view::npos) {
    name = Trim(full.substr(0, open));
    auto close = full.find(')', open);
    args = full.substr(open + 1, close == std::string_view::npos ? std::string_view::npos
                                                                  : close - open - 1);
  }

  if (name == "BOOLEAN" || name == "BOOL") {
    return Make(ColumnKind::kBoolean, DataType::Of(TypeId::kBoolean));
  }
  if (name == "DATE") return Make(ColumnKind::kDate, DataType::Of(TypeId::kDate32));
  if (name == "DATETIME" || name == "TIMESTAMP" || name == "TIMESTAMP WITHOUT TIME ZONE") {
    return Make(ColumnKind::kTimestamp, DataType::Timestamp(TimeUnit::kMicro, ""));
  }
  if (name == "TIMESTAMPTZ" || name == "TIMESTAMP WITH TIME ZONE") {
    return Make(ColumnKind::kTimestamp, DataType::Timestamp(TimeUnit::kMicro, "UTC"));
  }
  if (name == "TIME" || name == "TIME WITHOUT TIME ZONE") {
    return Make(ColumnKind::kTime, DataType::Time(TimeUnit::kMicro));
  }
  if (name == "DECIMAL" || name == "NUMERIC") return DecimalSpec(args);
  if (name == "BINARY" || name == "VARBINARY" || name == "BYTEA") {
    return Make(ColumnKind::kBinary, DataType::Of(TypeId::kBinary));
  }

  // SQLite's affinity rules, in SQLite's order (so "CHARINT" is an integer, as in SQLite).
  if (Contains(name, "INT")) return Make(ColumnKind::kInt64, DataType::Of(TypeId::kInt64));
  if (Contains(name, "CHAR") || Contains(name, "CLOB") || Contains(name, "TEXT")) {
    return Make(ColumnKind::kString, DataType::Of(TypeId::kString));
  }
  if (Contains(name, "BLOB")) return Make(ColumnKind::kBinary, DataType::Of(TypeId::kBinary));
  if (Contains(name, "REAL") || Contains(name, "FLOA") || Contains(name, "DOUB")) {
    return Make(ColumnKind::kFloat64, DataType::Of(TypeId::kFloat64));
  }
  return Make(ColumnKind::kString, DataType::Of(TypeId::kString));
}

ColumnSpec SpecFromStorageClass(int storage_class) {
  switch (storage_class) {
    case SQLITE_INTEGER:
      return Make(ColumnKind::kInt64, DataType::Of(TypeId::kInt64));
    case SQLITE_FLOAT:
      return Make(ColumnKind::kFloat64, DataType::Of(TypeId::kFloat64));
    case SQLITE_BLOB:
      return Make(ColumnKind::kBinary, DataType::Of(TypeId::kBinary));
    case SQLITE_TEXT:
    default:
      return Make(ColumnKind::kString, DataType::Of(TypeId::kString));
  }
}

ColumnSpec NullSpec() { return Make(ColumnKind::kNull, DataType::Of(TypeId::kNull)); }

}  // namespace dbpool::sqlite
