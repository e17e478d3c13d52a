// bulk_insert for SQL Server: which DataFrame column goes to which table column, and each
// Arrow value in the form bcp_bind is given (db-lib host types).
#pragma once

#include <sybfront.h>
#include <sybdb.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "arrow/import.hpp"
#include "drivers/mssql/mssql_types.hpp"

namespace dbpool::mssql {

/// One column of the target table, as the server describes it (SET FMTONLY ON select *).
struct TableColumn {
  std::string name;
  int db_type = 0;  ///< dbcoltype
  int precision = 0;
  int scale = 0;
  bool identity = false;
  bool wide_text = false;  ///< nchar, nvarchar, ntext: sent as UTF-16
};

/// The host form a column's values are bound in (bcp_bind's type).
enum class HostForm { kInt64, kBit, kFloat64, kNumeric, kMoney, kChars, kBytes, kDateTimeAll };

/// One table column fed from one DataFrame column, with the buffer bcp reads each row from.
struct BulkColumn {
  int table_column = 0;  ///< 1-based, as bcp_bind counts
  int source = 0;        ///< DataFrame column index
  std::string name;      ///< the table column's name
  ColumnSpec target;
  int precision = 0;     ///< decimal target: the column's precision and scale
  int scale = 0;
  HostForm form = HostForm::kInt64;
  int host_type = 0;     ///< SYBINT8, SYBBIT, SYBFLT8, SYBNUMERIC, SYBMONEY(4), SYBCHAR, SYBBINARY, SYBMS*

  // The current row's value (Prepare fills one of them).
  bool is_null = false;
  int64_t int_value = 0;
  DBBIT bit_value = 0;
  double float_value = 0;
  DBNUMERIC numeric{};
  DBMONEY money{};     ///< money (SYBMONEY)
  DBMONEY4 money4{};   ///< smallmoney (SYBMONEY4)
  DBDATETIMEALL datetime{};
  std::string_view bytes;
  std::string scratch;   ///< text converted for the column (UTF-16, or Windows-1252)
  bool wide_text = false;
};

/// `target` as FreeTDS puts it into its SQL text: one to three dot-separated parts, each a
/// plain identifier (letters, digits, _ @ # $) or [bracketed] with ]] for ]. Throws kConfig.
void CheckTableName(const std::string& target);

/// Matches every DataFrame column to a table column (exact name, else the only one equal
/// ignoring case) and checks that its Arrow type can be written there. Table columns the
/// DataFrame lacks get NULL (or their default). Throws kConfig naming a DataFrame column the
/// table does not have (or an identity column), kDataConversion naming a column whose
/// Arrow type does not fit.
std::vector<BulkColumn> PlanColumns(const std::string& target,
                                    const std::vector<TableColumn>& table,
                                    const arrow::ImportedTable& frame);

/// Puts row `row` of `view` into `column`'s buffer. Returns "" or what is wrong with the
/// value (out of range, not finite...), for an error naming the row and column.
std::string Prepare(const arrow::ColumnView& view, int64_t row, BulkColumn& column);

}  // namespace dbpool::mssql
