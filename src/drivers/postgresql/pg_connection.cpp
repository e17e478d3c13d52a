// PgConnection: statements over libpq's async API, results, transactions, ping, cancel.
#include "drivers/postgresql/pg_connection.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <mutex>
#include <string_view>

#include "drivers/postgresql/pg_async.hpp"
#include "drivers/postgresql/pg_error.hpp"
#include "drivers/postgresql/pg_params.hpp"
#include "drivers/postgresql/pg_reader.hpp"

namespace dbpool::pg {

/// Shared by a statement and the cancel handler it installs, which may run on any thread
/// and, through the PQcancel job, outlive the statement.
struct CancelRequest {
  explicit CancelRequest(const asio::any_io_executor& executor) : done(executor) {}
  std::mutex mutex;
  bool closed = false;  // the statement is over: a late Cancel() must send nothing
  bool sent = false;    // a PQcancel job was posted
  Completion done;      // raised when PQcancel has returned
};

namespace {

constexpr int kBinaryResults = 1;
constexpr int kTextResults = 0;
// A cancel request is one short TCP exchange; past this we stop trusting the connection.
constexpr auto kCancelWait = std::chrono::seconds(10);

int64_t RowsAffected(const PGresult* result) {
  if (result == nullptr) return 0;
  const char* tuples = PQcmdTuples(const_cast<PGresult*>(result));
  return (tuples == nullptr || *tuples == '\0') ? 0 : std::strtoll(tuples, nullptr, 10);
}

bool HasRows(const PGresult* result) {
  ExecStatusType status = PQresultStatus(result);
  return status == PGRES_TUPLES_OK || status == PGRES_SINGLE_TUPLE;
}

// Several statements give several results: the last one with rows, else the last one.
const PGresult* ChooseResult(const std::vector<PgResult>& results) {
  for (auto it = results.rbegin(); it != results.rend(); ++it) {
    if (HasRows(it->get())) return it->get();
  }
  return results.empty() ? nullptr : results.back().get();
}

}  // namespace

PgConnection::PgConnection(Runtime& runtime, PGconn* conn, std::string endpoint)
    : runtime_(runtime),
      conn_(conn),
      endpoint_(std::move(endpoint)),
      cancel_handle_(PQgetCancel(conn), [](PGcancel* c) { if (c != nullptr) PQfreeCancel(c); }),
      socket_(runtime.executor()) {
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

asio::awaitable<std::vector<PgResult>> PgConnection::Complete(int sent, CancelToken* cancel) {
  std::vector<PgResult> results;
  bool cancel_sent = false;
  if (cancel == nullptr) {
    results = co_await Exchange(sent);
  } else {
    auto request = std::make_shared<CancelRequest>(socket_.get_executor());
    std::exception_ptr error;
    {
      // Installed once the statement is sent: a cancel that reaches an idle backend is
      // ignored. PQcancel blocks (it opens a connection to the server), so the handler,
      // which may run on any thread, only posts it to the blocking pool.
      CancelScope scope(*cancel, [request, handle = cancel_handle_, runtime = &runtime_] {
        {
          std::lock_guard lock(request->mutex);
          if (request->closed) return;
          request->sent = true;
        }
        asio::post(runtime->blocking_pool(), [request, handle] {
          char reason[256];
          // The outcome shows in the statement's own result (57014, or a normal end).
          PQcancel(handle.get(), reason, sizeof(reason));
          request->done.Signal();
        });
      });
      try {
        results = co_await Exchange(sent);
      } catch (...) {
        error = std::current_exception();
      }
    }
    {
      std::lock_guard lock(request->mutex);
      request->closed = true;
      cancel_sent = request->sent;
    }
    if (cancel_sent) co_await AwaitCancelSent(request);
    if (error) std::rethrow_exception(error);
  }
  for (const PgResult& result : results) {
    ExecStatusType status = PQresultStatus(result.get());
    if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE ||
        status == PGRES_NONFATAL_ERROR) {
      DbError error = ResultError(result.get(), conn_, cancel_sent);
      if (error.kind() == ErrorKind::kConnection) throw Broken(error);
      throw error;
    }
  }
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
  // Always the extended protocol, even without parameters: it is what lets us ask for
  // binary results. It also means one statement per call.
  auto results = co_await RunParams(sql.c_str(), &params, kBinaryResults, cancel.get());
  co_return co_await ToQueryResult(ChooseResult(results));
}

asio::awaitable<int64_t> PgConnection::Execute(std::string sql, Params params,
                                               CancelTokenPtr cancel) {
  std::vector<PgResult> results;
  if (params.empty() && params.names.empty()) {
    // The simple protocol accepts several ';'-separated statements (migrations, DDL).
    BeforeSend(cancel.get());
    int sent = PQsendQuery(conn_, sql.c_str());
    results = co_await Complete(sent, cancel.get());
  } else {
    results = co_await RunParams(sql.c_str(), &params, kTextResults, cancel.get());
  }
  co_return results.empty() ? 0 : RowsAffected(results.back().get());
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

asio::awaitable<QueryResult> PgConnection::ToQueryResult(const PGresult* result) {
  QueryResult out;
  if (result == nullptr || !HasRows(result)) {
    out.rows_affected = RowsAffected(result);
    co_return out;
  }
  co_await LoadTypes(result);
  std::vector<ColumnPlan> plans;
  const int columns = PQnfields(result);
  plans.reserve(columns);
  for (int c = 0; c < columns; ++c) {
    plans.push_back(types_.Plan(PQfname(result, c), PQftype(result, c), PQfmod(result, c)));
  }
  out.batches = ReadBatches(result, plans);
  out.schema = SchemaOf(plans);
  co_return out;
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
