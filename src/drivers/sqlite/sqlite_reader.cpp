// Row loop of the SQLite driver: one switch per cell straight into the column builders;
// the common cases (storage class matches the column type, DECIMAL from INTEGER/REAL, ISO
// TEXT dates) are handled inline, the rest in AppendConverted.
#include "drivers/sqlite/sqlite_reader.hpp"

#include <cctype>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "arrow/builder.hpp"
#include "drivers/sqlite/sqlite_convert.hpp"
#include "drivers/sqlite/sqlite_error.hpp"
#include "drivers/sqlite/sqlite_types.hpp"

namespace dbpool::sqlite {
namespace {

using arrow::ArrayBuilder;

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kSecondsPerDay = 86400;
// Bytes reserved up front in each string/binary data buffer, so appends (even of empty
// values) always have memory to write to.
constexpr int64_t kInitialDataBytes = 4096;

struct Column {
  std::string name;
  std::string db_type;  // declared type; empty for expressions
  ColumnSpec spec;
  std::unique_ptr<ArrayBuilder> builder;  // null while spec.kind == kPending
  int64_t pending_nulls = 0;              // leading NULLs of a pending column
};

// The struct array of one batch; owns its finished child arrays.
struct BatchData {
  std::vector<ArrowArray> children;
  std::vector<ArrowArray*> child_pointers;
  const void* buffers[1] = {nullptr};  // a struct array's only buffer: validity (none)

  ~BatchData() {
    // A consumer may have moved a child out, leaving release null (C Data spec "moving").
    for (ArrowArray& child : children) {
      if (child.release != nullptr) child.release(&child);
    }
  }
};

void ReleaseBatch(ArrowArray* array) {
  delete static_cast<BatchData*>(array->private_data);
  array->release = nullptr;
}

const char* StorageName(int storage) {
  switch (storage) {
    case SQLITE_INTEGER: return "INTEGER";
    case SQLITE_FLOAT: return "REAL";
    case SQLITE_TEXT: return "TEXT";
    case SQLITE_BLOB: return "BLOB";
    default: return "NULL";
  }
}

template <typename B>
B& As(Column& column) {
  return static_cast<B&>(*column.builder);
}

template <typename B>
const B& As(const Column& column) {
  return static_cast<const B&>(*column.builder);
}

class Reader {
 public:
  Reader(sqlite3* db, sqlite3_stmt* stmt, int64_t batch_rows)
      : db_(db), stmt_(stmt), batch_rows_(batch_rows) {}

  QueryResult Run() {
    const int n = sqlite3_column_count(stmt_);
    columns_.resize(n);
    for (int i = 0; i < n; ++i) {
      Column& column = columns_[i];
      const char* name = sqlite3_column_name(stmt_, i);
      column.name = name != nullptr ? name : "";
      if (const char* decl = sqlite3_column_decltype(stmt_, i)) {
        column.db_type = decl;
        SetSpec(column, SpecFromDeclType(decl));
      } else {
        ++pending_columns_;
      }
    }

    for (;;) {
      const int rc = sqlite3_step(stmt_);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) throw MakeError(db_, rc);
      for (int i = 0; i < n; ++i) AppendCell(columns_[i], i);
      ++row_;
      if (row_ - batch_start_ >= batch_rows_ && pending_columns_ == 0) {
        FinishBatch();
        // A full batch suggests more will follow: size the next one in one step.
        for (Column& column : columns_) column.builder->Reserve(batch_rows_);
      }
    }

    for (Column& column : columns_) {
      if (column.spec.kind != ColumnKind::kPending) continue;
      SetSpec(column, NullSpec());
      for (int64_t k = 0; k < column.pending_nulls; ++k) column.builder->AppendNull();
    }
    if (row_ > batch_start_) FinishBatch();

    QueryResult result;
    for (Column& column : columns_) {
      arrow::Field field{column.name, column.spec.type, true, {}};
      if (!column.db_type.empty()) field.metadata.emplace_back("dbpool.db_type", column.db_type);
      result.schema.push_back(std::move(field));
    }
    result.batches = std::move(batches_);
    return result;
  }

 private:
  void SetSpec(Column& column, ColumnSpec spec) {
    column.spec = std::move(spec);
    column.builder = arrow::MakeBuilder(column.spec.type);
    ReserveData(column);
  }

  void ReserveData(Column& column) {
    if (column.spec.kind == ColumnKind::kString || column.spec.kind == ColumnKind::kBinary) {
      As<arrow::VarBinaryBuilder>(column).ReserveData(kInitialDataBytes);
    }
  }

  static std::string_view Text(sqlite3_value* value) {
    // value_text before value_bytes: the order SQLite documents as conversion-safe.
    const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(value));
    if (text == nullptr) return {};
    return std::string_view(text, sqlite3_value_bytes(value));
  }

  // One column_value per cell, then the value_* accessors: each column_* call would repeat
  // the statement's bounds and error bookkeeping (a quarter of the row loop's time).
  void AppendCell(Column& column, int i) {
    sqlite3_value* value = sqlite3_column_value(stmt_, i);
    const int storage = sqlite3_value_type(value);
    if (storage == SQLITE_NULL) {
      if (column.builder) {
        column.builder->AppendNull();
      } else {
        ++column.pending_nulls;
      }
      return;
    }
    if (!column.builder) Resolve(column, storage);
    switch (column.spec.kind) {
      case ColumnKind::kInt64:
        if (storage == SQLITE_INTEGER) {
          As<arrow::Int64Builder>(column).Append(sqlite3_value_int64(value));
          return;
        }
        break;
      case ColumnKind::kFloat64:
        if (storage == SQLITE_FLOAT) {
          As<arrow::Float64Builder>(column).Append(sqlite3_value_double(value));
          return;
        }
        break;
      case ColumnKind::kString:
        // UTF-8 is checked once per batch (FinishBatch), not per value.
        if (storage == SQLITE_TEXT) return As<arrow::VarBinaryBuilder>(column).Append(Text(value));
        break;
      case ColumnKind::kBinary:
        if (storage == SQLITE_BLOB) {
          static const char kEmpty = 0;  // column_blob gives nullptr for an empty blob
          const void* data = sqlite3_value_blob(value);
          As<arrow::VarBinaryBuilder>(column).Append(data ? data : &kEmpty,
                                                     sqlite3_value_bytes(value));
          return;
        }
        break;
      case ColumnKind::kDecimal: {
        // The common storage of a DECIMAL column (SQLite's NUMERIC affinity): an INTEGER,
        // or a REAL that is exactly a decimal of the column's scale. Others: AppendConverted.
        const auto& type = column.spec.type;
        __int128 unscaled;
        if (storage == SQLITE_INTEGER
                ? IntToDecimal(sqlite3_value_int64(value), type.precision, type.scale, &unscaled)
                : storage == SQLITE_FLOAT &&
                      DoubleToDecimalFast(sqlite3_value_double(value), type.precision,
                                          type.scale, &unscaled)) {
          return As<arrow::Decimal128Builder>(column).Append(unscaled);
        }
        break;
      }
      case ColumnKind::kDate: {
        int32_t days;
        if (storage == SQLITE_TEXT && ParseDate(Text(value), &days)) {
          return As<arrow::Date32Builder>(column).Append(days);
        }
        break;
      }
      default:
        break;
    }
    AppendConverted(column, value, storage);
  }

  void Resolve(Column& column, int storage) {
    SetSpec(column, SpecFromStorageClass(storage));
    for (int64_t k = 0; k < column.pending_nulls; ++k) column.builder->AppendNull();
    --pending_columns_;
  }

  static bool ToInt64(sqlite3_value* value, int storage, int64_t* out) {
    switch (storage) {
      case SQLITE_INTEGER: *out = sqlite3_value_int64(value); return true;
      case SQLITE_FLOAT: return DoubleToInt64(sqlite3_value_double(value), out);
      case SQLITE_TEXT: return ParseInt64(Text(value), out);
      default: return false;
    }
  }

  static bool ToDouble(ColumnKind kind, sqlite3_value* value, int storage, double* out) {
    switch (storage) {
      case SQLITE_INTEGER: {
        const int64_t v = sqlite3_value_int64(value);
        *out = static_cast<double>(v);
        int64_t back;
        // NUMERIC promises exact values (see sqlite_types.hpp); REAL columns accept rounding
        // like SQLite's own REAL affinity does.
        return kind != ColumnKind::kNumeric || (DoubleToInt64(*out, &back) && back == v);
      }
      case SQLITE_FLOAT: *out = sqlite3_value_double(value); return true;
      case SQLITE_TEXT: return ParseDouble(Text(value), out);
      default: return false;
    }
  }

  void AppendConverted(Column& column, sqlite3_value* value, int storage) {
    int64_t v = 0;
    double d = 0;
    switch (column.spec.kind) {
      case ColumnKind::kBoolean: {
        if (ToInt64(value, storage, &v) && (v == 0 || v == 1)) {
          return As<arrow::BooleanBuilder>(column).Append(v == 1);
        }
        if (storage == SQLITE_TEXT) {
          std::string lower(Text(value));
          for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          if (lower == "true" || lower == "false") {
            return As<arrow::BooleanBuilder>(column).Append(lower == "true");
          }
        }
        break;
      }
      case ColumnKind::kInt64:
        if (ToInt64(value, storage, &v)) return As<arrow::Int64Builder>(column).Append(v);
        break;
      case ColumnKind::kFloat64:
      case ColumnKind::kNumeric:
        if (ToDouble(column.spec.kind, value, storage, &d)) {
          return As<arrow::Float64Builder>(column).Append(d);
        }
        break;
      case ColumnKind::kDecimal: {
        // AppendCell took INTEGERs in range and REALs exact at the column's scale; a REAL
        // with more digits is formatted and parsed (rounding the way the text path always
        // did), as is TEXT.
        __int128 unscaled;
        const auto& type = column.spec.type;
        if ((storage == SQLITE_FLOAT || storage == SQLITE_TEXT) &&
            ParseDecimal(Text(value), type.precision, type.scale, &unscaled)) {
          return As<arrow::Decimal128Builder>(column).Append(unscaled);
        }
        break;
      }
      case ColumnKind::kString:
        // A number's text form (SQLite's own formatting) is ASCII, so no UTF-8 check.
        if (storage == SQLITE_INTEGER || storage == SQLITE_FLOAT) {
          return As<arrow::VarBinaryBuilder>(column).Append(Text(value));
        }
        break;
      case ColumnKind::kBinary:
        if (storage == SQLITE_TEXT) return As<arrow::VarBinaryBuilder>(column).Append(Text(value));
        break;
      case ColumnKind::kDate: {
        // AppendCell took TEXT dates. Numbers as SQLite's date functions produce them:
        // unixepoch() seconds or julianday(); only exact midnights, a time of day would be lost.
        if (storage == SQLITE_INTEGER) {
          v = sqlite3_value_int64(value);
          const int64_t days = v / kSecondsPerDay;
          if (v % kSecondsPerDay == 0 && days <= std::numeric_limits<int32_t>::max() &&
              days >= std::numeric_limits<int32_t>::min()) {
            return As<arrow::Date32Builder>(column).Append(static_cast<int32_t>(days));
          }
        }
        if (storage == SQLITE_FLOAT && JulianDayToUnixMillis(sqlite3_value_double(value), &v) &&
            v % (kSecondsPerDay * 1000) == 0) {
          return As<arrow::Date32Builder>(column).Append(
              static_cast<int32_t>(v / (kSecondsPerDay * 1000)));
        }
        break;
      }
      case ColumnKind::kTimestamp:
        if (storage == SQLITE_TEXT && ParseTimestamp(Text(value), &v)) {
          return As<arrow::TemporalBuilder>(column).Append(v);
        }
        if (storage == SQLITE_INTEGER) {  // unixepoch() seconds
          v = sqlite3_value_int64(value);
          constexpr int64_t kLimit = std::numeric_limits<int64_t>::max() / kMicrosPerSecond;
          if (v <= kLimit && v >= -kLimit) {
            return As<arrow::TemporalBuilder>(column).Append(v * kMicrosPerSecond);
          }
        }
        if (storage == SQLITE_FLOAT && JulianDayToUnixMillis(sqlite3_value_double(value), &v)) {
          return As<arrow::TemporalBuilder>(column).Append(v * 1000);
        }
        break;
      case ColumnKind::kTime:
        if (storage == SQLITE_TEXT && ParseTime(Text(value), &v)) {
          return As<arrow::TemporalBuilder>(column).Append(v);
        }
        if (storage == SQLITE_INTEGER) {  // seconds since midnight
          v = sqlite3_value_int64(value);
          if (v >= 0 && v < kSecondsPerDay) {
            return As<arrow::TemporalBuilder>(column).Append(v * kMicrosPerSecond);
          }
        }
        break;
      case ColumnKind::kPending:
      case ColumnKind::kNull:
        break;
    }
    Fail(column, value, storage);
  }

  static std::string Where(const Column& column, int64_t row) {
    std::string where = "column '" + column.name + "'";
    if (!column.db_type.empty()) where += " (" + column.db_type + ")";
    return where + " row index " + std::to_string(row);
  }

  [[noreturn]] void Fail(const Column& column, sqlite3_value* value, int storage) {
    std::string preview;
    if (storage == SQLITE_BLOB) {
      preview = std::to_string(sqlite3_value_bytes(value)) + "-byte blob";
    } else {
      // A bounded, printable preview: the message must itself be valid UTF-8.
      const std::string_view text = Text(value);
      for (char c : text.substr(0, 40)) preview.push_back(c >= 0x20 && c < 0x7f ? c : '?');
      if (text.size() > 40) preview += "...";
      preview = "'" + preview + "'";
    }
    throw DbError(ErrorKind::kDataConversion,
                  Where(column, row_) + ": cannot convert " + StorageName(storage) + " value " +
                      preview + " to " + column.spec.type.ToString());
  }

  void CheckUtf8(const Column& column) const {
    if (column.spec.kind != ColumnKind::kString) return;
    const int64_t bad = As<arrow::VarBinaryBuilder>(column).FindInvalidUtf8();
    if (bad < 0) return;
    throw DbError(ErrorKind::kDataConversion,
                  Where(column, batch_start_ + bad) +
                      ": invalid UTF-8 in TEXT value (read it as BLOB, e.g. CAST(" + column.name +
                      " AS BLOB), to get the bytes)");
  }

  void FinishBatch() {
    for (const Column& column : columns_) CheckUtf8(column);
    auto data = std::make_unique<BatchData>();
    data->children.resize(columns_.size(), ArrowArray{});
    for (size_t k = 0; k < columns_.size(); ++k) {
      columns_[k].builder->Finish(&data->children[k]);
      data->child_pointers.push_back(&data->children[k]);
      ReserveData(columns_[k]);
    }
    ArrowArray array{};
    array.length = row_ - batch_start_;
    array.n_buffers = 1;
    array.n_children = static_cast<int64_t>(columns_.size());
    array.buffers = data->buffers;
    array.children = data->child_pointers.data();
    array.release = &ReleaseBatch;
    array.private_data = data.release();
    batches_.emplace_back(array);
    batch_start_ = row_;
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int64_t batch_rows_;
  std::vector<Column> columns_;
  std::vector<RecordBatch> batches_;
  int64_t row_ = 0;          // rows read so far (the index of the row being read)
  int64_t batch_start_ = 0;  // row index where the current batch began
  int pending_columns_ = 0;
};

}  // namespace

QueryResult ReadResult(sqlite3* db, sqlite3_stmt* stmt, int64_t batch_rows) {
  return Reader(db, stmt, batch_rows).Run();
}

}  // namespace dbpool::sqlite
