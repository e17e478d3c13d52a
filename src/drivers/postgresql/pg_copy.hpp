// COPY (query) TO STDOUT (FORMAT binary) -> Arrow batches: which statements may be wrapped in
// COPY, and a decoder that turns CopyData messages straight into column builders, with the
// same per-type decoders as the PGresult path (pg_reader.hpp), so both give identical output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "arrow/builder.hpp"
#include "dbpool/result.hpp"
#include "drivers/postgresql/pg_reader.hpp"
#include "drivers/postgresql/pg_types.hpp"

namespace dbpool::pg {

/// The first keyword of `sql` in upper case ("SELECT", "WITH"...), after whitespace,
/// comments and opening parentheses; empty when there is none.
std::string LeadingKeyword(std::string_view sql);

/// True when `sql` starts like a statement COPY (...) TO accepts and that only reads:
/// SELECT, VALUES, TABLE or WITH. (A WITH may end in INSERT ... RETURNING: COPY runs it
/// once, as the regular path would. For such statements PostgreSQL's COPY refuses only
/// what the regular path refuses too (rule rewrites, see copyto.c), or what Describe shows
/// (SELECT INTO has no columns); other servers may refuse more, see PgConnection.)
bool IsCopyCandidate(std::string_view sql);

/// `sql` without what follows its last token: blanks, ';' and comments ("SELECT 1; -- x"
/// -> "SELECT 1"). Strings, quoted identifiers and dollar quotes are skipped whole.
std::string_view TrimStatementEnd(std::string_view sql);

/// "COPY (\n<TrimStatementEnd(sql)>\n) TO STDOUT (FORMAT binary)". The newlines keep a
/// "-- comment" inside the statement from swallowing the closing parenthesis.
std::string CopyStatement(std::string_view sql);

/// Decodes the CopyData messages of a binary COPY, one message at a time (the server sends
/// the header with the first row, then one message per row, then the trailer), into batches
/// of at most `batch_rows` rows (or about `batch_bytes` of values, see ValueBatches).
class CopyDecoder {
 public:
  CopyDecoder(std::vector<ColumnPlan> plans, int64_t batch_rows, int64_t batch_bytes = kBatchBytes);

  /// Decodes one message. Throws DbError(kDataConversion) naming the column and row of a
  /// value that cannot be converted, DbError(kInternal) for malformed COPY data.
  void Feed(const char* data, int32_t size);

  /// True when the current batch is full: call TakeBatch().
  bool batch_full() const { return batches_.batch_full(); }
  /// Rows decoded since the last TakeBatch().
  int64_t pending_rows() const { return batches_.pending_rows(); }
  /// Rows decoded in total.
  int64_t total_rows() const { return batches_.total_rows(); }
  /// True once the trailer has been read (no more rows may follow).
  bool ended() const { return ended_; }

  /// The rows decoded since the last call, as a batch. Throws DbError(kDataConversion) for
  /// text that is not valid UTF-8 (checked per batch, see ValueBatches).
  RecordBatch TakeBatch();

  const std::vector<ColumnPlan>& plans() const { return batches_.plans(); }

 private:
  void ReadHeader(const char* data, int32_t size, int32_t* pos);
  [[noreturn]] static void Malformed(const std::string& what);

  ValueBatches batches_;
  bool header_read_ = false;
  bool ended_ = false;
};

}  // namespace dbpool::pg
