// Row readers: one switch per value over the column's Decode, for bound binary values and
// for text-protocol values.
#include "drivers/mysql/mysql_reader.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "arrow/utf8.hpp"
#include "dbpool/error.hpp"
#include "drivers/mysql/mysql_decode.hpp"

namespace dbpool::mysql {
namespace {

using arrow::ArrayBuilder;
using arrow::VarBinaryBuilder;

// A bound buffer grows (for the following rows) up to this size; longer values are
// always copied straight into the Arrow buffer.
constexpr unsigned long kMaxBoundBuffer = 64 * 1024;

template <typename B>
B& As(ArrayBuilder& builder) {
  return static_cast<B&>(builder);
}

template <typename T>
T Load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

DbError ConversionError(const ColumnPlan& plan, int64_t row, const std::string& what) {
  return DbError(ErrorKind::kDataConversion,
                 "column '" + plan.field.name + "' (row " + std::to_string(row) + "): " + what);
}

void AppendUtf8(std::string_view text, ArrayBuilder& builder) {
  if (!arrow::IsValidUtf8(text.data(), text.size())) {
    throw DecodeError("text is not valid UTF-8");
  }
  As<VarBinaryBuilder>(builder).Append(text);
}

// Date / DATETIME / TIMESTAMP / TIME values, from either protocol.
void AppendTemporal(const ColumnPlan& plan, const TimeParts& t, ZeroDate zero_date,
                    ArrayBuilder& builder) {
  if (plan.decode != Decode::kTime && IsZeroDate(t) && zero_date == ZeroDate::kNull) {
    builder.AppendNull();
    return;
  }
  switch (plan.decode) {
    case Decode::kDate:
      As<arrow::Date32Builder>(builder).Append(ToDate32(t));
      return;
    case Decode::kDateTime:
      As<arrow::TemporalBuilder>(builder).Append(ToTimestampMicros(t));
      return;
    default:
      As<arrow::TemporalBuilder>(builder).Append(ToDurationMicros(t));
      return;
  }
}

TimeParts FromMysqlTime(const MYSQL_TIME& t) {
  TimeParts parts;
  parts.negative = t.neg != 0;
  parts.year = t.year;
  parts.month = t.month;
  parts.day = t.day;
  // The library folds TIME's days into hours; adding day * 24 keeps it right either way.
  parts.hour = static_cast<uint64_t>(t.hour) +
               (t.time_type == MYSQL_TIMESTAMP_TIME ? static_cast<uint64_t>(t.day) * 24 : 0);
  if (t.time_type == MYSQL_TIMESTAMP_TIME) parts.day = 0;
  parts.minute = t.minute;
  parts.second = t.second;
  parts.micros = static_cast<uint32_t>(t.second_part);
  return parts;
}

// A text-protocol (or DECIMAL / string) value of column `plan` -> builder.
void AppendTextValue(const ColumnPlan& plan, std::string_view v, ZeroDate zero_date,
                     ArrayBuilder& builder) {
  switch (plan.decode) {
    case Decode::kNull:
      builder.AppendNull();
      return;
    case Decode::kInt8:
      As<arrow::Int8Builder>(builder).Append(static_cast<int8_t>(ParseTextInt(v, INT8_MIN, INT8_MAX)));
      return;
    case Decode::kUInt8:
      As<arrow::UInt8Builder>(builder).Append(static_cast<uint8_t>(ParseTextUInt(v, UINT8_MAX)));
      return;
    case Decode::kInt16:
      As<arrow::Int16Builder>(builder).Append(static_cast<int16_t>(ParseTextInt(v, INT16_MIN, INT16_MAX)));
      return;
    case Decode::kUInt16:
      As<arrow::UInt16Builder>(builder).Append(static_cast<uint16_t>(ParseTextUInt(v, UINT16_MAX)));
      return;
    case Decode::kInt32:
      As<arrow::Int32Builder>(builder).Append(static_cast<int32_t>(ParseTextInt(v, INT32_MIN, INT32_MAX)));
      return;
    case Decode::kUInt32:
      As<arrow::UInt32Builder>(builder).Append(static_cast<uint32_t>(ParseTextUInt(v, UINT32_MAX)));
      return;
    case Decode::kInt64:
      As<arrow::Int64Builder>(builder).Append(ParseTextInt(v, INT64_MIN, INT64_MAX));
      return;
    case Decode::kUInt64:
      As<arrow::UInt64Builder>(builder).Append(ParseTextUInt(v, UINT64_MAX));
      return;
    case Decode::kFloat32:
      As<arrow::Float32Builder>(builder).Append(static_cast<float>(ParseTextDouble(v)));
      return;
    case Decode::kFloat64:
      As<arrow::Float64Builder>(builder).Append(ParseTextDouble(v));
      return;
    case Decode::kDecimal:
      As<arrow::Decimal128Builder>(builder).Append(
          ParseDecimal(v, plan.field.type.precision, plan.field.type.scale));
      return;
    case Decode::kDecimalText:
    case Decode::kText:
      AppendUtf8(v, builder);
      return;
    case Decode::kBool:
      As<arrow::BooleanBuilder>(builder).Append(BitsToUInt64(v.data(), v.size()) != 0);
      return;
    case Decode::kBits:
      As<arrow::UInt64Builder>(builder).Append(BitsToUInt64(v.data(), v.size()));
      return;
    case Decode::kDate:
      AppendTemporal(plan, ParseTextDate(v), zero_date, builder);
      return;
    case Decode::kDateTime:
      AppendTemporal(plan, ParseTextDateTime(v), zero_date, builder);
      return;
    case Decode::kTime:
      AppendTemporal(plan, ParseTextTime(v), zero_date, builder);
      return;
    case Decode::kBytes:
      As<VarBinaryBuilder>(builder).Append(v);
      return;
  }
}

}  // namespace

BinaryRowReader::BinaryRowReader(std::vector<ColumnPlan> plans, ZeroDate zero_date)
    : plans_(std::move(plans)), slots_(plans_.size()), binds_(plans_.size()),
      zero_date_(zero_date) {
  std::memset(binds_.data(), 0, binds_.size() * sizeof(MYSQL_BIND));
  for (size_t i = 0; i < plans_.size(); ++i) {
    const ColumnPlan& plan = plans_[i];
    Slot& slot = slots_[i];
    MYSQL_BIND& b = binds_[i];
    b.buffer_type = plan.bind_type;
    b.length = &slot.length;
    b.is_null = &slot.is_null;
    b.error = &slot.error;
    switch (plan.bind_type) {
      case MYSQL_TYPE_DATE:
      case MYSQL_TYPE_DATETIME:
      case MYSQL_TYPE_TIMESTAMP:
      case MYSQL_TYPE_TIME:
        b.buffer = &slot.time;
        b.buffer_length = sizeof(MYSQL_TIME);
        break;
      case MYSQL_TYPE_STRING:
      case MYSQL_TYPE_BLOB:
      case MYSQL_TYPE_BIT:
        slot.buffer.resize(std::max<unsigned long>(plan.buffer_size, 8));
        b.buffer = slot.buffer.data();
        b.buffer_length = static_cast<unsigned long>(slot.buffer.size());
        break;
      default:  // fixed-width numbers (and NULL, which never writes)
        b.buffer = slot.fixed;
        b.buffer_length = sizeof(slot.fixed);
        b.is_unsigned = plan.decode == Decode::kUInt8 || plan.decode == Decode::kUInt16 ||
                        plan.decode == Decode::kUInt32 || plan.decode == Decode::kUInt64;
        break;
    }
  }
}

void BinaryRowReader::AppendRow(MYSQL_STMT* stmt, arrow::RecordBatchBuilder& builder) {
  ++row_;
  for (size_t c = 0; c < plans_.size(); ++c) {
    try {
      AppendValue(c, stmt, builder.column(c));
    } catch (const DecodeError& e) {
      throw ConversionError(plans_[c], row_, e.what());
    }
  }
  builder.EndRow();
}

void BinaryRowReader::AppendLong(size_t column, MYSQL_STMT* stmt, ArrayBuilder& builder) {
  // The value did not fit the bound buffer: copy all of it straight into the Arrow data
  // buffer, then let later rows use a bigger bound buffer when values of this size look
  // common enough to be worth it.
  Slot& slot = slots_[column];
  const ColumnPlan& plan = plans_[column];
  const unsigned long size = slot.length;
  std::string text;
  char* target = nullptr;
  const bool direct = plan.decode == Decode::kText || plan.decode == Decode::kBytes ||
                      plan.decode == Decode::kDecimalText;
  if (direct) {
    target = As<VarBinaryBuilder>(builder).ReserveValue(size);
  } else {
    text.resize(size);
    target = text.data();
  }
  MYSQL_BIND b;
  std::memset(&b, 0, sizeof(b));
  unsigned long length = 0;
  my_bool is_null = 0;
  my_bool error = 0;
  b.buffer_type = plan.bind_type;
  b.buffer = target;
  b.buffer_length = size;
  b.length = &length;
  b.is_null = &is_null;
  b.error = &error;
  if (mysql_stmt_fetch_column(stmt, &b, static_cast<unsigned int>(column), 0) != 0) {
    throw DecodeError(std::string("could not read the value: ") + mysql_stmt_error(stmt));
  }
  if (slot.length <= kMaxBoundBuffer) {
    size_t grown = slot.buffer.size();
    while (grown < slot.length) grown *= 2;
    slot.buffer.resize(std::min<size_t>(grown, kMaxBoundBuffer));
    binds_[column].buffer = slot.buffer.data();
    binds_[column].buffer_length = static_cast<unsigned long>(slot.buffer.size());
    rebind_ = true;
  }
  if (direct) {
    if (plan.decode == Decode::kText && !arrow::IsValidUtf8(target, size)) {
      // Undo the reserved value: the builder only commits on CommitValue.
      throw DecodeError("text is not valid UTF-8");
    }
    As<VarBinaryBuilder>(builder).CommitValue(size);
    return;
  }
  AppendTextValue(plan, text, zero_date_, builder);
}

void BinaryRowReader::AppendValue(size_t column, MYSQL_STMT* stmt, ArrayBuilder& builder) {
  Slot& slot = slots_[column];
  const ColumnPlan& plan = plans_[column];
  if (slot.is_null) {
    builder.AppendNull();
    return;
  }
  switch (plan.decode) {
    case Decode::kNull:
      builder.AppendNull();
      return;
    case Decode::kInt8:
      As<arrow::Int8Builder>(builder).Append(Load<int8_t>(slot.fixed));
      return;
    case Decode::kUInt8:
      As<arrow::UInt8Builder>(builder).Append(Load<uint8_t>(slot.fixed));
      return;
    case Decode::kInt16:
      As<arrow::Int16Builder>(builder).Append(Load<int16_t>(slot.fixed));
      return;
    case Decode::kUInt16:
      As<arrow::UInt16Builder>(builder).Append(Load<uint16_t>(slot.fixed));
      return;
    case Decode::kInt32:
      As<arrow::Int32Builder>(builder).Append(Load<int32_t>(slot.fixed));
      return;
    case Decode::kUInt32:
      As<arrow::UInt32Builder>(builder).Append(Load<uint32_t>(slot.fixed));
      return;
    case Decode::kInt64:
      As<arrow::Int64Builder>(builder).Append(Load<int64_t>(slot.fixed));
      return;
    case Decode::kUInt64:
      As<arrow::UInt64Builder>(builder).Append(Load<uint64_t>(slot.fixed));
      return;
    case Decode::kFloat32:
      As<arrow::Float32Builder>(builder).Append(Load<float>(slot.fixed));
      return;
    case Decode::kFloat64:
      As<arrow::Float64Builder>(builder).Append(Load<double>(slot.fixed));
      return;
    case Decode::kDate:
    case Decode::kDateTime:
    case Decode::kTime:
      AppendTemporal(plan, FromMysqlTime(slot.time), zero_date_, builder);
      return;
    default:
      break;
  }
  // Variable-length values: strings, binary strings, DECIMAL text, BIT bytes.
  if (slot.length > binds_[column].buffer_length) {
    AppendLong(column, stmt, builder);
    return;
  }
  AppendTextValue(plan, std::string_view(slot.buffer.data(), slot.length), zero_date_, builder);
}

void AppendTextRow(const std::vector<ColumnPlan>& plans, MYSQL_ROW row,
                   const unsigned long* lengths, ZeroDate zero_date, int64_t row_number,
                   arrow::RecordBatchBuilder& builder) {
  for (size_t c = 0; c < plans.size(); ++c) {
    ArrayBuilder& column = builder.column(c);
    if (row[c] == nullptr) {
      column.AppendNull();
      continue;
    }
    try {
      AppendTextValue(plans[c], std::string_view(row[c], lengths[c]), zero_date, column);
    } catch (const DecodeError& e) {
      throw ConversionError(plans[c], row_number, e.what());
    }
  }
  builder.EndRow();
}

}  // namespace dbpool::mysql
