// Pool operations: borrow, run, give back; the pool id is added to every error.
#include "core/operations.hpp"

namespace dbpool {
namespace {

// Runs `body` with a borrowed connection and tags errors with the pool id.
template <typename Body>
auto WithConnection(std::shared_ptr<LocalPool> pool, CancelTokenPtr cancel, Body body)
    -> asio::awaitable<typename decltype(body(std::declval<Connection&>()))::value_type> {
  try {
    Lease lease = co_await pool->Acquire(cancel);
    co_return co_await body(*lease);
  } catch (const DbError& e) {
    if (!e.pool_id().empty()) throw;
    throw e.WithPool(pool->id());
  }
}

}  // namespace

asio::awaitable<QueryResult> RunQuery(std::shared_ptr<LocalPool> pool, std::string sql,
                                      Params params, CancelTokenPtr cancel) {
  co_return co_await WithConnection(pool, cancel, [&](Connection& conn) {
    return conn.Query(std::move(sql), std::move(params), cancel);
  });
}

asio::awaitable<int64_t> RunExecute(std::shared_ptr<LocalPool> pool, std::string sql,
                                    Params params, CancelTokenPtr cancel) {
  co_return co_await WithConnection(pool, cancel, [&](Connection& conn) {
    return conn.Execute(std::move(sql), std::move(params), cancel);
  });
}

asio::awaitable<std::vector<QueryResult>> RunBatch(std::shared_ptr<LocalPool> pool,
                                                   std::vector<Statement> statements,
                                                   CancelTokenPtr cancel) {
  co_return co_await WithConnection(pool, cancel, [&](Connection& conn) {
    return conn.QueryBatch(std::move(statements), cancel);
  });
}

asio::awaitable<int64_t> RunBulkInsert(std::shared_ptr<LocalPool> pool, std::string target,
                                       std::shared_ptr<arrow::ImportedTable> table,
                                       BulkInsertOptions options, CancelTokenPtr cancel) {
  const std::string db_type = pool->config().connection.db_type;
  co_return co_await WithConnection(pool, cancel, [&](Connection& conn) -> asio::awaitable<int64_t> {
    if (!conn.SupportsBulkInsert()) {
      throw DbError(ErrorKind::kConfig, "bulk_insert: not supported by " + db_type);
    }
    co_return co_await conn.BulkInsert(std::move(target), std::move(table), std::move(options),
                                       cancel);
  });
}

asio::awaitable<std::vector<int64_t>> RunTransaction(std::shared_ptr<LocalPool> pool,
                                                     std::vector<std::string> sqls,
                                                     CancelTokenPtr cancel) {
  co_return co_await WithConnection(
      pool, cancel, [&](Connection& conn) -> asio::awaitable<std::vector<int64_t>> {
        std::vector<int64_t> counts;
        co_await conn.Begin();
        std::exception_ptr failure;
        try {
          for (auto& sql : sqls) counts.push_back(co_await conn.Execute(std::move(sql), {}, cancel));
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
  try {
    co_return co_await lease_->Query(std::move(sql), std::move(params), cancel);
  } catch (const DbError& e) {
    throw e.WithPool(pool_->id());
  }
}

asio::awaitable<int64_t> TransactionSession::Execute(std::string sql, Params params,
                                                     CancelTokenPtr cancel) {
  BusyGuard guard(*this);
  try {
    co_return co_await lease_->Execute(std::move(sql), std::move(params), cancel);
  } catch (const DbError& e) {
    throw e.WithPool(pool_->id());
  }
}

asio::awaitable<void> TransactionSession::Commit() {
  BusyGuard guard(*this);
  Lease lease = std::move(lease_);  // returned to the pool whatever happens
  try {
    co_await lease->Commit();
  } catch (const DbError& e) {
    throw e.WithPool(pool_->id());
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
