// Row loop of the SQLite driver: one switch per cell straight into the column builders;
// the common cases (storage class matches the column type, DECIMAL from INTEGER/REAL, ISO
// TEXT dates) are handled inline, the rest in AppendConverted. Cells come from the live
// statement, or, past the first rows of a large result, from a Stepper's staged chunks.
#include "drivers/sqlite/sqlite_reader.hpp"

#include <cctype>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "arrow/builder.hpp"
#include "drivers/sqlite/sqlite_convert.hpp"
#include "drivers/sqlite/sqlite_error.hpp"
#include "drivers/sqlite/sqlite_stage.hpp"
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

// Asked once: the answer costs a system call, and every query asks.
bool HasSecondCore() {
  static const bool second_core = std::thread::hardware_concurrency() > 1;
  return second_core;
}

// A cell of the live statement. One column_value per cell, then the value_* accessors:
// each column_* call would repeat the statement's bounds and error bookkeeping (a quarter
// of the row loop's time).
struct LiveCell {
  sqlite3_value* value;
  int storage;

  LiveCell(sqlite3_stmt* stmt, int column)
      : value(sqlite3_column_value(stmt, column)), storage(sqlite3_value_type(value)) {}
  int64_t Integer() const { return sqlite3_value_int64(value); }
  double Real() const { return sqlite3_value_double(value); }
  // Of TEXT, or SQLite's text of a number. value_text before value_bytes: the order SQLite
  // documents as conversion-safe.
  std::string_view Text() const {
    const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(value));
    if (text == nullptr) return {};
    return std::string_view(text, sqlite3_value_bytes(value));
  }
  std::string_view Blob() const {
    const auto* data = static_cast<const char*>(sqlite3_value_blob(value));
    if (data == nullptr) return {"", 0};  // an empty blob
    return std::string_view(data, sqlite3_value_bytes(value));
  }
};

// A cell a Stepper staged. A number's text is formatted here the way SQLite formats it
// for sqlite3_value_text ("%lld", "%!.15g"), so the stepping thread never has to.
struct StagedCell {
  const StagedSlot& slot;
  const char* bytes;
  int storage;
  mutable char number_text[32];  // left uninitialised: most cells never format a number

  StagedCell(const StagedSlot& slot, const char* bytes, int storage)
      : slot(slot), bytes(bytes), storage(storage) {}
  int64_t Integer() const { return slot.integer; }
  double Real() const { return slot.real; }
  std::string_view Text() const {
    if (storage == SQLITE_INTEGER) {
      sqlite3_snprintf(sizeof number_text, number_text, "%lld",
                       static_cast<sqlite3_int64>(slot.integer));
      return number_text;
    }
    if (storage == SQLITE_FLOAT) {
      sqlite3_snprintf(sizeof number_text, number_text, "%!.15g", slot.real);
      return number_text;
    }
    return std::string_view(bytes + slot.offset, slot.size);
  }
  std::string_view Blob() const { return std::string_view(bytes + slot.offset, slot.size); }
};

}  // namespace

// Everything BatchReader keeps between calls; BatchReader is its public face.
class ReaderState {
 public:
  ReaderState(sqlite3* db, sqlite3_stmt* stmt, int64_t batch_rows, int64_t pipeline_after_rows)
      : db_(db),
        stmt_(stmt),
        batch_rows_(batch_rows),
        pipeline_after_rows_(HasSecondCore() ? pipeline_after_rows : -1) {
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
  }

  std::optional<RecordBatch> Next() {
    while (!done_) {
      if (!(stepper_ ? ReadStagedRow() : ReadLiveRow())) {
        done_ = true;
        break;
      }
      ++row_;
      if (row_ - batch_start_ >= batch_rows_ && pending_columns_ == 0) {
        RecordBatch batch = FinishBatch();
        // A full batch suggests more will follow: size the next one in one step.
        for (Column& column : columns_) column.builder->Reserve(batch_rows_);
        return batch;
      }
    }
    stepper_.reset();  // the statement is done: no thread left behind
    for (Column& column : columns_) {
      if (column.spec.kind != ColumnKind::kPending) continue;
      SetSpec(column, NullSpec());
      for (int64_t k = 0; k < column.pending_nulls; ++k) column.builder->AppendNull();
      column.pending_nulls = 0;
      --pending_columns_;
    }
    if (row_ > batch_start_) return FinishBatch();
    return std::nullopt;
  }

  arrow::Schema schema() const {
    arrow::Schema schema;
    for (const Column& column : columns_) {
      arrow::Field field{column.name, column.spec.type, true, {}};
      if (!column.db_type.empty()) field.metadata.emplace_back("dbpool.db_type", column.db_type);
      schema.push_back(std::move(field));
    }
    return schema;
  }

 private:
  // Steps and appends one row on this thread; false at the end of the statement.
  bool ReadLiveRow() {
    if (row_ == pipeline_after_rows_) {
      StartPipeline();
      return ReadStagedRow();
    }
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_DONE) return false;
    if (rc != SQLITE_ROW) throw MakeError(db_, rc);
    for (size_t i = 0; i < columns_.size(); ++i) {
      AppendCell(columns_[i], LiveCell(stmt_, static_cast<int>(i)));
    }
    return true;
  }

  // Appends the next staged row; false after the last.
  bool ReadStagedRow() {
    if (chunk_ == nullptr || chunk_row_ == chunk_->rows) {
      chunk_ = stepper_->Take();
      chunk_row_ = 0;
      if (chunk_ == nullptr) return false;
    }
    const size_t base = static_cast<size_t>(chunk_row_++) * columns_.size();
    const char* bytes = chunk_->bytes.get();
    for (size_t i = 0; i < columns_.size(); ++i) {
      AppendCell(columns_[i], StagedCell(chunk_->slots[base + i], bytes, chunk_->storage[base + i]));
    }
    return true;
  }

  void StartPipeline() { stepper_ = std::make_unique<Stepper>(db_, stmt_); }

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

  template <typename Cell>
  void AppendCell(Column& column, const Cell& cell) {
    const int storage = cell.storage;
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
        if (storage == SQLITE_INTEGER) return As<arrow::Int64Builder>(column).Append(cell.Integer());
        break;
      case ColumnKind::kFloat64:
        if (storage == SQLITE_FLOAT) return As<arrow::Float64Builder>(column).Append(cell.Real());
        break;
      case ColumnKind::kString:
        // UTF-8 is checked once per batch (FinishBatch), not per value.
        if (storage == SQLITE_TEXT) return As<arrow::VarBinaryBuilder>(column).Append(cell.Text());
        break;
      case ColumnKind::kBinary:
        if (storage == SQLITE_BLOB) return As<arrow::VarBinaryBuilder>(column).Append(cell.Blob());
        break;
      case ColumnKind::kDecimal: {
        // The common storage of a DECIMAL column (SQLite's NUMERIC affinity): an INTEGER,
        // or a REAL that is exactly a decimal of the column's scale. Others: AppendConverted.
        const auto& type = column.spec.type;
        __int128 unscaled;
        if (storage == SQLITE_INTEGER
                ? IntToDecimal(cell.Integer(), type.precision, type.scale, &unscaled)
                : storage == SQLITE_FLOAT &&
                      DoubleToDecimalFast(cell.Real(), type.precision, type.scale, &unscaled)) {
          return As<arrow::Decimal128Builder>(column).Append(unscaled);
        }
        break;
      }
      case ColumnKind::kDate: {
        int32_t days;
        if (storage == SQLITE_TEXT && ParseDate(cell.Text(), &days)) {
          return As<arrow::Date32Builder>(column).Append(days);
        }
        break;
      }
      default:
        break;
    }
    AppendConverted(column, cell);
  }

  void Resolve(Column& column, int storage) {
    SetSpec(column, SpecFromStorageClass(storage));
    for (int64_t k = 0; k < column.pending_nulls; ++k) column.builder->AppendNull();
    column.pending_nulls = 0;
    --pending_columns_;
  }

  template <typename Cell>
  static bool ToInt64(const Cell& cell, int64_t* out) {
    switch (cell.storage) {
      case SQLITE_INTEGER: *out = cell.Integer(); return true;
      case SQLITE_FLOAT: return DoubleToInt64(cell.Real(), out);
      case SQLITE_TEXT: return ParseInt64(cell.Text(), out);
      default: return false;
    }
  }

  template <typename Cell>
  static bool ToDouble(ColumnKind kind, const Cell& cell, double* out) {
    switch (cell.storage) {
      case SQLITE_INTEGER: {
        const int64_t v = cell.Integer();
        *out = static_cast<double>(v);
        int64_t back;
        // NUMERIC promises exact values (see sqlite_types.hpp); REAL columns accept rounding
        // like SQLite's own REAL affinity does.
        return kind != ColumnKind::kNumeric || (DoubleToInt64(*out, &back) && back == v);
      }
      case SQLITE_FLOAT: *out = cell.Real(); return true;
      case SQLITE_TEXT: return ParseDouble(cell.Text(), out);
      default: return false;
    }
  }

  template <typename Cell>
  void AppendConverted(Column& column, const Cell& cell) {
    const int storage = cell.storage;
    int64_t v = 0;
    double d = 0;
    switch (column.spec.kind) {
      case ColumnKind::kBoolean: {
        if (ToInt64(cell, &v) && (v == 0 || v == 1)) {
          return As<arrow::BooleanBuilder>(column).Append(v == 1);
        }
        if (storage == SQLITE_TEXT) {
          std::string lower(cell.Text());
          for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          if (lower == "true" || lower == "false") {
            return As<arrow::BooleanBuilder>(column).Append(lower == "true");
          }
        }
        break;
      }
      case ColumnKind::kInt64:
        if (ToInt64(cell, &v)) return As<arrow::Int64Builder>(column).Append(v);
        break;
      case ColumnKind::kFloat64:
      case ColumnKind::kNumeric:
        if (ToDouble(column.spec.kind, cell, &d)) {
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
            ParseDecimal(cell.Text(), type.precision, type.scale, &unscaled)) {
          return As<arrow::Decimal128Builder>(column).Append(unscaled);
        }
        break;
      }
      case ColumnKind::kString:
        // A number's text form (SQLite's own formatting) is ASCII, so no UTF-8 check.
        if (storage == SQLITE_INTEGER || storage == SQLITE_FLOAT) {
          return As<arrow::VarBinaryBuilder>(column).Append(cell.Text());
        }
        break;
      case ColumnKind::kBinary:
        if (storage == SQLITE_TEXT) return As<arrow::VarBinaryBuilder>(column).Append(cell.Text());
        break;
      case ColumnKind::kDate: {
        // AppendCell took TEXT dates. Numbers as SQLite's date functions produce them:
        // unixepoch() seconds or julianday(); only exact midnights, a time of day would be lost.
        if (storage == SQLITE_INTEGER) {
          v = cell.Integer();
          const int64_t days = v / kSecondsPerDay;
          if (v % kSecondsPerDay == 0 && days <= std::numeric_limits<int32_t>::max() &&
              days >= std::numeric_limits<int32_t>::min()) {
            return As<arrow::Date32Builder>(column).Append(static_cast<int32_t>(days));
          }
        }
        if (storage == SQLITE_FLOAT && JulianDayToUnixMillis(cell.Real(), &v) &&
            v % (kSecondsPerDay * 1000) == 0) {
          return As<arrow::Date32Builder>(column).Append(
              static_cast<int32_t>(v / (kSecondsPerDay * 1000)));
        }
        break;
      }
      case ColumnKind::kTimestamp:
        if (storage == SQLITE_TEXT && ParseTimestamp(cell.Text(), &v)) {
          return As<arrow::TemporalBuilder>(column).Append(v);
        }
        if (storage == SQLITE_INTEGER) {  // unixepoch() seconds
          v = cell.Integer();
          constexpr int64_t kLimit = std::numeric_limits<int64_t>::max() / kMicrosPerSecond;
          if (v <= kLimit && v >= -kLimit) {
            return As<arrow::TemporalBuilder>(column).Append(v * kMicrosPerSecond);
          }
        }
        if (storage == SQLITE_FLOAT && JulianDayToUnixMillis(cell.Real(), &v)) {
          return As<arrow::TemporalBuilder>(column).Append(v * 1000);
        }
        break;
      case ColumnKind::kTime:
        if (storage == SQLITE_TEXT && ParseTime(cell.Text(), &v)) {
          return As<arrow::TemporalBuilder>(column).Append(v);
        }
        if (storage == SQLITE_INTEGER) {  // seconds since midnight
          v = cell.Integer();
          if (v >= 0 && v < kSecondsPerDay) {
            return As<arrow::TemporalBuilder>(column).Append(v * kMicrosPerSecond);
          }
        }
        break;
      case ColumnKind::kPending:
      case ColumnKind::kNull:
        break;
    }
    Fail(column, cell);
  }

  static std::string Where(const Column& column, int64_t row) {
    std::string where = "column '" + column.name + "'";
    if (!column.db_type.empty()) where += " (" + column.db_type + ")";
    return where + " row index " + std::to_string(row);
  }

  template <typename Cell>
  [[noreturn]] void Fail(const Column& column, const Cell& cell) {
    std::string preview;
    switch (cell.storage) {
      case SQLITE_BLOB:
        preview = std::to_string(cell.Blob().size()) + "-byte blob";
        break;
      case SQLITE_INTEGER:
        preview = std::to_string(cell.Integer());
        break;
      case SQLITE_FLOAT: {
        char text[32];
        std::snprintf(text, sizeof text, "%.15g", cell.Real());  // SQLite's precision
        preview = text;
        break;
      }
      default: {
        // A bounded, printable preview: the message must itself be valid UTF-8.
        const std::string_view text = cell.Text();
        for (char c : text.substr(0, 40)) preview.push_back(c >= 0x20 && c < 0x7f ? c : '?');
        if (text.size() > 40) preview += "...";
        preview = "'" + preview + "'";
      }
    }
    throw DbError(ErrorKind::kDataConversion,
                  Where(column, row_) + ": cannot convert " + StorageName(cell.storage) +
                      " value " + preview + " to " + column.spec.type.ToString());
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

  RecordBatch FinishBatch() {
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
    batch_start_ = row_;
    return RecordBatch(array);
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int64_t batch_rows_;
  int64_t pipeline_after_rows_;  // -1: never
  std::vector<Column> columns_;
  int64_t row_ = 0;          // rows read so far (the index of the row being read)
  int64_t batch_start_ = 0;  // row index where the current batch began
  int pending_columns_ = 0;
  bool done_ = false;
  std::unique_ptr<Stepper> stepper_;  // last: destroyed (stopped, joined) first
  const StageChunk* chunk_ = nullptr;
  int64_t chunk_row_ = 0;
};

BatchReader::BatchReader(sqlite3* db, sqlite3_stmt* stmt, int64_t batch_rows,
                         int64_t pipeline_after_rows)
    : state_(std::make_unique<ReaderState>(db, stmt, batch_rows, pipeline_after_rows)) {}

BatchReader::~BatchReader() = default;

std::optional<RecordBatch> BatchReader::Next() { return state_->Next(); }

arrow::Schema BatchReader::schema() const { return state_->schema(); }

QueryResult ReadResult(sqlite3* db, sqlite3_stmt* stmt, int64_t batch_rows,
                       int64_t pipeline_after_rows) {
  BatchReader reader(db, stmt, batch_rows, pipeline_after_rows);
  QueryResult result;
  while (std::optional<RecordBatch> batch = reader.Next()) result.batches.push_back(std::move(*batch));
  result.schema = reader.schema();
  return result;
}

}  // namespace dbpool::sqlite
