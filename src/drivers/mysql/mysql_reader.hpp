// Fetched MySQL rows -> Arrow column builders: binary-protocol rows through bound MYSQL_BIND
// buffers (prepared statements), text-protocol rows (MYSQL_ROW) for the statements that
// cannot be prepared. Values that cannot be converted are errors naming column and row.
#pragma once

#include <mysql.h>

#include <cstdint>
#include <vector>

#include "arrow/builder.hpp"
#include "drivers/mysql/mysql_types.hpp"

namespace dbpool::mysql {

/// Rows per record batch (as the PostgreSQL driver).
inline constexpr int64_t kBatchRows = 65536;

/// What a zero date ('0000-00-00', '2024-00-01') becomes (connection option zero_date).
enum class ZeroDate { kError, kNull };

/// Reads the rows of one binary-protocol result set.
class BinaryRowReader {
 public:
  BinaryRowReader(std::vector<ColumnPlan> plans, ZeroDate zero_date);
  BinaryRowReader(const BinaryRowReader&) = delete;
  BinaryRowReader& operator=(const BinaryRowReader&) = delete;

  const std::vector<ColumnPlan>& plans() const { return plans_; }
  /// The result bindings for mysql_stmt_bind_result (they point into this object).
  MYSQL_BIND* binds() { return binds_.data(); }

  /// Appends the row that mysql_stmt_fetch just returned (0 or MYSQL_DATA_TRUNCATED) to
  /// `builder`. Values longer than their bound buffer are copied with
  /// mysql_stmt_fetch_column. Throws DbError(kDataConversion) naming the column and row.
  void AppendRow(MYSQL_STMT* stmt, arrow::RecordBatchBuilder& builder);

  /// True after AppendRow grew a bound buffer (a column has longer values than first
  /// thought): call mysql_stmt_bind_result(stmt, binds()) again before the next fetch.
  bool TakeRebind() { return std::exchange(rebind_, false); }

 private:
  struct Slot {
    unsigned long length = 0;
    my_bool is_null = 0;
    my_bool error = 0;
    alignas(8) unsigned char fixed[16] = {};
    MYSQL_TIME time{};
    std::vector<char> buffer;
  };

  void AppendValue(size_t column, MYSQL_STMT* stmt, arrow::ArrayBuilder& builder);
  void AppendLong(size_t column, MYSQL_STMT* stmt, arrow::ArrayBuilder& builder);

  std::vector<ColumnPlan> plans_;
  std::vector<Slot> slots_;
  std::vector<MYSQL_BIND> binds_;
  ZeroDate zero_date_;
  int64_t row_ = 0;
  bool rebind_ = false;
};

/// Appends one text-protocol row (`row` and its `lengths`, as mysql_fetch_row and
/// mysql_fetch_lengths give them) to `builder`; `row_number` (1-based) is for messages.
void AppendTextRow(const std::vector<ColumnPlan>& plans, MYSQL_ROW row,
                   const unsigned long* lengths, ZeroDate zero_date, int64_t row_number,
                   arrow::RecordBatchBuilder& builder);

}  // namespace dbpool::mysql
