// LineWriter: Arrow rows -> InfluxDB line protocol.
#include "drivers/influxdb/influx_line_protocol.hpp"

#include <charconv>
#include <cmath>

#include "dbpool/error.hpp"

namespace dbpool::influxdb {
namespace {

using arrow::ImportKind;

[[noreturn]] void RowError(int64_t index, const std::string& what) {
  throw DbError(ErrorKind::kDataConversion, "bulk_insert: row " + std::to_string(index) + ": " + what);
}

void AppendInt(int64_t v, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}

void AppendUInt(uint64_t v, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}

// A newline cannot be escaped in keys or tag values (it ends the line).
bool HasNewline(std::string_view text) {
  return text.find('\n') != std::string_view::npos || text.find('\r') != std::string_view::npos;
}

}  // namespace

void EscapeMeasurement(std::string_view text, std::string& out) {
  for (char c : text) {
    if (c == ',' || c == ' ') out.push_back('\\');
    out.push_back(c);
  }
}

void EscapeKey(std::string_view text, std::string& out) {
  for (char c : text) {
    if (c == ',' || c == '=' || c == ' ') out.push_back('\\');
    out.push_back(c);
  }
}

void QuoteString(std::string_view text, std::string& out) {
  out.push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

LineWriter::LineWriter(std::string_view measurement, const arrow::ImportedTable& table,
                       const BulkInsertOptions& options)
    : table_(table) {
  auto config_error = [](const std::string& what) {
    throw DbError(ErrorKind::kConfig, "bulk_insert: " + what);
  };
  if (measurement.empty()) config_error("the measurement name is empty");
  if (HasNewline(measurement)) config_error("the measurement name contains a newline");
  EscapeMeasurement(measurement, measurement_);
  if (!options.time_column.empty()) {
    time_ = table.Find(options.time_column);
    if (time_ < 0) config_error("time_column '" + options.time_column + "' is not a column");
    ImportKind kind = table.types()[time_].kind;
    if (kind != ImportKind::kTimestamp && kind != ImportKind::kDate32 && kind != ImportKind::kInt) {
      config_error("time_column '" + options.time_column + "' must be a Datetime, Date or integer "
                   "(nanoseconds) column, not Arrow '" + table.types()[time_].format + "'");
    }
  }
  for (size_t c = 0; c < table.names().size(); ++c) {
    ImportKind kind = table.types()[c].kind;
    if (kind == ImportKind::kBinary || kind == ImportKind::kDecimal) {
      throw DbError(ErrorKind::kDataConversion,
                    "bulk_insert: column '" + table.names()[c] + "': Arrow " +
                        (kind == ImportKind::kBinary ? "Binary" : "Decimal") +
                        " is not supported by InfluxDB line protocol (cast it to String or Float64)");
    }
  }
  std::vector<char> is_tag(table.names().size(), 0);
  for (const std::string& tag : options.tag_columns) {
    int c = table.Find(tag);
    if (c < 0) config_error("tag column '" + tag + "' is not a column");
    if (c == time_) config_error("column '" + tag + "' cannot be both the time and a tag");
    if (is_tag[c]) continue;
    ImportKind kind = table.types()[c].kind;
    if (kind == ImportKind::kFloat || kind == ImportKind::kTimestamp || kind == ImportKind::kDate32) {
      config_error("tag column '" + tag + "' must be a String, integer or Boolean column");
    }
    is_tag[c] = 1;
    tags_.push_back(static_cast<size_t>(c));
  }
  for (size_t c = 0; c < table.names().size(); ++c) {
    if (static_cast<int>(c) == time_ || is_tag[c]) continue;
    fields_.push_back(c);
  }
  if (fields_.empty()) config_error("no field columns (every column is a tag or the time)");
  for (size_t c : tags_) {
    const std::string& name = table.names()[c];
    if (name.empty() || HasNewline(name)) config_error("tag column name '" + name + "' is empty or has a newline");
    tag_keys_.emplace_back(",");
    EscapeKey(name, tag_keys_.back());
    tag_keys_.back().push_back('=');
  }
  for (size_t c : fields_) {
    const std::string& name = table.names()[c];
    if (name.empty() || HasNewline(name)) config_error("field column name '" + name + "' is empty or has a newline");
    field_keys_.emplace_back();
    EscapeKey(name, field_keys_.back());
    field_keys_.back().push_back('=');
  }
}

void LineWriter::Row(size_t batch, int64_t row, int64_t index, std::string& out) const {
  out += measurement_;
  for (size_t t = 0; t < tags_.size(); ++t) {
    arrow::ColumnView column = table_.Column(batch, tags_[t]);
    if (column.IsNull(row)) continue;  // a NULL tag is no tag
    std::string value;
    switch (column.type().kind) {
      case ImportKind::kString: value = std::string(column.String(row)); break;
      case ImportKind::kInt: AppendInt(column.Int(row), value); break;
      case ImportKind::kUInt: AppendUInt(column.UInt(row), value); break;
      case ImportKind::kBoolean: value = column.Bool(row) ? "true" : "false"; break;
      default: break;
    }
    if (value.empty()) continue;  // InfluxDB has no empty tag values: same as no tag
    if (HasNewline(value)) RowError(index, "tag '" + table_.names()[tags_[t]] + "' contains a newline");
    if (value.back() == '\\') {
      RowError(index, "tag '" + table_.names()[tags_[t]] +
                          "' ends with a backslash, which line protocol cannot express");
    }
    out += tag_keys_[t];
    EscapeKey(value, out);
  }
  char separator = ' ';
  for (size_t f = 0; f < fields_.size(); ++f) {
    arrow::ColumnView column = table_.Column(batch, fields_[f]);
    if (column.IsNull(row)) continue;  // a NULL field is no field
    out.push_back(separator);
    separator = ',';
    out += field_keys_[f];
    switch (column.type().kind) {
      case ImportKind::kBoolean: out += column.Bool(row) ? "true" : "false"; break;
      case ImportKind::kInt:
        AppendInt(column.Int(row), out);
        out.push_back('i');
        break;
      case ImportKind::kUInt: {
        uint64_t v = column.UInt(row);
        if (v > static_cast<uint64_t>(INT64_MAX)) {
          RowError(index, "field '" + table_.names()[fields_[f]] + "' = " + std::to_string(v) +
                              " does not fit InfluxDB's 64-bit signed integer");
        }
        AppendUInt(v, out);
        out.push_back('i');
        break;
      }
      case ImportKind::kFloat: {
        double v = column.Float(row);
        if (!std::isfinite(v)) {
          RowError(index, "field '" + table_.names()[fields_[f]] + "' is " +
                              (std::isnan(v) ? "NaN" : "infinite") + ", which InfluxDB cannot store");
        }
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof(buf), v);  // shortest text that reads back exactly
        out.append(buf, r.ptr);
        break;
      }
      case ImportKind::kString: QuoteString(column.String(row), out); break;
      case ImportKind::kBinary:
      case ImportKind::kDecimal: break;  // refused by the constructor
      case ImportKind::kTimestamp:
      case ImportKind::kDate32: {
        int64_t ns;
        if (!column.TimeNs(row, &ns)) RowError(index, "field '" + table_.names()[fields_[f]] + "' overflows nanoseconds");
        AppendInt(ns, out);
        out.push_back('i');
        break;
      }
      case ImportKind::kNull: break;
    }
  }
  if (separator == ' ') RowError(index, "no non-null field (a point needs at least one field)");
  if (time_ >= 0) {
    arrow::ColumnView column = table_.Column(batch, static_cast<size_t>(time_));
    if (column.IsNull(row)) RowError(index, "time '" + table_.names()[time_] + "' is NULL");
    int64_t ns;
    if (column.type().kind == ImportKind::kInt) {
      ns = column.Int(row);
    } else if (!column.TimeNs(row, &ns)) {
      RowError(index, "time '" + table_.names()[time_] + "' is outside the int64 nanosecond range "
                      "(1677-09-21 .. 2262-04-11)");
    }
    out.push_back(' ');
    AppendInt(ns, out);
  }
  out.push_back('\n');
}

}  // namespace dbpool::influxdb
