// ResultDecoder: InfluxDB /query MessagePack responses -> Arrow record batches.
#include "drivers/influxdb/influx_decoder.hpp"

#include <algorithm>
#include <utility>

#include "arrow/utf8.hpp"
#include "dbpool/error.hpp"

namespace dbpool::influxdb {
namespace {

using arrow::DataType;
using arrow::TypeId;

[[noreturn]] void Malformed(const std::string& what) {
  throw DbError(ErrorKind::kConnection, "InfluxDB: unexpected /query response: " + what);
}

const char* KindName(TypeId id) {
  switch (id) {
    case TypeId::kInt64: return "integer";
    case TypeId::kFloat64: return "float";
    case TypeId::kString: return "string";
    case TypeId::kBoolean: return "boolean";
    case TypeId::kTimestamp: return "time";
    default: return "other";
  }
}

DataType TypeFor(TypeId id) {
  if (id == TypeId::kTimestamp) return DataType::Timestamp(arrow::TimeUnit::kNano, "UTC");
  return DataType::Of(id);
}

}  // namespace

ResultDecoder::ResultDecoder(int64_t batch_rows) : batch_rows_(batch_rows) {}

size_t ResultDecoder::Feed(const char* data, size_t size, bool final) {
  size_t used = 0;
  // Re-probing an incomplete object costs its size; waiting until twice as many bytes are
  // there keeps the total linear in the response size.
  if (!final && size < 2 * last_incomplete_) return 0;
  while (used < size) {
    MsgReader probe(data + used, size - used);
    try {
      probe.Skip();
    } catch (const Incomplete&) {
      if (final) Malformed("the response ended inside a value");
      last_incomplete_ = size - used;
      return used;
    }
    MsgReader reader(data + used, probe.offset());
    try {
      DecodeObject(reader);
    } catch (const Incomplete&) {
      Malformed("a value ended early");
    }
    used += probe.offset();
    last_incomplete_ = 0;
    if (!error_.empty()) return used;
  }
  return used;
}

void ResultDecoder::DecodeObject(MsgReader& reader) {
  uint64_t n = reader.MapHeader("the response");
  for (uint64_t k = 0; k < n; ++k) {
    std::string_view key = reader.String("a response key");
    if (key == "results") {
      uint64_t results = reader.ArrayHeader("results");
      for (uint64_t i = 0; i < results; ++i) DecodeResult(reader);
    } else if (key == "error") {
      std::string_view text = reader.String("error");
      if (error_.empty()) error_ = std::string(text);
    } else {
      reader.Skip();
    }
  }
}

void ResultDecoder::DecodeResult(MsgReader& reader) {
  uint64_t n = reader.MapHeader("a statement result");
  for (uint64_t k = 0; k < n; ++k) {
    std::string_view key = reader.String("a result key");
    if (key == "series") {
      has_series_ = true;
      uint64_t series = reader.ArrayHeader("series");
      for (uint64_t i = 0; i < series; ++i) DecodeSeries(reader);
    } else if (key == "error") {
      std::string_view text = reader.String("error");
      if (error_.empty()) error_ = std::string(text);
    } else {
      reader.Skip();  // statement_id, partial, messages
    }
  }
}

void ResultDecoder::DecodeSeries(MsgReader& reader) {
  // Keys may come in any order: collect tags and columns, remember where values start.
  std::vector<std::pair<std::string_view, std::string_view>> tags;
  std::vector<std::string_view> names;
  size_t values_at = SIZE_MAX;
  uint64_t n = reader.MapHeader("a series");
  for (uint64_t k = 0; k < n; ++k) {
    std::string_view key = reader.String("a series key");
    if (key == "tags") {
      uint64_t count = reader.MapHeader("tags");
      for (uint64_t t = 0; t < count; ++t) {
        std::string_view tag = reader.String("a tag key");
        std::string_view value = reader.String("a tag value");
        tags.emplace_back(tag, value);
      }
    } else if (key == "columns") {
      uint64_t count = reader.ArrayHeader("columns");
      for (uint64_t c = 0; c < count; ++c) names.push_back(reader.String("a column name"));
    } else if (key == "values") {
      values_at = reader.offset();
      reader.Skip();
    } else {
      reader.Skip();  // name (the measurement), partial
    }
  }
  size_t end = reader.offset();
  // influxd encodes the tags map in Go's random map order: sort by key (as its JSON does)
  // so the frame's columns do not change from one query to the next.
  std::sort(tags.begin(), tags.end());

  // Column order of the frame: time first, then the GROUP BY tags by name, then the rest.
  std::vector<size_t> value_columns(names.size());
  std::vector<size_t> tag_columns(tags.size());
  for (size_t c = 0; c < names.size(); ++c) {
    if (c == 0 && names[c] == "time") value_columns[c] = ColumnFor(names[c], true);
  }
  for (size_t t = 0; t < tags.size(); ++t) tag_columns[t] = ColumnFor(tags[t].first, false);
  for (size_t c = 0; c < names.size(); ++c) {
    if (!(c == 0 && names[c] == "time")) value_columns[c] = ColumnFor(names[c], false);
  }
  std::vector<char> used(columns_.size(), 0);
  auto claim = [&](size_t column) {
    if (used[column]) {
      throw DbError(ErrorKind::kDataConversion,
                    "InfluxDB: column '" + columns_[column].name +
                        "' is both a tag and a field in one series; rename one with AS");
    }
    used[column] = 1;
  };
  for (size_t c : value_columns) claim(c);
  for (size_t c : tag_columns) claim(c);
  const bool all_columns = value_columns.size() + tag_columns.size() == columns_.size();

  if (values_at == SIZE_MAX) return;  // a series without rows
  reader.Seek(values_at);
  uint64_t rows = reader.ArrayHeader("values");
  for (uint64_t r = 0; r < rows; ++r) {
    uint64_t count = reader.ArrayHeader("a row");
    if (count != names.size()) Malformed("a row has " + std::to_string(count) + " values for " +
                                         std::to_string(names.size()) + " columns");
    for (size_t c = 0; c < names.size(); ++c) AppendValue(value_columns[c], reader.Next());
    for (size_t t = 0; t < tags.size(); ++t) {
      std::string_view value = tags[t].second;
      if (value.empty()) {
        AppendNull(tag_columns[t]);
      } else {
        MsgValue v;
        v.kind = MsgKind::kString;
        v.s = value;
        AppendValue(tag_columns[t], v);
      }
    }
    ++rows_;
    if (!all_columns) {
      for (size_t c = 0; c < columns_.size(); ++c) {
        if (Length(c) < rows_) AppendNull(c);
      }
    }
    if (batch_rows_ > 0 && rows_ >= batch_rows_) CutBatch();
  }
  reader.Seek(end);
}

size_t ResultDecoder::ColumnFor(std::string_view name, bool is_time) {
  auto it = index_.find(std::string(name));
  if (it != index_.end()) return it->second;
  if (schema_fixed_) {
    throw DbError(ErrorKind::kDataConversion,
                  "InfluxDB: column '" + std::string(name) +
                      "' first appears after the first streamed batch, whose schema is fixed; "
                      "select the columns by name, or query without streaming");
  }
  Column column;
  column.name = std::string(name);
  column.is_time = is_time;
  column.pending_nulls = rows_;  // NULL for the rows of earlier series in this batch
  columns_.push_back(std::move(column));
  builders_.emplace_back();
  index_.emplace(std::string(name), columns_.size() - 1);
  return columns_.size() - 1;
}

int64_t ResultDecoder::Length(size_t c) const {
  return columns_[c].typed ? builders_[c]->length() : columns_[c].pending_nulls;
}

void ResultDecoder::AppendNull(size_t c) {
  if (columns_[c].typed) {
    builders_[c]->AppendNull();
  } else {
    ++columns_[c].pending_nulls;
  }
}

void ResultDecoder::Type(size_t c, TypeId id) {
  Column& column = columns_[c];
  if (column.typed) {
    TypeId have = builders_[c]->type().id;
    if (have == id) return;
    std::string message = "InfluxDB: column '" + column.name + "' has " + KindName(have) +
                          " and " + KindName(id) + " values";
    if (column.defaulted) {
      message += " (it was NULL in every row of the first streamed batch, so it became String)";
    } else {
      message += " (the field's type differs between series, shards or measurements); cast it "
                 "in the query, e.g. SELECT \"" + column.name + "\"::float";
    }
    throw DbError(ErrorKind::kDataConversion, message);
  }
  builders_[c] = arrow::MakeBuilder(TypeFor(id));
  for (int64_t i = 0; i < column.pending_nulls; ++i) builders_[c]->AppendNull();
  column.pending_nulls = 0;
  column.typed = true;
}

void ResultDecoder::AppendValue(size_t c, const MsgValue& v) {
  switch (v.kind) {
    case MsgKind::kNil:
      AppendNull(c);
      return;
    case MsgKind::kInt:
      if (columns_[c].is_time) {
        Type(c, TypeId::kTimestamp);
        static_cast<arrow::TemporalBuilder&>(*builders_[c]).Append(v.i);
      } else {
        Type(c, TypeId::kInt64);
        static_cast<arrow::Int64Builder&>(*builders_[c]).Append(v.i);
      }
      return;
    case MsgKind::kFloat:
      Type(c, TypeId::kFloat64);
      static_cast<arrow::Float64Builder&>(*builders_[c]).Append(v.f);
      return;
    case MsgKind::kString:
      if (!arrow::IsValidUtf8(v.s.data(), v.s.size())) {
        throw DbError(ErrorKind::kDataConversion,
                      "InfluxDB: column '" + columns_[c].name + "': invalid UTF-8 in a string value");
      }
      Type(c, TypeId::kString);
      static_cast<arrow::VarBinaryBuilder&>(*builders_[c]).Append(v.s);
      return;
    case MsgKind::kBool:
      Type(c, TypeId::kBoolean);
      static_cast<arrow::BooleanBuilder&>(*builders_[c]).Append(v.b);
      return;
    case MsgKind::kUInt:
      throw DbError(ErrorKind::kDataConversion,
                    "InfluxDB: column '" + columns_[c].name + "': value " + std::to_string(v.u) +
                        " does not fit Int64");
    default:
      throw DbError(ErrorKind::kDataConversion,
                    "InfluxDB: column '" + columns_[c].name + "': unexpected nested value");
  }
}

void ResultDecoder::FixSchema() {
  if (schema_fixed_) return;
  for (size_t c = 0; c < columns_.size(); ++c) {
    if (!columns_[c].typed) {
      Type(c, columns_[c].is_time ? TypeId::kTimestamp : TypeId::kString);
      columns_[c].defaulted = !columns_[c].is_time;
    }
    schema_.push_back(arrow::Field{columns_[c].name, builders_[c]->type(), true, {}});
  }
  schema_fixed_ = true;
}

void ResultDecoder::CutBatch() {
  FixSchema();
  ready_.push_back(arrow::FinishBatch(schema_, builders_, rows_));
  rows_ = 0;
}

void ResultDecoder::Finish() {
  if (!schema_fixed_ || rows_ > 0) CutBatch();
}

std::vector<RecordBatch> ResultDecoder::TakeBatches() { return std::exchange(ready_, {}); }

}  // namespace dbpool::influxdb
