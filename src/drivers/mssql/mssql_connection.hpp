// MssqlConnection: one FreeTDS db-lib DBPROCESS behind the Connection interface. db-lib only
// blocks, so every call runs on the runtime's blocking pool; the wait for the server's first
// response polls db-lib's socket together with an eventfd that a cancel writes, so a
// cancelled statement gets an attention (dbcancel) and the connection stays usable; a read
// blocked mid-result is reached by db-lib's interrupt check (mssql_error.hpp, AttachSink).
#pragma once

#include <sybfront.h>
#include <sybdb.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "drivers/driver.hpp"
#include "drivers/mssql/mssql_error.hpp"
#include "runtime/cancel.hpp"

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
  /// the wake-up cannot reach it (its interrupt check does, see AttachSink).
  std::atomic<bool> reading{false};
  /// The reading thread sent the attention (dbcancel, or db-lib on its interrupt check)
  /// and drains the result up to the server's DONE_ATTN.
  std::atomic<bool> attention_sent{false};

  /// Cancels operation `op` if it still runs: wakes the wait (the reading thread then sends
  /// the attention) and, if the operation has not ended 2.5 s later, shuts the socket down
  /// so that it fails and the connection is replaced.
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
  /// bcp (FreeTDS bulk copy) into table `target`: DataFrame columns matched by name to the
  /// table's, every value checked before the first row is sent, a commit every
  /// options.batch_rows rows (see mssql_bulk.cpp and docs/api.md).
  bool SupportsBulkInsert() const override { return true; }
  asio::awaitable<int64_t> BulkInsert(std::string target,
                                      std::shared_ptr<arrow::ImportedTable> table,
                                      BulkInsertOptions options, CancelTokenPtr cancel) override;
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

  /// One operation on the connection: makes it the cancel target's current one and wires
  /// `cancel` (may be null) to it for as long as it lives.
  class Operation {
   public:
    Operation(MssqlConnection& connection, CancelToken* cancel);
    ~Operation();
    Operation(const Operation&) = delete;
    Operation& operator=(const Operation&) = delete;

   private:
    CancelTarget& target_;
    std::optional<CancelScope> scope_;
  };

  /// Throws kConnection when the connection is broken, kCancelled when `cancel` fired.
  void CheckUsable(CancelToken* cancel) const;

  /// Sends `sql` (a batch, or sp_executesql when there are parameters), waits and reads
  /// every result. Blocking.
  QueryResult Run(const std::string& sql, const Params& params, CancelToken* cancel,
                  bool want_rows);
  QueryResult Exchange(const std::string& sql, const Params& params, bool want_rows);
  /// Sends `sql` (sp_executesql when there are parameters) and waits for the first response;
  /// throws on failure, cancel or statement_timeout.
  void Send(const std::string& sql, const Params& params);
  /// The bulk copy itself (mssql_bulk.cpp). Blocking.
  int64_t BulkCopy(const std::string& target, const arrow::ImportedTable& table,
                   const BulkInsertOptions& options);
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
