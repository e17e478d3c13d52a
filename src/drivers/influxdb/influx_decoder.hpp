// Decodes InfluxDB /query responses (MessagePack, possibly chunked: a sequence of response
// objects) straight into Arrow builders: every series of every statement becomes rows of
// one frame, with time as Timestamp(ns, "UTC"), tags as String and fields by value type.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "arrow/builder.hpp"
#include "dbpool/result.hpp"
#include "drivers/influxdb/influx_msgpack.hpp"

namespace dbpool::influxdb {

/// Incremental decoder of one /query response.
///
/// Column types come from MessagePack's value types (InfluxDB's JSON writes the float 3.0
/// as `3`, MessagePack keeps it a float): integer -> Int64, float -> Float64, string ->
/// String, bool -> Boolean; the "time" column -> Timestamp(ns, "UTC"); GROUP BY tags ->
/// String with "" (InfluxDB's "no such tag") as NULL. A column with integers and floats
/// (one field typed differently in two shards or measurements) is a DataConversionError
/// naming the column; a column NULL in every row of the first batch is String.
class ResultDecoder {
 public:
  /// `batch_rows` > 0: a batch is cut every batch_rows rows (streaming); <= 0: one batch.
  explicit ResultDecoder(int64_t batch_rows);

  /// Decodes every complete response object at the start of [data, data + size) and returns
  /// the bytes used; the rest is an incomplete object to pass again with more bytes after
  /// it. `final` = no more bytes will come (then a trailing incomplete object is an error).
  /// Throws DbError(kDataConversion) naming a column whose values do not fit its type.
  size_t Feed(const char* data, size_t size, bool final);

  /// The first error the server reported in the response ("" if none).
  const std::string& error() const { return error_; }
  /// True once any statement returned series (a SELECT or SHOW, even with zero rows).
  bool has_series() const { return has_series_; }

  /// Batches cut so far and not yet taken.
  std::vector<RecordBatch> TakeBatches();
  /// Ends the result: the rows left become the last batch (if any) and the schema is fixed.
  void Finish();
  bool schema_fixed() const { return schema_fixed_; }
  /// The schema (valid once schema_fixed()).
  const arrow::Schema& schema() const { return schema_; }

 private:
  struct Column {
    std::string name;
    bool is_time = false;
    bool typed = false;      // a builder exists (type learned, or defaulted to String)
    bool defaulted = false;  // typed String only because the first batch had only NULLs
    int64_t pending_nulls = 0;  // NULLs seen before the type was known
  };

  void DecodeObject(MsgReader& reader);
  void DecodeResult(MsgReader& reader);
  void DecodeSeries(MsgReader& reader);
  size_t ColumnFor(std::string_view name, bool is_time);
  int64_t Length(size_t column) const;
  void AppendValue(size_t column, const MsgValue& value);
  void AppendNull(size_t column);
  void Type(size_t column, arrow::TypeId id);
  void FixSchema();
  void CutBatch();

  int64_t batch_rows_;
  std::vector<Column> columns_;
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders_;  // parallel to columns_
  std::unordered_map<std::string, size_t> index_;
  arrow::Schema schema_;
  bool schema_fixed_ = false;
  int64_t rows_ = 0;  // rows in the batch being built
  std::vector<RecordBatch> ready_;
  std::string error_;
  bool has_series_ = false;
  size_t last_incomplete_ = 0;  // size of the last incomplete object (re-probed at 2x)
};

}  // namespace dbpool::influxdb
