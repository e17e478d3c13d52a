// MssqlConnection: one FreeTDS db-lib DBPROCESS behind the Connection interface. db-lib only
// blocks, so every call runs on the runtime's blocking pool; the wait for the server's first
// response polls db-lib's socket together with an eventfd that a cancel writes, so a
// cancelled statement gets an attention (dbcancel) and the connection stays usable.
#pragma once

#include <sybfront.h>
#include <sybdb.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "drivers/driver.hpp"
#include "drivers/mssql/mssql_error.hpp"

namespace dbpool::mssql {

/// Settings from ConnectionConfig.options, validated by the driver.
struct MssqlOptions {
  std::string encrypt;             ///< FreeTDS "encryption": off, request, require, strict; "" = default
  double statement_timeout = 0;    ///< seconds to wait for a statement's first response; 0 = none
  std::string application_name = "db-pool";
  int tds_version = DBVERSION_74;  ///< DBVERSION_7x for dbsetlversion
};

/// What a cancel can reach from another thread: the wake-up eventfd, the current operation
/// and (for the watchdog) the socket. Shared with cancel handlers, which may outlive the
/// connection.
struct CancelTarget {
  CancelTarget();
  ~CancelTarget();
  std::mutex mutex;
  int event_fd = -1;
  int socket_fd = -1;               ///< -1 once the connection closes
  uint64_t operation = 0;           ///< the running operation's id; 0 = none
  std::atomic<bool> cancelled{false};
  /// The server has started answering: from now on db-lib blocks in its own reads, where
  /// the wake-up cannot reach it, so a cancel gives it only a short grace.
  std::atomic<bool> reading{false};
  /// The reading thread saw the cancel and is sending the attention (dbcancel): the long
  /// grace applies again while it drains the rest of the result.
  std::atomic<bool> attention_sent{false};

  /// Cancels operation `op` if it still runs: wakes the wait and, if the operation has not
  /// ended a grace period later (2 s, or 150 ms once the server is answering: the statement
  /// is then stuck in a read db-lib cannot be woken from), shuts the socket down so that it
  /// fails and the connection is replaced.
  static void Cancel(const std::shared_ptr<CancelTarget>& target, uint64_t op,
                     const asio::any_io_executor& executor);
};

class MssqlConnection final : public Connection {
 public:
  /// Takes ownership of `dbproc` (an open connection). `endpoint` names the server.
  MssqlConnection(Runtime& runtime, DBPROCESS* dbproc, std::string endpoint,
                  const MssqlOptions& options);
  ~MssqlConnection() override;
  MssqlConnection(const MssqlConnection&) = delete;
  MssqlConnection& operator=(const MssqlConnection&) = delete;

  /// Session settings every connection gets (TEXTSIZE, ANSI options). Blocking.
  void Initialise();

  /// Several statements in one batch run in order; the result is the last result set (or
  /// the sum of the rows affected when none returned rows). Parameters: see mssql_params.
  asio::awaitable<QueryResult> Query(std::string sql, Params params,
                                     CancelTokenPtr cancel) override;
  asio::awaitable<int64_t> Execute(std::string sql, Params params,
                                   CancelTokenPtr cancel) override;
  asio::awaitable<void> Begin() override;
  asio::awaitable<void> Commit() override;
  /// A no-op outside a transaction begun with Begin().
  asio::awaitable<void> Rollback() override;
  asio::awaitable<void> Ping() override;

  bool IsBroken() const override { return broken_.load(std::memory_order_acquire); }
  bool InTransaction() const override {
    return in_transaction_.load(std::memory_order_acquire);
  }
  int64_t ServerSessionId() const override { return spid_; }

 private:
  enum class Wait { kReady, kCancelled, kTimeout };

  /// Sends `sql` (a batch, or sp_executesql when there are parameters), waits and reads
  /// every result. Blocking.
  QueryResult Run(const std::string& sql, const Params& params, CancelToken* cancel,
                  bool want_rows);
  QueryResult Exchange(const std::string& sql, const Params& params, bool want_rows);
  Wait WaitForResponse();
  QueryResult ReadResults(bool want_rows);
  /// Sends an attention and reads up to its acknowledgement; marks the connection broken
  /// when that fails.
  void CancelStatement();
  [[noreturn]] void ThrowCancelled();
  /// The error for a failed call: kConnection (and broken) when db-lib's DBPROCESS is dead.
  DbError Failure(std::string_view context);

  Runtime& runtime_;
  DBPROCESS* dbproc_;
  std::string endpoint_;
  MssqlOptions options_;
  int64_t spid_ = 0;
  ErrorSink sink_;
  std::shared_ptr<CancelTarget> target_;
  uint64_t next_operation_ = 0;
  std::atomic<bool> broken_{false};
  std::atomic<bool> in_transaction_{false};
};

}  // namespace dbpool::mssql
