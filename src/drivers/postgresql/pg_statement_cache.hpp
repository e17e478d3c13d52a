// Per-connection cache of named prepared statements, keyed by SQL text and parameter types,
// bounded LRU. The server keeps a prepared statement for the whole session, so the cache
// only decides names and which statement to DEALLOCATE when one is evicted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "drivers/postgresql/pg_types.hpp"

namespace dbpool::pg {

/// Statements kept per connection unless options["statement_cache_size"] says otherwise
/// (asyncpg's default too).
inline constexpr size_t kDefaultStatementCacheSize = 100;
inline constexpr size_t kMaxStatementCacheSize = 100000;

class StatementCache {
 public:
  struct Entry {
    std::string name;  ///< the server-side statement name
    /// Column plans for the row description the statement had when last run, and the
    /// (type OID, typmod) pairs they were made for: reused while the description matches.
    std::vector<ColumnPlan> plans;
    std::vector<std::pair<Oid, int32_t>> columns;
    bool has_plans = false;
  };

  /// `capacity` 0 disables the cache (unnamed statements only, for PgBouncer's transaction
  /// mode, where a session's named statements may live on another server connection).
  /// Names start with a random per-cache prefix: behind a transaction-mode pooler several
  /// clients share a server session, and one client's "dbpool_s1" must never run another's.
  explicit StatementCache(size_t capacity);
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  bool enabled() const { return capacity_ > 0; }
  size_t capacity() const { return capacity_; }
  size_t size() const { return lru_.size(); }

  /// The cache key: the SQL text and the parameter type OIDs (a statement prepared for an
  /// int8 $1 cannot take a text $1).
  static std::string Key(std::string_view sql, const unsigned int* types, int count);

  /// The entry for `key`, now the most recently used; nullptr when absent. Entry pointers
  /// stay valid until Add() or Erase() changes the cache.
  Entry* Find(const std::string& key);
  /// Adds `key` with a new statement name (statements are never renamed, so a name is never
  /// reused). When full, first evicts the least recently used entry and appends its name
  /// to `evicted` (to DEALLOCATE).
  Entry& Add(const std::string& key, std::vector<std::string>* evicted);
  /// Forgets `key` (its statement failed or is gone); appends its name to `evicted` when
  /// the statement may still exist on the server and should be deallocated.
  void Erase(const std::string& key, std::vector<std::string>* evicted);
  /// Forgets every entry (the server dropped them all: DISCARD ALL).
  void Clear() {
    index_.clear();
    lru_.clear();
  }
  /// Forgets every entry and prepares no more (a transaction-mode pooler was detected).
  void Disable() {
    Clear();
    capacity_ = 0;
  }
  /// The prefix of this cache's statement names ("dbpool_" + 16 hex digits + "_").
  const std::string& prefix() const { return prefix_; }

 private:
  using List = std::list<std::pair<std::string, Entry>>;  // front = most recently used
  size_t capacity_;
  std::string prefix_;
  uint64_t next_id_ = 0;
  List lru_;
  std::unordered_map<std::string_view, List::iterator> index_;  // views into lru_ keys
};

}  // namespace dbpool::pg
