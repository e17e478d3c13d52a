// PgConnection: statements over libpq's async API, results, transactions, ping, cancel
// (execute_batch in pg_batch.cpp, COPY reads in pg_copy_query.cpp, row reads in pg_rows.cpp).
#include "drivers/postgresql/pg_connection.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <optional>
#include <string_view>

#include "common/diagnostics.hpp"
#include "runtime/job_signal.hpp"
#include "drivers/postgresql/pg_copy.hpp"
#include "drivers/postgresql/pg_error.hpp"
#include "drivers/postgresql/pg_interval.hpp"
#include "drivers/postgresql/pg_params.hpp"
#include "drivers/postgresql/pg_reader.hpp"
#include "drivers/postgresql/pg_results.hpp"

namespace dbpool::pg {

PgConnection::PgConnection(Runtime& runtime, PGconn* conn, std::string endpoint,
                           SessionOptions options)
    : runtime_(runtime),
      conn_(conn),
      endpoint_(std::move(endpoint)),
      cancel_handle_(PQgetCancel(conn), [](PGcancel* c) { if (c != nullptr) PQfreeCancel(c); }),
      socket_(runtime.executor()),
      statements_(options.statement_cache_size),
      pooler_(std::move(options.pooler)),
      bulk_protocol_(options.bulk_protocol) {
  // libpq prints NOTICE/WARNING messages to stderr by default; a library must not.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  // Asio watches a duplicate of libpq's socket, never libpq's own descriptor: when the
  // connection is lost libpq closes its fd at once, the number may be reused by another
  // connection, and a later deregistration of the old number (release()) would silently
  // remove that other connection from epoll. The duplicate stays ours until we close it.
  int fd = ::fcntl(PQsocket(conn_), F_DUPFD_CLOEXEC, 0);
  asio::error_code ec;
  if (fd >= 0) socket_.assign(fd, ec);
  if (fd < 0 || ec) {
    if (fd >= 0) ::close(fd);
    PQfinish(conn_);
    throw DbError(ErrorKind::kConnection, "could not watch the socket of " + endpoint_);
  }
}

PgConnection::~PgConnection() {
  // PQfinish sends Terminate on libpq's descriptor; closing our duplicate afterwards
  // releases the socket for good. Neither may throw out of a destructor.
  PQfinish(conn_);
  asio::error_code ec;
  socket_.close(ec);
}

bool PgConnection::IsBroken() const { return broken_ || PQstatus(conn_) == CONNECTION_BAD; }

bool PgConnection::InTransaction() const {
  PGTransactionStatusType status = PQtransactionStatus(conn_);
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR;
}

int64_t PgConnection::ServerSessionId() const { return PQbackendPID(conn_); }

DbError PgConnection::Broken(DbError error) {
  broken_ = true;
  return error;
}

DbError PgConnection::LostConnection() {
  // libpq may already hold the server's last words (FATAL 57P01 after
  // pg_terminate_backend). Once the socket is gone PQgetResult cannot block, and it
  // returns them with their SQLSTATE.
  DbError lost = ConnectionLost(conn_, "lost the connection to " + endpoint_);
  if (PQstatus(conn_) == CONNECTION_BAD && PQsocket(conn_) < 0) {
    PgResult last(PQgetResult(conn_));
    if (last && PQresultStatus(last.get()) == PGRES_FATAL_ERROR &&
        PQresultErrorField(last.get(), PG_DIAG_SQLSTATE) != nullptr) {
      return Broken(ResultError(last.get(), conn_, false));
    }
  }
  return Broken(lost);
}

void PgConnection::CheckReady() {
  if (IsBroken()) {
    throw DbError(ErrorKind::kConnection, "the connection to " + endpoint_ + " is broken");
  }
  // PQTRANS_ACTIVE between operations means an earlier statement was abandoned (its
  // coroutine destroyed) before its results were read; the protocol state is unknown.
  if (PQtransactionStatus(conn_) == PQTRANS_ACTIVE) {
    throw Broken(DbError(ErrorKind::kConnection,
                         "a previous statement on the connection to " + endpoint_ +
                             " was abandoned before it finished"));
  }
}

asio::awaitable<void> PgConnection::WaitReadable() {
  asio::error_code ec;
  co_await socket_.async_wait(asio::posix::stream_descriptor::wait_read,
                              asio::redirect_error(asio::use_awaitable, ec));
  if (ec == asio::error::operation_aborted) {
    // The awaiting coroutine was cancelled through Asio while the server still works:
    // the session state is unknown, so the pool must drop the connection.
    throw Broken(DbError(ErrorKind::kCancelled, "statement abandoned while waiting for " +
                                                    endpoint_));
  }
  if (ec) {
    throw Broken(DbError(ErrorKind::kConnection,
                         "socket error on the connection to " + endpoint_ + ": " + ec.message()));
  }
}

asio::awaitable<void> PgConnection::Flush() {
  for (;;) {
    int rc = PQflush(conn_);
    if (rc == 0) co_return;
    if (rc < 0) throw Broken(ConnectionLost(conn_, "could not send to " + endpoint_));
    // The server may be writing to us (notices) while we write to it: absorbing its
    // output keeps both sides moving, as libpq's PQflush documentation asks.
    if (!PQconsumeInput(conn_)) {
      throw LostConnection();
    }
    asio::error_code ec;
    co_await socket_.async_wait(asio::posix::stream_descriptor::wait_write,
                                asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      throw Broken(DbError(ErrorKind::kConnection,
                           "socket error on the connection to " + endpoint_ + ": " + ec.message()));
    }
  }
}

asio::awaitable<void> PgConnection::SkipCopyOut() {
  for (;;) {
    char* row = nullptr;
    int n = PQgetCopyData(conn_, &row, 1);
    if (row != nullptr) PQfreemem(row);
    if (n > 0) continue;
    if (n < 0) co_return;  // -1: done, -2: error; the following result reports which
    co_await WaitReadable();
    if (!PQconsumeInput(conn_)) {
      throw LostConnection();
    }
  }
}

asio::awaitable<std::vector<PgResult>> PgConnection::CollectResults() {
  std::vector<PgResult> results;
  for (;;) {
    while (PQisBusy(conn_)) {
      co_await WaitReadable();
      if (!PQconsumeInput(conn_)) {
        throw LostConnection();
      }
    }
    PgResult result(PQgetResult(conn_));
    if (!result) break;  // the statement is complete
    switch (PQresultStatus(result.get())) {
      case PGRES_COPY_IN:
        // There is no data source: ending the COPY with an error makes the server roll it
        // back and answer with an error result, and the connection stays in sync.
        if (PQputCopyEnd(conn_, "COPY FROM STDIN is not supported by db-pool") < 0) {
          throw Broken(ConnectionLost(conn_, "COPY"));
        }
        co_await Flush();
        break;
      case PGRES_COPY_OUT:
        co_await SkipCopyOut();  // the rows are discarded; "COPY n" follows
        break;
      case PGRES_COPY_BOTH:
        throw Broken(DbError(ErrorKind::kQuery, "replication (COPY BOTH) is not supported"));
      default:
        results.push_back(std::move(result));
    }
  }
  co_return results;
}

void PgConnection::BeforeSend(const CancelToken* cancel) {
  CheckReady();
  if (cancel != nullptr && cancel->cancelled()) {
    throw DbError(ErrorKind::kCancelled, "statement cancelled before it was sent");
  }
}

asio::awaitable<std::vector<PgResult>> PgConnection::Exchange(int sent) {
  if (!sent) {
    DbError error = ConnError(conn_, "could not send the statement to " + endpoint_);
    if (error.kind() == ErrorKind::kConnection) throw Broken(error);
    throw error;
  }
  co_await Flush();
  co_return co_await CollectResults();
}

void PgConnection::ArmCancel(CancelToken* token, CancelGuard* guard, bool always) {
  if (token == nullptr && !always) return;
  guard->request = std::make_shared<CancelRequest>(socket_.get_executor());
  if (token == nullptr) return;
  // Installed once the statement is sent: a cancel that reaches an idle backend is
  // ignored. PQcancel blocks (it opens a connection to the server), so the handler,
  // which may run on any thread, only posts it to the blocking pool.
  guard->scope.emplace(*token, [request = guard->request, handle = cancel_handle_,
                                runtime = &runtime_] {
    {
      std::lock_guard lock(request->mutex);
      if (request->closed || request->sent) return;
      request->sent = true;
    }
    asio::post(runtime->blocking_pool(), [request, handle] {
      char reason[256];
      // The outcome shows in the statement's own result (57014, or a normal end).
      PQcancel(handle.get(), reason, sizeof(reason));
      request->done.Signal();
    });
  });
}

void PgConnection::SendCancel(CancelGuard& guard) {
  std::shared_ptr<CancelRequest> request = guard.request;
  {
    std::lock_guard lock(request->mutex);
    if (request->closed || request->sent) return;
    request->sent = true;
  }
  asio::post(runtime_.blocking_pool(), [request, handle = cancel_handle_] {
    char reason[256];
    PQcancel(handle.get(), reason, sizeof(reason));
    request->done.Signal();
  });
}

bool PgConnection::DisarmCancel(CancelGuard* guard) {
  guard->scope.reset();
  if (!guard->request) return false;
  std::lock_guard lock(guard->request->mutex);
  guard->request->closed = true;
  return guard->request->sent;
}

bool PgConnection::CancelWasSent(const CancelGuard& guard) {
  if (!guard.request) return false;
  std::lock_guard lock(guard.request->mutex);
  return guard.request->sent;
}

DbError PgConnection::StatementError(const PGresult* result, bool cancel_sent) {
  DbError error = ResultError(result, conn_, cancel_sent);
  if (error.kind() == ErrorKind::kConnection) return Broken(error);
  return error;
}

void PgConnection::FollowPoolerDetection() {
  if (statements_.enabled() && pooler_ && pooler_->detected.load(std::memory_order_relaxed)) {
    statements_.Disable();
    pending_deallocate_.clear();  // they live on server sessions we cannot choose any more
  }
}

bool PgConnection::DetectPooler(const PGresult* failed) {
  // Only "gone": a statement of ours whose columns changed (0A000) still exists. The
  // user's own DISCARD ALL / DEALLOCATE clear the cache in Execute, so a statement that
  // vanishes anyway was prepared on another server session.
  if (!statements_.enabled() || ErrorField(failed, PG_DIAG_SQLSTATE) != "26000" ||
      !IsStaleStatement(failed)) {
    return false;
  }
  statements_.Disable();
  pending_deallocate_.clear();
  if (pooler_ && !pooler_->detected.exchange(true)) {
    Warn(pooler_->warning_source,
         "a named prepared statement vanished between two calls on " + endpoint_ +
             ": the server session changes under the connection, as behind PgBouncer in "
             "transaction mode; this pool now runs unnamed statements only (set "
             "statement_cache_size=0 to start that way)");
  }
  return true;
}

DbError PgConnection::PoolerError(const PGresult* failed, bool cancel_sent) {
  DbError error = StatementError(failed, cancel_sent);
  return DbError(error.kind(),
                 error.message() +
                     " (inside a transaction, so not retried: a named statement prepared "
                     "earlier ran on another server session, as behind PgBouncer in "
                     "transaction mode; the pool now uses unnamed statements; set "
                     "statement_cache_size=0 to avoid this)",
                 error.sqlstate(), error.vendor_code(), error.pool_id());
}

asio::awaitable<std::vector<PgResult>> PgConnection::CompleteRaw(int sent, CancelToken* cancel,
                                                                 bool* cancel_sent) {
  CancelGuard guard;
  ArmCancel(cancel, &guard);
  std::vector<PgResult> results;
  std::exception_ptr error;
  try {
    results = co_await Exchange(sent);
  } catch (...) {
    error = std::current_exception();
  }
  bool was_sent = DisarmCancel(&guard);
  if (was_sent) co_await AwaitCancelSent(guard.request);
  if (error) std::rethrow_exception(error);
  *cancel_sent = was_sent;
  co_return results;
}

asio::awaitable<std::vector<PgResult>> PgConnection::Complete(int sent, CancelToken* cancel) {
  bool cancel_sent = false;
  std::vector<PgResult> results = co_await CompleteRaw(sent, cancel, &cancel_sent);
  if (const PGresult* failed = FirstError(results)) throw StatementError(failed, cancel_sent);
  co_return results;
}

asio::awaitable<void> PgConnection::AwaitCancelSent(const std::shared_ptr<CancelRequest>& request) {
  // Returning before PQcancel has delivered its signal would let it cancel whatever this
  // connection runs next; once delivered, a backend that is idle by then ignores it.
  bool delivered = co_await request->done.Wait(Clock::now() + kCancelWait);
  if (!delivered) broken_ = true;
}

asio::awaitable<std::vector<PgResult>> PgConnection::RunSimple(const char* sql) {
  BeforeSend(nullptr);
  int sent = PQsendQuery(conn_, sql);
  co_return co_await Complete(sent, nullptr);
}

asio::awaitable<std::vector<PgResult>> PgConnection::RunParams(const char* sql,
                                                               const Params* params,
                                                               int result_format,
                                                               CancelToken* cancel) {
  PgParams bound(*params);  // invalid parameters fail before anything is sent
  BeforeSend(cancel);
  int sent = PQsendQueryParams(conn_, sql, bound.count(), bound.types(), bound.values(),
                               bound.lengths(), bound.formats(), result_format);
  co_return co_await Complete(sent, cancel);
}

asio::awaitable<QueryResult> PgConnection::Query(std::string sql, Params params,
                                                 CancelTokenPtr cancel) {
  FollowPoolerDetection();
  if (WantsCopy(sql, params, false)) {
    QueryResult out;
    CopyOutcome outcome = co_await CopyQuery(sql, cancel.get(), kBatchRows, nullptr, &out);
    if (outcome != CopyOutcome::kNotCopied) {
      if (out.num_rows() <= kSmallResultRows) {
        if (small_results_.size() >= kMaxSmallResults) small_results_.clear();
        small_results_[sql] = out.num_rows();
      }
      co_return out;
    }
  }
  if (WantsRows(sql, params, false)) {
    QueryResult out;
    CopyOutcome outcome = co_await RowQuery(sql, params, cancel.get(), kBatchRows, nullptr, &out);
    if (outcome != CopyOutcome::kNotCopied) {
      if (out.num_rows() <= kSmallResultRows) {
        if (small_results_.size() >= kMaxSmallResults) small_results_.clear();
        small_results_[sql] = out.num_rows();
      }
      co_return out;
    }
  }
  QueryResult result = co_await RegularQuery(sql, params, cancel.get(), kBatchRows);
  if (result.num_rows() > kSmallResultRows && !small_results_.empty()) {
    small_results_.erase(sql);  // it grew: COPY again next time
  }
  co_return result;
}

asio::awaitable<void> PgConnection::QueryStream(std::string sql, Params params,
                                               CancelTokenPtr cancel, BatchSink& sink,
                                               int64_t batch_rows) {
  FollowPoolerDetection();
  if (batch_rows <= 0) batch_rows = kBatchRows;
  if (WantsCopy(sql, params, true)) {
    CopyOutcome outcome = co_await CopyQuery(sql, cancel.get(), batch_rows, &sink, nullptr);
    if (outcome != CopyOutcome::kNotCopied) co_return;
  }
  if (WantsRows(sql, params, true)) {
    CopyOutcome outcome = co_await RowQuery(sql, params, cancel.get(), batch_rows, &sink, nullptr);
    if (outcome != CopyOutcome::kNotCopied) co_return;
  }
  const int rows = static_cast<int>(std::min<int64_t>(batch_rows, 1 << 30));
  QueryResult result = co_await RegularQuery(sql, params, cancel.get(), rows);
  co_await sink.OnSchema(result.schema);
  for (auto& batch : result.batches) {
    // Named, not `if (!co_await ...)`: g++ 12 miscompiles that form (SIGILL).
    bool more = co_await sink.OnBatch(std::move(batch));
    if (!more) break;
  }
}

asio::awaitable<QueryResult> PgConnection::RegularQuery(const std::string& sql,
                                                        const Params& params,
                                                        CancelToken* cancel, int batch_rows) {
  // Always the extended protocol, even without parameters: it is what lets us ask for
  // binary results. It also means one statement per call.
  StatementRun run = co_await RunStatement(sql, params, kBinaryResults, cancel);
  co_return co_await ToResult(ChooseResult(run.results), run.entry, batch_rows);
}

asio::awaitable<int64_t> PgConnection::Execute(std::string sql, Params params,
                                               CancelTokenPtr cancel) {
  FollowPoolerDetection();
  std::vector<PgResult> results;
  if (params.empty() && params.names.empty()) {
    // The simple protocol accepts several ';'-separated statements (migrations, DDL).
    BeforeSend(cancel.get());
    int sent = PQsendQuery(conn_, sql.c_str());
    results = co_await Complete(sent, cancel.get());
    // The caller dropped the session's prepared statements: so must the cache (else the
    // next run of one would look like a pooler's doing, see DetectPooler).
    const std::string keyword = LeadingKeyword(sql);
    if (keyword == "DISCARD" || keyword == "DEALLOCATE") {
      statements_.Clear();
      pending_deallocate_.clear();
    }
  } else {
    StatementRun run = co_await RunStatement(sql, params, kTextResults, cancel.get());
    results = std::move(run.results);
  }
  co_return results.empty() ? 0 : RowsAffected(results.back().get());
}

asio::awaitable<PgConnection::StatementRun> PgConnection::RunStatement(const std::string& sql,
                                                                       const Params& params,
                                                                       int result_format,
                                                                       CancelToken* cancel) {
  PgParams bound(params);  // invalid parameters fail before anything is sent
  StatementRun run;
  if (!statements_.enabled()) {
    BeforeSend(cancel);
    int sent = PQsendQueryParams(conn_, sql.c_str(), bound.count(), bound.types(),
                                 bound.values(), bound.lengths(), bound.formats(), result_format);
    run.results = co_await Complete(sent, cancel);
    co_return run;
  }
  const std::string key = StatementCache::Key(sql, bound.types(), bound.count());
  StatementCache::Entry* cached = statements_.Find(key);
  if (cached != nullptr) {
    BeforeSend(cancel);
    int sent = PQsendQueryPrepared(conn_, cached->name.c_str(), bound.count(), bound.values(),
                                   bound.lengths(), bound.formats(), result_format);
    bool cancel_sent = false;
    std::vector<PgResult> results = co_await CompleteRaw(sent, cancel, &cancel_sent);
    const PGresult* failed = FirstError(results);
    if (failed == nullptr) {
      run.results = std::move(results);
      run.entry = cached;
      co_return run;
    }
    if (!IsStaleStatement(failed)) throw StatementError(failed, cancel_sent);
    // Gone (26000): nothing to deallocate. Changed (0A000): deallocate it.
    bool exists = ErrorField(failed, PG_DIAG_SQLSTATE) == "0A000";
    statements_.Erase(key, exists ? &pending_deallocate_ : nullptr);
    const bool pooler = DetectPooler(failed);
    // Inside a transaction the error aborted it: nothing more can run, so report it.
    if (InTransaction()) throw pooler ? PoolerError(failed, cancel_sent) : StatementError(failed, cancel_sent);
    // It never ran, so running it again is safe: now as an unnamed statement.
    if (pooler) co_return co_await RunStatement(sql, params, result_format, cancel);
  }

  // Prepare and run in one round trip (pipeline mode); evicted statements are deallocated
  // after a Sync of their own, so that a failure there cannot touch this statement.
  BeforeSend(cancel);
  std::string name = statements_.Add(key, &pending_deallocate_).name;
  int sent = PQenterPipelineMode(conn_);
  if (sent) sent = PQsendPrepare(conn_, name.c_str(), sql.c_str(), bound.count(), bound.types());
  if (sent) {
    sent = PQsendQueryPrepared(conn_, name.c_str(), bound.count(), bound.values(),
                               bound.lengths(), bound.formats(), result_format);
  }
  if (sent) sent = PQpipelineSync(conn_);
  PipelineRun pipeline = co_await RunWithDeallocates(sent, 1, cancel);
  auto& queries = pipeline.segments.at(0);
  if (queries.size() != 2) {
    throw Broken(DbError(ErrorKind::kInternal, "unexpected pipeline results from " + endpoint_));
  }
  if (const PGresult* failed = FirstError(queries[0])) {
    statements_.Erase(key, nullptr);  // not prepared
    throw StatementError(failed, pipeline.cancel_sent);
  }
  if (const PGresult* failed = FirstError(queries[1])) {
    throw StatementError(failed, pipeline.cancel_sent);  // prepared; only this run failed
  }
  run.results = std::move(queries[1]);
  run.entry = statements_.Find(key);
  co_return run;
}

asio::awaitable<void> PgConnection::Begin() {
  CheckReady();
  if (InTransaction()) {
    // PostgreSQL would only warn and keep the open transaction; a nested BEGIN is a bug
    // in the caller that it should hear about.
    throw DbError(ErrorKind::kQuery, "BEGIN: a transaction is already open on this connection",
                  "25001");
  }
  co_await RunSimple("BEGIN");
}

asio::awaitable<void> PgConnection::Commit() {
  auto results = co_await RunSimple("COMMIT");
  // COMMIT of a failed transaction "succeeds" with the tag ROLLBACK: nothing was committed,
  // and the caller must not believe otherwise.
  if (!results.empty() && std::string_view(PQcmdStatus(results.back().get())) == "ROLLBACK") {
    throw DbError(ErrorKind::kQuery,
                  "COMMIT: the transaction was rolled back because a statement in it failed",
                  "25P02");
  }
}

asio::awaitable<void> PgConnection::Rollback() { co_await RunSimple("ROLLBACK"); }

asio::awaitable<void> PgConnection::ResetSession() {
  if (InTransaction()) co_await RunSimple("ROLLBACK");
  co_await RunSimple("DISCARD ALL");  // settings, temp tables, prepared statements, locks
  statements_.Clear();
  pending_deallocate_.clear();
}

asio::awaitable<void> PgConnection::Ping() {
  std::string failure;
  std::string sqlstate;
  try {
    co_await RunSimple("");  // an empty query: one round trip, no parsing, no snapshot
  } catch (const DbError& e) {
    if (e.kind() == ErrorKind::kConnection) throw;
    failure = e.message();
    sqlstate = e.sqlstate();
  }
  if (!failure.empty()) {
    throw DbError(ErrorKind::kConnection, "ping of " + endpoint_ + " failed: " + failure,
                  sqlstate);
  }
}

asio::awaitable<QueryResult> PgConnection::ToResult(const PGresult* result,
                                                    StatementCache::Entry* entry,
                                                    int batch_rows) {
  QueryResult out;
  if (result == nullptr || !HasRows(result)) {
    out.rows_affected = RowsAffected(result);
    co_return out;
  }
  if (entry != nullptr && entry->has_plans && SameColumns(result, entry->columns)) {
    out.batches = ReadBatches(result, entry->plans, batch_rows);
    out.schema = ResultSchema(entry->plans, out.batches);
    co_return out;
  }
  co_await LoadTypes(result);
  std::vector<ColumnPlan> plans = PlansOf(result);
  out.batches = ReadBatches(result, plans, batch_rows);
  out.schema = ResultSchema(plans, out.batches);
  if (entry != nullptr) {
    // LoadTypes runs unnamed statements only, so `entry` is still valid.
    entry->columns.clear();
    for (int c = 0; c < PQnfields(result); ++c) {
      entry->columns.emplace_back(PQftype(result, c), PQfmod(result, c));
    }
    entry->plans = std::move(plans);
    entry->has_plans = true;
  }
  co_return out;
}

std::vector<ColumnPlan> PgConnection::PlansOf(const PGresult* result) const {
  std::vector<ColumnPlan> plans;
  const int columns = PQnfields(result);
  plans.reserve(columns);
  for (int c = 0; c < columns; ++c) {
    plans.push_back(types_.Plan(PQfname(result, c), PQftype(result, c), PQfmod(result, c)));
  }
  return plans;
}

asio::awaitable<void> PgConnection::LoadTypes(const PGresult* result) {
  // A few rounds at most: a domain's base type or an array's element type may itself be
  // unknown (array of a domain over an enum).
  for (int round = 0; round < 4; ++round) {
    std::vector<Oid> missing;
    for (int c = 0; c < PQnfields(result); ++c) types_.CollectMissing(PQftype(result, c), &missing);
    if (missing.empty()) co_return;
    std::string list = "{";
    for (Oid oid : missing) list += (list.size() > 1 ? "," : "") + std::to_string(oid);
    list += "}";
    Params params;
    params.values.emplace_back(list);
    auto rows = co_await RunParams(TypeRegistry::CatalogQuery(), &params, kBinaryResults, nullptr);
    types_.AddCatalogRows(ChooseResult(rows), missing);
  }
}

}  // namespace dbpool::pg
