// Operations on a Target: a single pool runs them directly, a group routes them
// (RoutedCall). query() and stream() are reads; every other call is a write.
#include "core/operations.hpp"
#include "core/resilience/routed_call.hpp"

namespace dbpool {

const std::string& Target::id() const { return group ? group->id() : pool->id(); }

asio::awaitable<QueryResult> RunQuery(Target target, std::string sql, Params params,
                                      CancelTokenPtr cancel) {
  if (!target.group) co_return co_await RunQuery(target.pool, std::move(sql), std::move(params), cancel);
  std::function<asio::awaitable<QueryResult>(std::shared_ptr<LocalPool>)> run =
      [&](std::shared_ptr<LocalPool> pool) { return RunQuery(std::move(pool), sql, params, cancel); };
  co_return co_await RoutedCall(target.group, CallKind::kRead, cancel, run);
}

asio::awaitable<int64_t> RunExecute(Target target, std::string sql, Params params,
                                    CancelTokenPtr cancel, bool idempotent) {
  if (!target.group) {
    co_return co_await RunExecute(target.pool, std::move(sql), std::move(params), cancel, idempotent);
  }
  std::function<asio::awaitable<int64_t>(std::shared_ptr<LocalPool>)> run =
      [&](std::shared_ptr<LocalPool> pool) {
        return RunExecute(std::move(pool), sql, params, cancel, idempotent);
      };
  co_return co_await RoutedCall(target.group, CallKind::kWrite, cancel, run);
}

asio::awaitable<std::vector<QueryResult>> RunBatch(Target target, std::vector<Statement> statements,
                                                   CancelTokenPtr cancel, bool idempotent) {
  if (!target.group) co_return co_await RunBatch(target.pool, std::move(statements), cancel, idempotent);
  std::function<asio::awaitable<std::vector<QueryResult>>(std::shared_ptr<LocalPool>)> run =
      [&](std::shared_ptr<LocalPool> pool) {
        return RunBatch(std::move(pool), statements, cancel, idempotent);
      };
  co_return co_await RoutedCall(target.group, CallKind::kBatch, cancel, run);
}

asio::awaitable<int64_t> RunBulkInsert(Target target, std::string target_name,
                                       std::shared_ptr<arrow::ImportedTable> table,
                                       BulkInsertOptions options, CancelTokenPtr cancel) {
  if (!target.group) {
    co_return co_await RunBulkInsert(target.pool, std::move(target_name), std::move(table),
                                     std::move(options), cancel);
  }
  std::function<asio::awaitable<int64_t>(std::shared_ptr<LocalPool>)> run =
      [&](std::shared_ptr<LocalPool> pool) {
        return RunBulkInsert(std::move(pool), target_name, table, options, cancel);
      };
  co_return co_await RoutedCall(target.group, CallKind::kBatch, cancel, run);
}

asio::awaitable<std::vector<int64_t>> RunTransaction(Target target, std::vector<std::string> sqls,
                                                     CancelTokenPtr cancel, bool idempotent) {
  if (!target.group) co_return co_await RunTransaction(target.pool, std::move(sqls), cancel, idempotent);
  std::function<asio::awaitable<std::vector<int64_t>>(std::shared_ptr<LocalPool>)> run =
      [&](std::shared_ptr<LocalPool> pool) {
        return RunTransaction(std::move(pool), sqls, cancel, idempotent);
      };
  co_return co_await RoutedCall(target.group, CallKind::kTransaction, cancel, run);
}

std::shared_ptr<ResultStream> StartStream(const Target& target, std::string sql, Params params,
                                          int64_t batch_rows) {
  std::shared_ptr<LocalPool> pool = target.pool;
  if (target.group) pool = target.group->Candidates(CallKind::kRead).front()->pool;
  return ResultStream::Start(std::move(pool), std::move(sql), std::move(params), batch_rows);
}

asio::awaitable<std::shared_ptr<TransactionSession>> TransactionSession::Begin(
    Target target, CancelTokenPtr cancel) {
  if (!target.group) co_return co_await Begin(target.pool, std::move(cancel));
  std::function<asio::awaitable<std::shared_ptr<TransactionSession>>(std::shared_ptr<LocalPool>)>
      run = [&](std::shared_ptr<LocalPool> pool) {
        return TransactionSession::Begin(std::move(pool), cancel);
      };
  co_return co_await RoutedCall(target.group, CallKind::kTransaction, cancel, run);
}

}  // namespace dbpool
