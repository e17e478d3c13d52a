// Wire values -> builders: one decoder function per type, chosen once per column; arrays
// recursively; whole PGresults column by column.
#include "drivers/postgresql/pg_reader.hpp"

#include <algorithm>
#include <bit>
#include <optional>
#include <string>
#include <utility>

#include "arrow/utf8.hpp"
#include "dbpool/error.hpp"
#include "drivers/postgresql/pg_decode.hpp"

namespace dbpool::pg {
namespace {

using arrow::ArrayBuilder;
using arrow::VarBinaryBuilder;

constexpr int32_t kMaxArrayDims = 6;  // MAXDIM in PostgreSQL's utils/array.h

template <typename B>
B& As(ArrayBuilder& builder) {
  return static_cast<B&>(builder);
}

constexpr const char* kInvalidUtf8 = "text is not valid UTF-8 (is client_encoding UTF8?)";

// Text checked as UTF-8 here (kCheck) or by the caller afterwards (ValueBatches).
template <bool kCheck>
void AppendText(const char* data, int32_t size, ArrayBuilder& builder) {
  if (kCheck && !arrow::IsValidUtf8(data, static_cast<size_t>(size))) {
    throw DecodeError(kInvalidUtf8);
  }
  As<VarBinaryBuilder>(builder).Append(data, static_cast<size_t>(size));
}

// One decoder per Decode value. Each is looked up once per column (DecoderFor) and then
// called for every value, by the PGresult reader and the COPY reader alike.

void DecodeBool(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  ExpectSize(size, 1, "bool");
  As<arrow::BooleanBuilder>(builder).Append(data[0] != 0);
}

void DecodeInt16(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  ExpectSize(size, 2, "int2");
  As<arrow::Int16Builder>(builder).Append(LoadI16(data));
}

void DecodeInt32(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  ExpectSize(size, 4, "int4");
  As<arrow::Int32Builder>(builder).Append(LoadI32(data));
}

void DecodeInt64(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  ExpectSize(size, 8, "int8");
  As<arrow::Int64Builder>(builder).Append(LoadI64(data));
}

void DecodeUInt32(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  ExpectSize(size, 4, "oid");
  As<arrow::UInt32Builder>(builder).Append(LoadU32(data));
}

void DecodeUInt64(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  ExpectSize(size, 8, "xid8");
  As<arrow::UInt64Builder>(builder).Append(LoadU64(data));
}

void DecodeFloat32(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  ExpectSize(size, 4, "float4");
  As<arrow::Float32Builder>(builder).Append(std::bit_cast<float>(LoadU32(data)));
}

void DecodeFloat64(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  ExpectSize(size, 8, "float8");
  As<arrow::Float64Builder>(builder).Append(std::bit_cast<double>(LoadU64(data)));
}

void DecodeNumericDecimal(const ColumnPlan& plan, const char* data, int32_t size,
                          ArrayBuilder& builder) {
  As<arrow::Decimal128Builder>(builder).Append(
      NumericToDecimal(data, size, plan.field.type.precision, plan.field.type.scale));
}

void DecodeNumericText(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  As<VarBinaryBuilder>(builder).Append(NumericToText(data, size));
}

void DecodeMoney(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  // Cents (see TypeFor in pg_types.cpp) -> 4 decimal places.
  ExpectSize(size, 8, "money");
  As<arrow::Decimal128Builder>(builder).Append(static_cast<__int128>(LoadI64(data)) * 100);
}

template <bool kCheck = true>
void DecodeText(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  AppendText<kCheck>(data, size, builder);
}

void DecodeBytes(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  As<VarBinaryBuilder>(builder).Append(data, static_cast<size_t>(size));
}

template <bool kCheck = true>
void DecodeVersionedText(const ColumnPlan&, const char* data, int32_t size,
                         ArrayBuilder& builder) {
  // jsonb_send / jsonpath_send prefix the text with format version 1.
  if (size < 1 || data[0] != 1) throw DecodeError("unsupported jsonb/jsonpath wire version");
  AppendText<kCheck>(data + 1, size - 1, builder);
}

void DecodeDate(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  As<arrow::Date32Builder>(builder).Append(DateToArrow(data, size));
}

void DecodeTime(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  ExpectSize(size, 8, "time");
  As<arrow::TemporalBuilder>(builder).Append(LoadI64(data));
}

void DecodeTimeTz(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  As<arrow::TemporalBuilder>(builder).Append(TimeTzToUtc(data, size));
}

void DecodeTimestamp(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  As<arrow::TemporalBuilder>(builder).Append(TimestampToArrow(data, size));
}

void DecodeInterval(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  // interval_send: int64 microseconds, int32 days, int32 months; kept exactly as the
  // struct {months, days, microseconds} (see pg_interval.hpp for the Duration form).
  ExpectSize(size, 16, "interval");
  auto& parts = As<arrow::StructBuilder>(builder);
  parts.child_as<arrow::Int32Builder>(0).Append(LoadI32(data + 12));
  parts.child_as<arrow::Int32Builder>(1).Append(LoadI32(data + 8));
  parts.child_as<arrow::Int64Builder>(2).Append(LoadI64(data));
  parts.Append();
}

void DecodeUuid(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  auto& strings = As<VarBinaryBuilder>(builder);
  FormatUuid(data, size, strings.ReserveValue(36));
  strings.CommitValue(36);
}

void DecodeInet(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  As<VarBinaryBuilder>(builder).Append(InetToText(data, size));
}

void DecodeMacaddr(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  As<VarBinaryBuilder>(builder).Append(MacToText(data, size, 6));
}

void DecodeMacaddr8(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  As<VarBinaryBuilder>(builder).Append(MacToText(data, size, 8));
}

void DecodeBits(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  As<VarBinaryBuilder>(builder).Append(BitsToText(data, size));
}

void DecodePgLsn(const ColumnPlan&, const char* data, int32_t size, ArrayBuilder& builder) {
  As<VarBinaryBuilder>(builder).Append(PgLsnToText(data, size));
}

void DecodeVoid(const ColumnPlan&, const char*, int32_t, ArrayBuilder& builder) {
  builder.AppendNull();
}

void DecodeArray(const ColumnPlan& plan, const char* data, int32_t size, ArrayBuilder& builder) {
  // array_send: ndim, has-nulls flag, element OID, (size, lower bound) per dimension, then
  // each element as a length (-1 = NULL) and its bytes.
  auto& list = As<arrow::ListBuilder>(builder);
  if (size < 12) throw DecodeError("array value has " + std::to_string(size) + " bytes");
  int32_t ndim = LoadI32(data);
  if (ndim == 0) {  // '{}' is sent with no dimensions at all
    list.CloseList();
    return;
  }
  if (ndim < 0 || ndim > kMaxArrayDims) throw DecodeError("array value has an invalid header");
  if (ndim > 1) {
    // The Arrow type comes from the column metadata, which does not say how many
    // dimensions the values have, so only one-dimensional values fit List<T>.
    throw DecodeError(std::to_string(ndim) +
                      "-dimensional array: only one-dimensional arrays map to List; "
                      "unnest it, or cast it with ::text");
  }
  if (size < 20) throw DecodeError("array value is truncated");
  int32_t count = LoadI32(data + 12);
  if (count < 0) throw DecodeError("array value has a negative length");
  const ColumnPlan& element = plan.element.front();
  const ValueDecoder decode = DecoderFor(element);
  ArrayBuilder& values = list.values();
  int64_t offset = 20;
  for (int32_t i = 0; i < count; ++i) {
    if (offset + 4 > size) throw DecodeError("array value is truncated");
    int32_t length = LoadI32(data + offset);
    offset += 4;
    if (length == -1) {
      values.AppendNull();
      continue;
    }
    if (length < 0 || length > size - offset) throw DecodeError("array element is truncated");
    decode(element, data + offset, length, values);
    offset += length;
  }
  if (offset != size) throw DecodeError("array value has trailing bytes");
  list.CloseList();
}

void DecodeUnknown(const ColumnPlan&, const char*, int32_t, ArrayBuilder&) {
  throw DecodeError("no decoder for this type");
}

// Text and bytes columns: one pass over the lengths sizes the data buffer once.
void ReserveData(const PGresult* result, int column, int begin, int end,
                 VarBinaryBuilder& builder) {
  int64_t total = 0;
  for (int row = begin; row < end; ++row) total += PQgetlength(result, row, column);
  builder.ReserveData(total);
}

// A value of column `column` in rows [begin, end) that failed to decode: its row and why.
struct ColumnFailure {
  int row;
  DecodeError error;
};

std::optional<ColumnFailure> ReadColumn(const PGresult* result, int column,
                                        const ColumnPlan& plan, int begin, int end,
                                        ArrayBuilder& builder) {
  if (plan.decode == Decode::kText || plan.decode == Decode::kBytes) {
    ReserveData(result, column, begin, end, As<VarBinaryBuilder>(builder));
  }
  const ValueDecoder decode = DecoderFor(plan);
  int row = begin;
  try {
    for (; row < end; ++row) {
      if (PQgetisnull(result, row, column)) {
        builder.AppendNull();
        continue;
      }
      decode(plan, PQgetvalue(result, row, column), PQgetlength(result, row, column), builder);
    }
  } catch (const DecodeError& e) {
    return ColumnFailure{row, e};
  }
  return std::nullopt;
}

}  // namespace

ValueDecoder DecoderFor(const ColumnPlan& plan) {
  switch (plan.decode) {
    case Decode::kBool: return &DecodeBool;
    case Decode::kInt16: return &DecodeInt16;
    case Decode::kInt32: return &DecodeInt32;
    case Decode::kInt64: return &DecodeInt64;
    case Decode::kUInt32: return &DecodeUInt32;
    case Decode::kUInt64: return &DecodeUInt64;
    case Decode::kFloat32: return &DecodeFloat32;
    case Decode::kFloat64: return &DecodeFloat64;
    case Decode::kNumericDecimal: return &DecodeNumericDecimal;
    case Decode::kNumericText: return &DecodeNumericText;
    case Decode::kMoney: return &DecodeMoney;
    case Decode::kText: return &DecodeText<>;
    case Decode::kBytes: return &DecodeBytes;
    case Decode::kVersionedText: return &DecodeVersionedText<>;
    case Decode::kDate: return &DecodeDate;
    case Decode::kTime: return &DecodeTime;
    case Decode::kTimeTz: return &DecodeTimeTz;
    case Decode::kTimestamp: return &DecodeTimestamp;
    case Decode::kInterval: return &DecodeInterval;
    case Decode::kUuid: return &DecodeUuid;
    case Decode::kInet: return &DecodeInet;
    case Decode::kMacaddr: return &DecodeMacaddr;
    case Decode::kMacaddr8: return &DecodeMacaddr8;
    case Decode::kBits: return &DecodeBits;
    case Decode::kPgLsn: return &DecodePgLsn;
    case Decode::kVoid: return &DecodeVoid;
    case Decode::kArray: return &DecodeArray;
  }
  return &DecodeUnknown;
}

ValueBatches::ValueBatches(std::vector<ColumnPlan> plans, int64_t batch_rows,
                           int64_t batch_bytes)
    : plans_(std::move(plans)),
      builder_(SchemaOf(plans_)),
      batch_rows_(batch_rows > 0 ? batch_rows : kBatchRows),
      batch_bytes_(batch_bytes > 0 ? batch_bytes : kBatchBytes) {
  decoders_.reserve(plans_.size());
  columns_.reserve(plans_.size());
  for (size_t c = 0; c < plans_.size(); ++c) {
    const ColumnPlan& plan = plans_[c];
    columns_.push_back(&builder_.column(c));
    if (plan.decode == Decode::kText) {
      decoders_.push_back(&DecodeText<false>);
      text_columns_.push_back(c);
    } else if (plan.decode == Decode::kVersionedText) {
      decoders_.push_back(&DecodeVersionedText<false>);
      text_columns_.push_back(c);
    } else {
      decoders_.push_back(DecoderFor(plan));
    }
  }
}

std::optional<DbError> ValueBatches::FirstInvalidText() const {
  // The earliest row, and in it the leftmost column: the value a check per value would have
  // stopped at. Only the values appended so far are seen (in the row being decoded, those
  // left of the column that failed).
  int64_t best_row = -1;
  size_t best_column = 0;
  for (size_t c : text_columns_) {
    const int64_t bad = static_cast<const VarBinaryBuilder*>(columns_[c])->FindInvalidUtf8();
    if (bad >= 0 && (best_row < 0 || bad < best_row)) {
      best_row = bad;
      best_column = c;
    }
  }
  if (best_row < 0) return std::nullopt;
  return ConversionError(plans_[best_column], batch_start() + best_row, DecodeError(kInvalidUtf8));
}

DbError ValueBatches::Failure(size_t column, const DecodeError& error) const {
  if (std::optional<DbError> text = FirstInvalidText()) return std::move(*text);
  return ConversionError(plans_[column], total_rows_, error);
}

RecordBatch ValueBatches::TakeBatch() {
  if (std::optional<DbError> text = FirstInvalidText()) throw std::move(*text);
  const int64_t rows = builder_.num_rows();
  const bool full = rows >= batch_rows_;
  // After a full batch the result is big: size the next batch's buffers once (fixed-width
  // values exactly, strings from this batch's volume) instead of doubling them again.
  std::vector<int64_t> data_bytes;
  if (full) {
    data_bytes.resize(columns_.size(), 0);
    for (size_t c = 0; c < columns_.size(); ++c) {
      arrow::TypeId id = plans_[c].field.type.id;
      if (id == arrow::TypeId::kString || id == arrow::TypeId::kBinary) {
        // memory_bytes = offsets + data + validity; what is left after the offsets is
        // (a little more than) the data.
        data_bytes[c] = columns_[c]->memory_bytes() - 8 * (rows + 1);
      }
    }
  }
  RecordBatch batch = builder_.Finish();
  pending_bytes_ = 0;
  if (full) {
    builder_.Reserve(batch_rows_);
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (data_bytes[c] > 0) {
        static_cast<VarBinaryBuilder*>(columns_[c])->ReserveData(data_bytes[c] + data_bytes[c] / 16);
      }
    }
  }
  return batch;
}

void AppendValue(const ColumnPlan& plan, const char* data, int32_t size, ArrayBuilder& builder) {
  DecoderFor(plan)(plan, data, size, builder);
}

DbError ConversionError(const ColumnPlan& plan, int64_t row, const DecodeError& error) {
  return DbError(ErrorKind::kDataConversion, "column '" + plan.field.name + "' (row " +
                                                 std::to_string(row + 1) + "): " + error.what());
}

arrow::Schema SchemaOf(const std::vector<ColumnPlan>& plans) {
  arrow::Schema schema;
  schema.reserve(plans.size());
  for (const ColumnPlan& plan : plans) schema.push_back(plan.field);
  return schema;
}

std::vector<RecordBatch> ReadBatches(const PGresult* result, const std::vector<ColumnPlan>& plans,
                                     int batch_rows) {
  const int rows = PQntuples(result);
  const int columns = PQnfields(result);
  if (columns != static_cast<int>(plans.size())) {
    throw DbError(ErrorKind::kInternal, "result has " + std::to_string(columns) +
                                            " columns but " + std::to_string(plans.size()) +
                                            " plans");
  }
  for (int c = 0; c < columns; ++c) {
    // Every decoder reads the binary form; a text column here would be misread.
    if (PQfformat(result, c) != 1) {
      throw DbError(ErrorKind::kInternal, "column '" + plans[c].field.name +
                                              "' was not sent in binary format");
    }
  }
  std::vector<RecordBatch> batches;
  arrow::RecordBatchBuilder builder(SchemaOf(plans));
  // No rows, no batch: the schema alone describes an empty result.
  for (int begin = 0; begin < rows; begin += batch_rows) {
    int end = std::min(rows, begin + batch_rows);
    builder.Reserve(end - begin);
    // Column by column: each column's decoder and builder stay hot in cache. A value that
    // fails is reported as the row-by-row paths report it: the earliest row, and in it the
    // leftmost column, so the columns after a failure are read only up to its row.
    std::optional<DbError> failure;
    int limit = end;
    for (int c = 0; c < columns; ++c) {
      if (auto failed = ReadColumn(result, c, plans[c], begin, limit, builder.column(c))) {
        failure = ConversionError(plans[c], failed->row, failed->error);
        limit = failed->row;
      }
    }
    if (failure) throw std::move(*failure);
    for (int row = begin; row < end; ++row) builder.EndRow();
    batches.push_back(builder.Finish());
  }
  return batches;
}

}  // namespace dbpool::pg
