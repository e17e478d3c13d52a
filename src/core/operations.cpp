// Pool operations: borrow, run, give back; the pool id is added to every error.
#include "core/operations.hpp"

#include "core/resilience/guarded_call.hpp"

namespace dbpool {

// Each call goes through GuardedCall (core/resilience): breaker, query_timeout, retries.
// Bodies copy their SQL and parameters because a retry runs them again. Single statements
// the driver can multiplex take a shared lease (several calls pipelined on one connection).

asio::awaitable<QueryResult> RunQuery(std::shared_ptr<LocalPool> pool, std::string sql,
                                      Params params, CancelTokenPtr cancel) {
  const bool share = pool->CanMultiplex(sql, params);
  co_return co_await GuardedCall(pool, cancel, {CallKind::kRead, false, share},
                                 [&](Connection& conn, CallProgress&) {
                                   return conn.Query(sql, params, cancel);
                                 });
}

asio::awaitable<int64_t> RunExecute(std::shared_ptr<LocalPool> pool, std::string sql,
                                    Params params, CancelTokenPtr cancel, bool idempotent) {
  const bool share = pool->CanMultiplex(sql, params);
  co_return co_await GuardedCall(pool, cancel, {CallKind::kWrite, idempotent, share},
                                 [&](Connection& conn, CallProgress&) {
                                   return conn.Execute(sql, params, cancel);
                                 });
}

asio::awaitable<std::vector<QueryResult>> RunBatch(std::shared_ptr<LocalPool> pool,
                                                   std::vector<Statement> statements,
                                                   CancelTokenPtr cancel, bool idempotent) {
  co_return co_await GuardedCall(pool, cancel, {CallKind::kBatch, idempotent},
                                 [&](Connection& conn, CallProgress&) {
                                   return conn.QueryBatch(statements, cancel);
                                 });
}

asio::awaitable<int64_t> RunBulkInsert(std::shared_ptr<LocalPool> pool, std::string target,
                                       std::shared_ptr<arrow::ImportedTable> table,
                                       BulkInsertOptions options, CancelTokenPtr cancel) {
  const std::string db_type = pool->config().connection.db_type;
  // Several write requests: once one may have been sent, a lost connection is an unknown
  // outcome (kBatch), never silently retried.
  co_return co_await GuardedCall(
      pool, cancel, {CallKind::kBatch, false},
      [&](Connection& conn, CallProgress&) -> asio::awaitable<int64_t> {
        if (!conn.SupportsBulkInsert()) {
          throw DbError(ErrorKind::kConfig, "bulk_insert: not supported by " + db_type);
        }
        co_return co_await conn.BulkInsert(target, table, options, cancel);
      });
}

namespace {

// One attempt of RunTransaction; `progress.commit_sent` tells the retry policy whether
// the outcome is still unknown when the connection is lost.
asio::awaitable<std::vector<int64_t>> TransactionAttempt(Connection& conn,
                                                         const std::vector<std::string>& sqls,
                                                         CancelTokenPtr cancel,
                                                         CallProgress& progress) {
  std::vector<int64_t> counts;
  co_await conn.Begin();
  std::exception_ptr failure;
  try {
    for (const auto& sql : sqls) counts.push_back(co_await conn.Execute(sql, {}, cancel));
    progress.commit_sent = true;
    co_await conn.Commit();
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    // Roll back here rather than leaving it to the pool's reset so the caller's error
    // comes after the transaction is really gone; a failed rollback breaks the
    // connection, which the pool then discards.
    if (!conn.IsBroken() && conn.InTransaction()) {
      try {
        co_await conn.Rollback();
      } catch (...) {
      }
    }
    std::rethrow_exception(failure);
  }
  co_return counts;
}

}  // namespace

asio::awaitable<std::vector<int64_t>> RunTransaction(std::shared_ptr<LocalPool> pool,
                                                     std::vector<std::string> sqls,
                                                     CancelTokenPtr cancel, bool idempotent) {
  co_return co_await GuardedCall(pool, cancel, {CallKind::kTransaction, idempotent},
                                 [&](Connection& conn, CallProgress& progress) {
                                   return TransactionAttempt(conn, sqls, cancel, progress);
                                 });
}

class TransactionSession::BusyGuard {
 public:
  explicit BusyGuard(TransactionSession& s) : s_(s) {
    if (!s_.lease_) throw DbError(ErrorKind::kQuery, "transaction is already finished", {}, 0, s_.pool_->id());
    if (s_.busy_.exchange(true)) {
      throw DbError(ErrorKind::kQuery,
                    "transaction is already running a statement (await it before the next)",
                    {}, 0, s_.pool_->id());
    }
  }
  ~BusyGuard() { s_.busy_.store(false); }

 private:
  TransactionSession& s_;
};

asio::awaitable<std::shared_ptr<TransactionSession>> TransactionSession::Begin(
    std::shared_ptr<LocalPool> pool, CancelTokenPtr cancel) {
  std::shared_ptr<TransactionSession> session(new TransactionSession(pool));
  try {
    session->lease_ = co_await pool->Acquire(cancel);
    co_await session->lease_->Begin();
  } catch (const DbError& e) {
    throw e.pool_id().empty() ? e.WithPool(pool->id()) : e;
  }
  co_return session;
}

asio::awaitable<QueryResult> TransactionSession::Query(std::string sql, Params params,
                                                       CancelTokenPtr cancel) {
  BusyGuard guard(*this);
  lease_.SetBorrower(cancel);  // close(timeout) terminates this statement
  try {
    co_return co_await lease_->Query(std::move(sql), std::move(params), cancel);
  } catch (const DbError& e) {
    throw pool_->ForCaller(e.WithPool(pool_->id()), cancel.get());
  }
}

asio::awaitable<int64_t> TransactionSession::Execute(std::string sql, Params params,
                                                     CancelTokenPtr cancel) {
  BusyGuard guard(*this);
  lease_.SetBorrower(cancel);
  try {
    co_return co_await lease_->Execute(std::move(sql), std::move(params), cancel);
  } catch (const DbError& e) {
    throw pool_->ForCaller(e.WithPool(pool_->id()), cancel.get());
  }
}

asio::awaitable<void> TransactionSession::Commit() {
  BusyGuard guard(*this);
  Lease lease = std::move(lease_);  // returned to the pool whatever happens
  CallProgress progress{!lease->IsBroken(), !lease->IsBroken()};
  try {
    co_await lease->Commit();
  } catch (const DbError& e) {
    // Lost after COMMIT went out: the caller must not assume either outcome.
    auto unknown = UnknownOutcome(e, CallKind::kTransaction, progress, false);
    throw (unknown ? *unknown : e).WithPool(pool_->id());
  }
}

asio::awaitable<void> TransactionSession::Rollback() {
  if (!lease_) co_return;  // rolling back a finished transaction is a no-op (e.g. __aexit__)
  BusyGuard guard(*this);
  Lease lease = std::move(lease_);
  try {
    co_await lease->Rollback();
  } catch (const DbError& e) {
    throw e.WithPool(pool_->id());
  }
}

}  // namespace dbpool
