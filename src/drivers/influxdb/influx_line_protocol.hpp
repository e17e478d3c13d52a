// Line protocol (https://docs.influxdata.com/influxdb/v1.6/write_protocols/line_protocol_reference/)
// from an imported Arrow table: escaping, integer `i` suffix, nanosecond timestamps, and
// errors that name the row (its index in the table) and the column.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "arrow/import.hpp"
#include "drivers/driver.hpp"

namespace dbpool::influxdb {

/// Appends `text` escaped for a measurement name (commas, spaces).
void EscapeMeasurement(std::string_view text, std::string& out);
/// Appends `text` escaped for a tag key, tag value or field key (commas, '=', spaces).
void EscapeKey(std::string_view text, std::string& out);
/// Appends `text` as a quoted string field value (escaping '"' and '\').
void QuoteString(std::string_view text, std::string& out);

/// Writes rows of one table as line protocol.
class LineWriter {
 public:
  /// Checks the columns against `options` (tag and time columns exist, types fit); throws
  /// DbError(kConfig) naming the column.
  LineWriter(std::string_view measurement, const arrow::ImportedTable& table,
             const BulkInsertOptions& options);

  /// Appends row `row` of batch `batch` (`index` = its row number in the table, for
  /// errors) and a newline. Throws DbError(kDataConversion) naming the row.
  void Row(size_t batch, int64_t row, int64_t index, std::string& out) const;

 private:
  const arrow::ImportedTable& table_;
  std::string measurement_;  // escaped
  std::vector<size_t> tags_;
  std::vector<size_t> fields_;
  std::vector<std::string> tag_keys_;    // escaped
  std::vector<std::string> field_keys_;  // escaped
  int time_ = -1;
};

}  // namespace dbpool::influxdb
