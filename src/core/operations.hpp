// What callers do with a pool: run a query, a statement, a batch or a transaction, each on
// a connection borrowed for exactly as long as it needs, errors tagged with the pool id.
#pragma once

#include <asio.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/local_pool.hpp"
#include "core/result_stream.hpp"

namespace dbpool {

class PoolGroup;

/// What a pool id names: one pool, or a pool group (Failover, ActiveStandby,
/// LoadBalanced) whose members the call is routed over (routed_operations.cpp).
struct Target {
  std::shared_ptr<LocalPool> pool;   ///< set when `group` is not
  std::shared_ptr<PoolGroup> group;
  const std::string& id() const;
};

asio::awaitable<QueryResult> RunQuery(std::shared_ptr<LocalPool> pool, std::string sql,
                                      Params params, CancelTokenPtr cancel);

/// `idempotent`: the caller says running it twice is harmless, so the retry policy may
/// repeat it after a lost connection (else that raises kUnknownOutcome).
asio::awaitable<int64_t> RunExecute(std::shared_ptr<LocalPool> pool, std::string sql,
                                    Params params, CancelTokenPtr cancel, bool idempotent = false);

/// Runs the statements in order on one connection (no transaction; pipelined where the
/// driver can); one result each.
asio::awaitable<std::vector<QueryResult>> RunBatch(std::shared_ptr<LocalPool> pool,
                                                   std::vector<Statement> statements,
                                                   CancelTokenPtr cancel, bool idempotent = false);

/// Writes `table` into `target` on one connection (Connection::BulkInsert); a driver
/// without it gives ConfigError naming the db_type.
asio::awaitable<int64_t> RunBulkInsert(std::shared_ptr<LocalPool> pool, std::string target,
                                       std::shared_ptr<arrow::ImportedTable> table,
                                       BulkInsertOptions options, CancelTokenPtr cancel);

/// Runs the statements in one transaction: all commit, or none (rolled back on error).
/// The retry policy re-runs the whole transaction on 40001/40P01 or a connection lost
/// before COMMIT; a connection lost after COMMIT was sent raises kUnknownOutcome.
asio::awaitable<std::vector<int64_t>> RunTransaction(std::shared_ptr<LocalPool> pool,
                                                     std::vector<std::string> sqls,
                                                     CancelTokenPtr cancel, bool idempotent = false);

// The same operations on a Target: a group routes reads (query, stream) and writes
// (everything else) over its members; see core/resilience/routed_call.hpp.
asio::awaitable<QueryResult> RunQuery(Target target, std::string sql, Params params,
                                      CancelTokenPtr cancel);
asio::awaitable<int64_t> RunExecute(Target target, std::string sql, Params params,
                                    CancelTokenPtr cancel, bool idempotent = false);
asio::awaitable<std::vector<QueryResult>> RunBatch(Target target, std::vector<Statement> statements,
                                                   CancelTokenPtr cancel, bool idempotent = false);
asio::awaitable<int64_t> RunBulkInsert(Target target, std::string target_name,
                                       std::shared_ptr<arrow::ImportedTable> table,
                                       BulkInsertOptions options, CancelTokenPtr cancel);
asio::awaitable<std::vector<int64_t>> RunTransaction(Target target, std::vector<std::string> sqls,
                                                     CancelTokenPtr cancel, bool idempotent = false);
/// A stream starts on the first candidate of a group (no failover once rows flow).
std::shared_ptr<ResultStream> StartStream(const Target& target, std::string sql, Params params,
                                          int64_t batch_rows);

/// An explicit transaction holding one connection until Commit or Rollback.
class TransactionSession {
 public:
  /// Borrows a connection and sends BEGIN.
  static asio::awaitable<std::shared_ptr<TransactionSession>> Begin(
      std::shared_ptr<LocalPool> pool, CancelTokenPtr cancel);
  /// On a group: BEGIN on the first writable member that can be reached.
  static asio::awaitable<std::shared_ptr<TransactionSession>> Begin(Target target,
                                                                    CancelTokenPtr cancel);

  asio::awaitable<QueryResult> Query(std::string sql, Params params, CancelTokenPtr cancel);
  asio::awaitable<int64_t> Execute(std::string sql, Params params, CancelTokenPtr cancel);
  asio::awaitable<void> Commit();
  asio::awaitable<void> Rollback();
  bool finished() const { return !lease_; }

 private:
  explicit TransactionSession(std::shared_ptr<LocalPool> pool) : pool_(std::move(pool)) {}
  /// Marks the session busy for one statement (one statement at a time per connection).
  class BusyGuard;

  std::shared_ptr<LocalPool> pool_;
  Lease lease_;
  std::atomic<bool> busy_{false};
};

}  // namespace dbpool
