// The SQLite driver: opens SqliteConnections, and gives ":memory:" pools one shared
// in-memory database that lives as long as the driver.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <mutex>
#include <string>

#include "drivers/driver.hpp"
#include "drivers/sqlite/sqlite_connection.hpp"

namespace dbpool::sqlite {

/// One instance per pool. ConnectionConfig.database is a file path (or a file: URI), or
/// ":memory:". Options: busy_timeout (ms, default 5000), journal_mode (delete, truncate,
/// persist, memory, wal, off; default wal for files); any other option is a kConfig error.
///
/// A plain ":memory:" handle would give each connection its own empty database. Instead all
/// connections of this driver open "file:/dbpool-mem-<pid>-<n>?vfs=memdb" (the memdb VFS
/// shares a database between the connections of a process whose name starts with '/',
/// SQLite >= 3.36), and a keeper connection holds it open while the pool has none.
class SqliteDriver final : public Driver {
 public:
  explicit SqliteDriver(Runtime& runtime);
  ~SqliteDriver() override;

  asio::awaitable<std::unique_ptr<Connection>> Connect(ConnectionConfig config) override;

  /// The memdb URI that ":memory:" stands for with this driver.
  const std::string& memory_uri() const { return memory_uri_; }

  /// Validates config.options; throws DbError(kConfig) naming the offending option.
  static OpenOptions ParseOptions(const ConnectionConfig& config);

 private:
  /// Opens the keeper connection on first use. Blocking.
  void EnsureKeeper();

  Runtime& runtime_;
  const std::string memory_uri_;
  std::mutex keeper_mutex_;
  sqlite3* keeper_ = nullptr;  // guarded by keeper_mutex_
};

}  // namespace dbpool::sqlite
