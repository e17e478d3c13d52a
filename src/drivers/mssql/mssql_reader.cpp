// Result rows -> column builders, one conversion per db-lib value form.
#include "drivers/mssql/mssql_reader.hpp"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "arrow/builder.hpp"
#include "arrow/utf8.hpp"
#include "dbpool/error.hpp"
#include "drivers/mssql/mssql_types.hpp"

namespace dbpool::mssql {
namespace {

using arrow::RecordBatchBuilder;

constexpr int64_t kDaysFrom1900To1970 = 25567;
constexpr int64_t kMicrosPerDay = 86400LL * 1000 * 1000;
// Rows between looks at the cancel flag: often enough that a cancel is seen at once even
// when rows trickle in.
constexpr int kCancelCheckRows = 16;

template <typename T>
T Load(const BYTE* data) {
  T value;
  std::memcpy(&value, data, sizeof(T));
  return value;
}

__int128 Pow10(int n) {
  __int128 v = 1;
  while (n-- > 0) v *= 10;
  return v;
}

int64_t DateTimeAllMicros(const DBDATETIMEALL& dt) {
  // date counts days from 1900-01-01 (negative before); time counts 100 ns. The seventh
  // fractional digit goes (Arrow Timestamp(us)), rounding toward the past.
  return (static_cast<int64_t>(dt.date) - kDaysFrom1900To1970) * kMicrosPerDay +
         static_cast<int64_t>(dt.time / 10);
}

class RowReader {
 public:
  RowReader(DBPROCESS* dbproc, const std::atomic<bool>& cancelled, int64_t batch_rows)
      : dbproc_(dbproc), cancelled_(cancelled), batch_rows_(batch_rows) {}

  bool Run(QueryResult* out) {
    const int columns = dbnumcols(dbproc_);
    arrow::Schema schema;
    for (int c = 1; c <= columns; ++c) {
      int db_type = dbcoltype(dbproc_, c);
      DBTYPEINFO* info = dbcoltypeinfo(dbproc_, c);
      ColumnSpec spec = SpecFor(db_type, info != nullptr ? info->precision : 0,
                                info != nullptr ? info->scale : 0);
      arrow::Field field;
      const char* name = dbcolname(dbproc_, c);
      field.name = name != nullptr ? name : "";
      field.type = spec.type;
      if (spec.kind == ColumnKind::kOther) {
        field.metadata.emplace_back("dbpool.db_type", TypeName(db_type));
      }
      schema.push_back(std::move(field));
      specs_.push_back(std::move(spec));
    }
    out->schema = schema;
    out->batches.clear();
    out->rows_affected = -1;
    RecordBatchBuilder builder(schema);
    int64_t in_batch = 0;
    int64_t rows = 0;
    STATUS status;
    while ((status = dbnextrow(dbproc_)) != NO_MORE_ROWS) {
      if (status == FAIL) {
        throw DbError(ErrorKind::kConnection, "reading a row failed");  // caller refines
      }
      if (status != REG_ROW) continue;  // COMPUTE rows: not part of the result set
      for (int c = 0; c < columns; ++c) Append(builder, c, rows);
      builder.EndRow();
      ++rows;
      if (++in_batch >= batch_rows_) {
        out->batches.push_back(builder.Finish());
        in_batch = 0;
      }
      if (rows % kCancelCheckRows == 0 && cancelled_.load(std::memory_order_acquire)) {
        return false;
      }
    }
    if (in_batch > 0 || out->batches.empty()) out->batches.push_back(builder.Finish());
    return true;
  }

 private:
  void Append(RecordBatchBuilder& builder, int c, int64_t row) {
    arrow::ArrayBuilder& column = builder.column(c);
    const BYTE* data = dbdata(dbproc_, c + 1);
    if (data == nullptr) {
      column.AppendNull();
      return;
    }
    const DBINT size = dbdatlen(dbproc_, c + 1);
    const ColumnSpec& spec = specs_[c];
    switch (spec.kind) {
      case ColumnKind::kUInt8:
        builder.column_as<arrow::UInt8Builder>(c).Append(Load<uint8_t>(data));
        break;
      case ColumnKind::kInt16:
        builder.column_as<arrow::Int16Builder>(c).Append(Load<int16_t>(data));
        break;
      case ColumnKind::kInt32:
        builder.column_as<arrow::Int32Builder>(c).Append(Load<int32_t>(data));
        break;
      case ColumnKind::kInt64:
        builder.column_as<arrow::Int64Builder>(c).Append(Load<int64_t>(data));
        break;
      case ColumnKind::kBoolean:
        builder.column_as<arrow::BooleanBuilder>(c).Append(data[0] != 0);
        break;
      case ColumnKind::kFloat32:
        builder.column_as<arrow::Float32Builder>(c).Append(Load<float>(data));
        break;
      case ColumnKind::kFloat64:
        builder.column_as<arrow::Float64Builder>(c).Append(Load<double>(data));
        break;
      case ColumnKind::kDecimal: {
        DBNUMERIC number;
        std::memset(&number, 0, sizeof(number));
        std::memcpy(&number, data, std::min<size_t>(sizeof(number), static_cast<size_t>(size)));
        __int128 value = NumericValue(number);
        const int scale = spec.type.scale;
        if (number.scale < scale) value *= Pow10(scale - number.scale);
        if (number.scale > scale) value /= Pow10(number.scale - scale);
        builder.column_as<arrow::Decimal128Builder>(c).Append(value);
        break;
      }
      case ColumnKind::kMoney: {
        auto money = Load<DBMONEY>(data);
        int64_t units = static_cast<int64_t>((static_cast<uint64_t>(static_cast<uint32_t>(
                                                  money.mnyhigh))
                                              << 32) |
                                             money.mnylow);
        builder.column_as<arrow::Decimal128Builder>(c).Append(units);
        break;
      }
      case ColumnKind::kSmallMoney:
        builder.column_as<arrow::Decimal128Builder>(c).Append(Load<DBMONEY4>(data).mny4);
        break;
      case ColumnKind::kString:
      case ColumnKind::kBinary: {
        const char* text = reinterpret_cast<const char*>(data);
        if (spec.kind == ColumnKind::kString && !arrow::IsValidUtf8(text, size)) {
          throw DbError(ErrorKind::kDataConversion,
                        "column '" + builder.schema()[c].name + "' (row " +
                            std::to_string(row + 1) + "): the text is not valid UTF-8");
        }
        builder.column_as<arrow::VarBinaryBuilder>(c).Append(text, static_cast<size_t>(size));
        break;
      }
      case ColumnKind::kDate: {
        auto dt = Load<DBDATETIMEALL>(data);
        builder.column_as<arrow::Date32Builder>(c).Append(
            static_cast<int32_t>(dt.date - kDaysFrom1900To1970));
        break;
      }
      case ColumnKind::kTime: {
        auto dt = Load<DBDATETIMEALL>(data);
        const bool nano = spec.type.unit == arrow::TimeUnit::kNano;
        int64_t ticks = static_cast<int64_t>(dt.time);
        builder.column_as<arrow::TemporalBuilder>(c).Append(nano ? ticks * 100 : ticks / 10);
        break;
      }
      case ColumnKind::kDateTime2:
      case ColumnKind::kDateTimeOffset:  // db-lib holds the UTC date and time
        builder.column_as<arrow::TemporalBuilder>(c).Append(
            DateTimeAllMicros(Load<DBDATETIMEALL>(data)));
        break;
      case ColumnKind::kDateTime: {
        auto dt = Load<DBDATETIME>(data);
        builder.column_as<arrow::TemporalBuilder>(c).Append(DateTimeMicros(dt.dtdays, dt.dttime));
        break;
      }
      case ColumnKind::kSmallDateTime: {
        auto dt = Load<DBDATETIME4>(data);
        builder.column_as<arrow::TemporalBuilder>(c).Append(
            (static_cast<int64_t>(dt.days) - kDaysFrom1900To1970) * kMicrosPerDay +
            static_cast<int64_t>(dt.minutes) * 60 * 1000 * 1000);
        break;
      }
      case ColumnKind::kGuid:
        if (size != 16) {
          throw DbError(ErrorKind::kDataConversion,
                        "column '" + builder.schema()[c].name + "': a uniqueidentifier of " +
                            std::to_string(size) + " bytes");
        }
        builder.column_as<arrow::VarBinaryBuilder>(c).Append(GuidText(data));
        break;
      case ColumnKind::kOther: {
        // Its text form, as db-lib converts it (sql_variant, future types).
        std::string text(static_cast<size_t>(size) * 4 + 64, '\0');
        DBINT n = dbconvert(dbproc_, spec.db_type, data, size, SYBCHAR,
                            reinterpret_cast<BYTE*>(text.data()), static_cast<DBINT>(text.size()));
        if (n < 0) {
          throw DbError(ErrorKind::kDataConversion,
                        "column '" + builder.schema()[c].name + "': cannot convert a value of " +
                            TypeName(spec.db_type) + " to text");
        }
        text.resize(static_cast<size_t>(n));
        while (!text.empty() && text.back() == '\0') text.pop_back();
        builder.column_as<arrow::VarBinaryBuilder>(c).Append(text);
        break;
      }
    }
  }

  DBPROCESS* dbproc_;
  const std::atomic<bool>& cancelled_;
  int64_t batch_rows_;
  std::vector<ColumnSpec> specs_;
};

}  // namespace

__int128 NumericValue(const DBNUMERIC& number) {
  const int bytes = NumericBytes(number.precision);
  __int128 magnitude = 0;
  for (int i = 1; i <= bytes && i < static_cast<int>(sizeof(number.array)); ++i) {
    magnitude = (magnitude << 8) | number.array[i];
  }
  return number.array[0] != 0 ? -magnitude : magnitude;  // array[0] is 1 for negatives
}

std::string GuidText(const unsigned char* data) {
  // db-lib keeps Data1..Data3 as host integers (the wire is little endian); Data4 is bytes.
  uint32_t d1 = Load<uint32_t>(data);
  uint16_t d2 = Load<uint16_t>(data + 4);
  uint16_t d3 = Load<uint16_t>(data + 6);
  char text[37];
  std::snprintf(text, sizeof(text), "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", d1, d2,
                d3, data[8], data[9], data[10], data[11], data[12], data[13], data[14],
                data[15]);
  return std::string(text, 36);
}

int64_t DateTimeMicros(int32_t days_1900, int32_t ticks_300) {
  // ticks are 1/300 s; SQL Server shows them rounded to the millisecond.
  int64_t millis = (static_cast<int64_t>(ticks_300) * 10 + 1) / 3;
  return (static_cast<int64_t>(days_1900) - kDaysFrom1900To1970) * kMicrosPerDay + millis * 1000;
}

bool ReadResultSet(DBPROCESS* dbproc, const std::atomic<bool>& cancelled, QueryResult* out,
                   int64_t batch_rows) {
  return RowReader(dbproc, cancelled, batch_rows).Run(out);
}

}  // namespace dbpool::mssql
