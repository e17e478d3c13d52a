// One SQLite database handle behind the Connection interface; every sqlite3 call runs on
// the runtime's blocking pool.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>

#include "drivers/driver.hpp"
#include "drivers/sqlite/sqlite_reader.hpp"
#include "drivers/sqlite/sqlite_statement.hpp"

namespace dbpool::sqlite {

/// Settings from ConnectionConfig.options, validated by the driver.
struct OpenOptions {
  int busy_timeout_ms = 5000;  ///< options["busy_timeout"]: wait this long for a lock
  std::string journal_mode;    ///< options["journal_mode"]; empty = WAL for files
  bool memory = false;         ///< a shared memdb database: journal mode stays MEMORY
};

/// Opens `target` (a path or a file: URI) with the driver's flags; throws DbError
/// (kConnection) naming `display_name` when it cannot. Blocking: call on the blocking pool.
sqlite3* OpenHandle(const std::string& target, const std::string& display_name);

/// The handle that sqlite3_interrupt may reach from another thread. The lock guards against
/// interrupting a handle that is being closed, and `operation` (bumped when an operation
/// ends) against a late cancel of one operation interrupting the next.
struct InterruptTarget {
  std::mutex mutex;
  sqlite3* db = nullptr;
  uint64_t operation = 0;

  void Interrupt(uint64_t of_operation) {
    std::lock_guard lock(mutex);
    if (db != nullptr && operation == of_operation) sqlite3_interrupt(db);
  }
};

class SqliteConnection final : public Connection {
 public:
  /// Opens and configures a connection (busy_timeout, foreign_keys, journal mode). Blocking.
  static std::unique_ptr<SqliteConnection> Open(Runtime& runtime, const std::string& target,
                                                const std::string& display_name,
                                                const OpenOptions& options);
  ~SqliteConnection() override;

  /// Several statements separated by ';' run in order and the result is the last one's
  /// (earlier rows are discarded); parameters need a single statement.
  asio::awaitable<QueryResult> Query(std::string sql, Params params,
                                     CancelTokenPtr cancel) override;
  /// Several statements run in order; returns the sum of their rows affected.
  asio::awaitable<int64_t> Execute(std::string sql, Params params,
                                   CancelTokenPtr cancel) override;
  /// Reads the last statement's rows batch by batch: memory stays bounded by `batch_rows`
  /// (and the reader's staging), whatever the size of the result.
  asio::awaitable<void> QueryStream(std::string sql, Params params, CancelTokenPtr cancel,
                                    BatchSink& sink, int64_t batch_rows) override;
  asio::awaitable<void> Begin() override;
  asio::awaitable<void> Commit() override;
  /// A no-op outside a transaction (as PostgreSQL, which only warns), so the pool can
  /// always roll back a returned connection.
  asio::awaitable<void> Rollback() override;
  asio::awaitable<void> Ping() override;

  bool IsBroken() const override { return broken_.load(std::memory_order_acquire); }
  bool InTransaction() const override {
    return in_transaction_.load(std::memory_order_acquire);
  }

 private:
  SqliteConnection(Runtime& runtime, sqlite3* db);

  /// A streamed statement between two batches: its reader, the statement it reads and the
  /// cancel hook, which all outlive the blocking calls (destroyed reader first).
  struct OpenStream {
    int64_t batch_rows = 0;
    bool begun = false;  // BeginOperation ran: EndOperation must too
    std::optional<CancelScope> scope;
    std::optional<StatementLease> lease;
    std::optional<BatchReader> reader;
  };

  /// Runs every statement of `sql`; returns the last one's rows when `want_rows`, else the
  /// sum of rows affected. With `stream`, the last statement's rows are not read but left
  /// to stream->reader. Blocking.
  QueryResult Run(const std::string& sql, const Params& params, CancelToken* cancel,
                  bool want_rows, OpenStream* stream = nullptr);
  /// The cancel hook (interrupt + progress handler) of one operation: a call or a stream.
  void BeginOperation(CancelToken* cancel, std::optional<CancelScope>& scope);
  /// Undoes BeginOperation and records the transaction state the operation left.
  void EndOperation(CancelToken* cancel);
  /// Wraps Run with cancellation and bookkeeping (broken, in-transaction). Blocking.
  QueryResult RunGuarded(const std::string& sql, const Params& params, CancelToken* cancel,
                         bool want_rows);

  Runtime& runtime_;
  sqlite3* db_;
  std::shared_ptr<InterruptTarget> interrupt_;
  std::unique_ptr<StatementCache> cache_;  // a pointer so that closing can take it along
  // Written on the blocking pool, read by the pool's threads (which hold no sqlite calls).
  std::atomic<bool> broken_{false};
  std::atomic<bool> in_transaction_{false};
};

}  // namespace dbpool::sqlite
