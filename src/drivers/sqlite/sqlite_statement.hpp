// Prepared statements: an LRU cache for single statements, parameter binding, and the
// splitting of a SQL string into its statements.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dbpool/value.hpp"

namespace dbpool::sqlite {

/// True when [begin, end) holds no statement: only whitespace, ';' and comments.
bool IsBlankSql(const char* begin, const char* end);

/// Binds `params` to every parameter of `stmt`: positionally (`?`, `?NNN`, or any named
/// placeholder by its index) when params.names is empty, else by name, where a name
/// matches with or without its prefix (`:id`, `@id`, `$id` all match "id" or ":id").
/// Text and blobs are bound SQLITE_STATIC: `params` must outlive the step calls.
/// Throws DbError(kQuery) naming the missing parameter or the count mismatch.
void BindParams(sqlite3* db, sqlite3_stmt* stmt, const Params& params);

/// Recently used single-statement SQL -> prepared statement, so repeated small queries skip
/// the parser (prepare is often most of the cost of a point query). Not thread safe: owned
/// by one connection, used by one caller at a time.
class StatementCache {
 public:
  explicit StatementCache(size_t capacity) : capacity_(capacity) {}
  ~StatementCache() { Clear(); }
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  /// The cached statement for `sql` (now most recently used), or nullptr.
  sqlite3_stmt* Find(const std::string& sql);
  /// Takes ownership of `stmt`; finalizes the least recently used one when full.
  void Insert(const std::string& sql, sqlite3_stmt* stmt);
  /// Finalizes every cached statement.
  void Clear();

 private:
  using Entry = std::pair<std::string, sqlite3_stmt*>;
  size_t capacity_;
  std::list<Entry> lru_;  // front = most recently used
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

/// One statement in use: after use a cached one is reset (releasing its read snapshot and
/// locks) and its bindings cleared, an uncached one is finalized.
class StatementLease {
 public:
  StatementLease(sqlite3_stmt* stmt, bool cached) : stmt_(stmt), cached_(cached) {}
  ~StatementLease() {
    if (stmt_ == nullptr) return;
    if (cached_) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);  // bound pointers die with the caller's params
    } else {
      sqlite3_finalize(stmt_);
    }
  }
  StatementLease(const StatementLease&) = delete;
  StatementLease& operator=(const StatementLease&) = delete;

  sqlite3_stmt* get() const { return stmt_; }
  /// Hands the statement over (to another lease); this one then does nothing.
  sqlite3_stmt* Release() { return std::exchange(stmt_, nullptr); }

 private:
  sqlite3_stmt* stmt_;
  bool cached_;
};

}  // namespace dbpool::sqlite
