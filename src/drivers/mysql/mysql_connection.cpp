// MysqlConnection: statements over Connector/C's non-blocking API, results, transactions,
// ping, cancellation by KILL QUERY.
//
// Each _start/_cont call runs a slice of the library's own coroutine (on its own stack) on
// whichever event-loop thread resumed us. That is safe across threads: the library keeps
// all its state in the MYSQL handle, and reads errno right after each socket call (see
// ma_pvio_read_async / ma_pvio_write_async), never across a suspension.
#include "drivers/mysql/mysql_connection.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>

#include "runtime/job_signal.hpp"
#include "drivers/mysql/mysql_error.hpp"
#include "drivers/mysql/mysql_params.hpp"

namespace dbpool::mysql {

using Clock = JobSignal::Clock;

/// Shared by a statement and the cancel handler it installs, which may run on any thread
/// and, through the KILL QUERY job, outlive the statement.
struct KillRequest {
  explicit KillRequest(const asio::any_io_executor& executor) : done(executor) {}
  std::mutex mutex;
  bool closed = false;  // the statement is over: a late Cancel() must send nothing
  bool sent = false;    // a KILL QUERY job was posted
  JobSignal done;  // raised when the job has finished
};

namespace {

// The KILL side session connects and answers within ~10 s (5 s connect, 5 s read); past
// this we stop trusting the connection.
constexpr auto kKillWait = std::chrono::seconds(20);

// Closes a statement when the coroutine that owns it ends abnormally (destroyed while
// suspended, or an unexpected exception): the session state is unknown then, so the
// connection is marked broken first and mysql_stmt_close cannot block on it.
class StmtGuard {
 public:
  StmtGuard(MYSQL_STMT* stmt, std::function<void()> on_abandon)
      : stmt_(stmt), on_abandon_(std::move(on_abandon)) {}
  ~StmtGuard() {
    if (stmt_ == nullptr) return;
    on_abandon_();
    mysql_stmt_close(stmt_);
  }
  StmtGuard(const StmtGuard&) = delete;
  StmtGuard& operator=(const StmtGuard&) = delete;
  MYSQL_STMT* release() { return std::exchange(stmt_, nullptr); }

 private:
  MYSQL_STMT* stmt_;
  std::function<void()> on_abandon_;
};

// Frees a text-protocol result when the coroutine ends (all rows have been read by then,
// or the connection is broken and its socket shut, so mysql_free_result cannot block).
struct ResultGuard {
  MYSQL_RES* res;
  ~ResultGuard() {
    if (res != nullptr) mysql_free_result(res);
  }
};

std::optional<DbError> AsDbError(const std::exception_ptr& error) {
  if (!error) return std::nullopt;
  try {
    std::rethrow_exception(error);
  } catch (const DbError& e) {
    return e;
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

MysqlConnection::MysqlConnection(Runtime& runtime, MYSQL* mysql,
                                 std::shared_ptr<const Settings> settings)
    : runtime_(runtime),
      mysql_(mysql),
      settings_(std::move(settings)),
      endpoint_(settings_->Endpoint()),
      thread_id_(mysql_thread_id(mysql)),
      socket_(runtime.executor()) {
  // Asio watches a duplicate of the library's socket, never its own descriptor: when the
  // connection is lost the library closes its fd, the number may be reused by another
  // connection, and deregistering the old number would remove that other one from epoll.
  int fd = ::fcntl(mysql_get_socket(mysql_), F_DUPFD_CLOEXEC, 0);
  asio::error_code ec;
  if (fd >= 0) socket_.assign(fd, ec);
  if (fd < 0 || ec) {
    if (fd >= 0) ::close(fd);
    CloseHard(mysql_);
    throw DbError(ErrorKind::kConnection, "could not watch the socket of " + endpoint_);
  }
}

MysqlConnection::~MysqlConnection() {
  // A session in the middle of a call (or already broken) is cut; a clean one says
  // COM_QUIT, a few bytes that the idle socket takes at once.
  if (broken_ || busy_) {
    CloseHard(mysql_);
  } else {
    mysql_close(mysql_);
  }
  asio::error_code ec;
  socket_.close(ec);
}

bool MysqlConnection::InTransaction() const {
  unsigned int status = 0;
  mariadb_get_infov(mysql_, MARIADB_CONNECTION_SERVER_STATUS, &status);
  return (status & SERVER_STATUS_IN_TRANS) != 0;
}

int64_t MysqlConnection::ServerSessionId() const { return static_cast<int64_t>(thread_id_); }

DbError MysqlConnection::Broken(DbError error) {
  if (!broken_) {
    broken_ = true;
    // Nothing may wait on this session any more (a later mysql_close or statement close
    // would otherwise try to talk to it): its socket is shut for reading and writing.
    if (socket_.is_open()) ::shutdown(socket_.native_handle(), SHUT_RDWR);
  }
  return error;
}

DbError MysqlConnection::Fail(DbError error) {
  if (error.kind() == ErrorKind::kConnection) return Broken(std::move(error));
  return error;
}

void MysqlConnection::CheckReady() {
  if (broken_) {
    throw DbError(ErrorKind::kConnection, "the connection to " + endpoint_ + " is broken");
  }
  if (busy_) {
    // A previous operation was abandoned (its coroutine destroyed) in the middle of a
    // library call: the protocol state is unknown.
    throw Broken(DbError(ErrorKind::kConnection,
                         "a previous statement on the connection to " + endpoint_ +
                             " was abandoned before it finished"));
  }
}

asio::awaitable<int> MysqlConnection::WaitEvents(int status) {
  if ((status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE)) == 0) {
    // Only a library timeout (sessions configure none after connecting): wait it out.
    asio::steady_timer timer(socket_.get_executor(),
                             std::chrono::milliseconds(mysql_get_timeout_value_ms(mysql_)));
    co_await timer.async_wait(asio::use_awaitable);
    co_return MYSQL_WAIT_TIMEOUT;
  }
  const bool write = (status & MYSQL_WAIT_WRITE) != 0;
  asio::error_code ec;
  co_await socket_.async_wait(write ? asio::posix::stream_descriptor::wait_write
                                    : asio::posix::stream_descriptor::wait_read,
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
  co_return write ? MYSQL_WAIT_WRITE : MYSQL_WAIT_READ;
}

template <typename R, typename H>
asio::awaitable<void> MysqlConnection::Finish(int status, R* ret, H* handle,
                                              int (*cont)(R*, H*, int)) {
  // `status` is what the _start call (made by the caller, before this coroutine) returned:
  // 0 when it completed without waiting, else the events the library waits for.
  while (status != 0) {
    busy_ = true;
    int ready = co_await WaitEvents(status);
    status = cont(ret, handle, ready);
  }
  busy_ = false;
}

// ---------------------------------------------------------------- statements

asio::awaitable<void> MysqlConnection::Run(const std::string* sql, const Params* params,
                                           CancelToken* cancel, Output* out, bool text) {
  CheckReady();
  if (cancel != nullptr && cancel->cancelled()) {
    throw DbError(ErrorKind::kCancelled, "statement cancelled before it was sent");
  }
  std::shared_ptr<KillRequest> request;
  std::exception_ptr error;
  {
    std::optional<CancelScope> scope;
    if (cancel != nullptr) {
      request = std::make_shared<KillRequest>(socket_.get_executor());
      // KILL QUERY needs a second session, which blocks while it connects: the handler
      // (any thread) only posts it to the blocking pool. If the KILL cannot be delivered,
      // the job shuts the socket down instead, so the statement still ends at once (and
      // the connection is dropped).
      scope.emplace(*cancel, [request, settings = settings_, thread = thread_id_,
                              fd = socket_.native_handle(), runtime = &runtime_] {
        int socket_copy = -1;
        {
          std::lock_guard lock(request->mutex);
          if (request->closed) return;
          request->sent = true;
          socket_copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        }
        asio::post(runtime->blocking_pool(), [request, settings, thread, socket_copy] {
          std::string failure = KillQuery(*settings, thread);
          if (socket_copy >= 0) {
            if (!failure.empty()) ::shutdown(socket_copy, SHUT_RDWR);
            ::close(socket_copy);
          }
          request->done.Signal();
        });
      });
    }
    try {
      if (cancel != nullptr && cancel->cancelled()) {
        throw DbError(ErrorKind::kCancelled, "statement cancelled before it was sent");
      }
      if (text) {
        co_await RunText(sql, out);
      } else {
        bool unsupported = false;
        co_await RunPrepared(sql, params, out, &unsupported);
        // Statements the server cannot prepare (ER_UNSUPPORTED_PS) run as text.
        if (unsupported) co_await RunText(sql, out);
      }
    } catch (...) {
      error = std::current_exception();
    }
  }
  bool cancel_sent = false;
  if (request) {
    {
      std::lock_guard lock(request->mutex);
      request->closed = true;
      cancel_sent = request->sent;
    }
    if (cancel_sent) {
      // Returning before the KILL has been delivered would let it hit whatever this
      // connection runs next.
      bool delivered = co_await request->done.Wait(Clock::now() + kKillWait);
      if (!delivered) {
        Broken(DbError(ErrorKind::kConnection, "KILL QUERY to " + endpoint_ + " timed out"));
      }
    }
  }
  if (cancel_sent) {
    // The caller asked to cancel: whatever the statement did meanwhile (interrupted with
    // ER_QUERY_INTERRUPTED, finished anyway, or lost its connection), it is cancelled.
    std::optional<DbError> db = AsDbError(error);
    if (db && db->kind() == ErrorKind::kCancelled) std::rethrow_exception(error);
    if (db && db->vendor_code() == kQueryInterrupted) {
      throw DbError(ErrorKind::kCancelled, "statement cancelled: " + db->message(),
                    db->sqlstate(), db->vendor_code());
    }
    throw DbError(ErrorKind::kCancelled,
                  broken_ ? "statement cancelled; the connection was closed"
                          : "statement cancelled",
                  "70100", kQueryInterrupted);
  }
  if (error) std::rethrow_exception(error);
}

asio::awaitable<void> MysqlConnection::RunPrepared(const std::string* sql, const Params* params,
                                                   Output* out, bool* unsupported) {
  BoundParams bound(*params);  // invalid parameters fail before anything is sent
  MYSQL_STMT* stmt = mysql_stmt_init(mysql_);
  if (stmt == nullptr) throw Fail(SessionError(mysql_, false));
  StmtGuard guard(stmt, [this] {
    Broken(DbError(ErrorKind::kConnection, "statement abandoned"));
  });
  int rc = 0;
  co_await Finish(mysql_stmt_prepare_start(&rc, stmt, sql->data(), sql->size()), &rc, stmt,
                  &mysql_stmt_prepare_cont);
  std::exception_ptr error;
  if (rc != 0) {
    DbError failure = Fail(StmtError(stmt, false));
    if (failure.vendor_code() == kUnsupportedPs && params->empty()) {
      *unsupported = true;
    } else {
      error = std::make_exception_ptr(failure);
    }
  } else {
    try {
      const unsigned long placeholders = mysql_stmt_param_count(stmt);
      if (placeholders != bound.count()) {
        throw DbError(ErrorKind::kQuery,
                      "the statement has " + std::to_string(placeholders) +
                          " placeholder(s) (?) but " + std::to_string(bound.count()) +
                          " parameter(s) were given",
                      "07001");
      }
      if (bound.count() > 0 && mysql_stmt_bind_param(stmt, bound.binds()) != 0) {
        throw Fail(StmtError(stmt, false));
      }
      co_await Finish(mysql_stmt_execute_start(&rc, stmt), &rc, stmt, &mysql_stmt_execute_cont);
      if (rc != 0) throw Fail(StmtError(stmt, false));
      // One result per statement; a CALL may give several: the first result set is kept
      // and the others are read past (mysql_stmt_next_result discards unread rows).
      bool got_rows = false;
      for (;;) {
        if (mysql_stmt_field_count(stmt) > 0) {
          if (!got_rows) co_await ReadStmtRows(stmt, out);
          got_rows = true;
        } else if (!got_rows) {
          out->rows = static_cast<int64_t>(mysql_stmt_affected_rows(stmt));
        }
        if (!mysql_stmt_more_results(stmt)) break;
        co_await Finish(mysql_stmt_next_result_start(&rc, stmt), &rc, stmt,
                        &mysql_stmt_next_result_cont);
        if (rc > 0) throw Fail(StmtError(stmt, false));
        if (rc < 0) break;
      }
      if (!got_rows && out->result != nullptr) out->result->rows_affected = out->rows;
    } catch (...) {
      error = std::current_exception();
    }
  }
  co_await CloseStmt(guard.release());
  if (error) std::rethrow_exception(error);
}

asio::awaitable<void> MysqlConnection::CloseStmt(MYSQL_STMT* stmt) {
  if (broken_) {
    mysql_stmt_close(stmt);  // the socket is shut: nothing blocks
    co_return;
  }
  // Also reads past any rows and results the statement still has pending.
  my_bool failed = 0;
  co_await Finish(mysql_stmt_close_start(&failed, stmt), &failed, stmt, &mysql_stmt_close_cont);
  if (failed && IsConnectionErrno(mysql_errno(mysql_))) {
    Broken(SessionError(mysql_, false));
  }
}

asio::awaitable<bool> MysqlConnection::Flush(arrow::RecordBatchBuilder& builder, Output* out) {
  RecordBatch batch = builder.Finish();
  if (out->sink != nullptr) {
    bool more = co_await out->sink->OnBatch(std::move(batch));
    co_return more;
  }
  out->result->batches.push_back(std::move(batch));
  co_return true;
}

asio::awaitable<void> MysqlConnection::ReadStmtRows(MYSQL_STMT* stmt, Output* out) {
  int rc = 0;
  if (out->count_only) {
    // No result binding: the library only walks the rows.
    int64_t rows = 0;
    for (;;) {
      co_await Finish(mysql_stmt_fetch_start(&rc, stmt), &rc, stmt, &mysql_stmt_fetch_cont);
      if (rc == MYSQL_NO_DATA) break;
      if (rc == 1) throw Fail(StmtError(stmt, false));
      ++rows;
    }
    out->rows = rows;
    co_return;
  }
  std::vector<ColumnPlan> plans;
  {
    MYSQL_RES* meta = mysql_stmt_result_metadata(stmt);
    if (meta == nullptr) throw Fail(StmtError(stmt, false));
    const unsigned int columns = mysql_num_fields(meta);
    const MYSQL_FIELD* fields = mysql_fetch_fields(meta);
    plans.reserve(columns);
    for (unsigned int c = 0; c < columns; ++c) plans.push_back(PlanColumn(ReadField(fields[c])));
    mysql_free_result(meta);
  }
  BinaryRowReader reader(std::move(plans), settings_->zero_date);
  if (mysql_stmt_bind_result(stmt, reader.binds()) != 0) throw Fail(StmtError(stmt, false));
  arrow::RecordBatchBuilder builder(SchemaOf(reader.plans()));
  if (out->sink != nullptr) {
    out->schema_sent = true;
    co_await out->sink->OnSchema(builder.schema());
  } else {
    out->result->schema = builder.schema();
  }
  for (;;) {
    co_await Finish(mysql_stmt_fetch_start(&rc, stmt), &rc, stmt, &mysql_stmt_fetch_cont);
    if (rc == MYSQL_NO_DATA) break;
    if (rc == 1) throw Fail(StmtError(stmt, false));
    // 0 or MYSQL_DATA_TRUNCATED: values longer than their bound buffer are read in full
    // by AppendRow.
    reader.AppendRow(stmt, builder);
    if (reader.TakeRebind() && mysql_stmt_bind_result(stmt, reader.binds()) != 0) {
      throw Fail(StmtError(stmt, false));
    }
    if (builder.num_rows() >= out->batch_rows) {
      bool more = co_await Flush(builder, out);
      if (!more) co_return;  // the statement's close reads past the rest
    }
  }
  // No rows, no batch: the schema alone describes an empty result.
  if (builder.num_rows() > 0) co_await Flush(builder, out);
}

asio::awaitable<void> MysqlConnection::RunText(const std::string* sql, Output* out) {
  int rc = 0;
  co_await Finish(mysql_real_query_start(&rc, mysql_, sql->data(), sql->size()), &rc, mysql_,
                  &mysql_real_query_cont);
  if (rc != 0) throw Fail(SessionError(mysql_, false));
  std::exception_ptr error;
  try {
    // Several ';'-separated statements give one result each: Query keeps the first result
    // set, Execute counts the last statement.
    bool got_rows = false;
    for (;;) {
      if (mysql_field_count(mysql_) > 0) {
        ResultGuard guard{mysql_use_result(mysql_)};
        if (guard.res == nullptr) throw Fail(SessionError(mysql_, false));
        const bool keep = out->count_only || !got_rows;
        co_await ReadTextRows(guard.res, keep ? out : nullptr);
        got_rows = true;
      } else if (out->count_only || !got_rows) {
        out->rows = static_cast<int64_t>(mysql_affected_rows(mysql_));
      }
      if (!mysql_more_results(mysql_)) break;
      co_await Finish(mysql_next_result_start(&rc, mysql_), &rc, mysql_, &mysql_next_result_cont);
      if (rc > 0) throw Fail(SessionError(mysql_, false));
      if (rc < 0) break;
    }
    if (!got_rows && out->result != nullptr) out->result->rows_affected = out->rows;
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    if (!broken_) co_await DrainText();
    std::rethrow_exception(error);
  }
}

asio::awaitable<void> MysqlConnection::DrainText() {
  while (!broken_ && mysql_more_results(mysql_)) {
    int rc = 0;
    co_await Finish(mysql_next_result_start(&rc, mysql_), &rc, mysql_, &mysql_next_result_cont);
    if (rc != 0) {
      if (rc > 0 && IsConnectionErrno(mysql_errno(mysql_))) Broken(SessionError(mysql_, false));
      break;
    }
    if (mysql_field_count(mysql_) > 0) {
      ResultGuard guard{mysql_use_result(mysql_)};
      if (guard.res == nullptr) break;
      try {
        co_await ReadTextRows(guard.res, nullptr);
      } catch (const DbError&) {
        // Keep draining: the first error is the one the caller sees.
      }
    }
  }
}

asio::awaitable<void> MysqlConnection::ReadTextRows(MYSQL_RES* res, Output* out) {
  std::optional<arrow::RecordBatchBuilder> builder;
  std::vector<ColumnPlan> plans;
  const bool build = out != nullptr && !out->count_only;
  if (build) {
    const unsigned int columns = mysql_num_fields(res);
    const MYSQL_FIELD* fields = mysql_fetch_fields(res);
    for (unsigned int c = 0; c < columns; ++c) plans.push_back(PlanColumn(ReadField(fields[c])));
    builder.emplace(SchemaOf(plans));
    if (out->sink != nullptr) {
      out->schema_sent = true;
      co_await out->sink->OnSchema(builder->schema());
    } else {
      out->result->schema = builder->schema();
    }
  }
  std::exception_ptr conversion;  // rows are read to the end even after a bad value
  bool stopped = false;
  int64_t rows = 0;
  for (;;) {
    MYSQL_ROW row = nullptr;
    co_await Finish(mysql_fetch_row_start(&row, res), &row, res, &mysql_fetch_row_cont);
    if (row == nullptr) {
      if (mysql_errno(mysql_) != 0) throw Fail(SessionError(mysql_, false));
      break;
    }
    ++rows;
    if (!build || conversion || stopped) continue;
    try {
      AppendTextRow(plans, row, mysql_fetch_lengths(res), settings_->zero_date, rows, *builder);
    } catch (...) {
      conversion = std::current_exception();
      continue;
    }
    if (builder->num_rows() >= out->batch_rows) {
      bool more = co_await Flush(*builder, out);
      if (!more) stopped = true;
    }
  }
  if (conversion) std::rethrow_exception(conversion);
  if (out != nullptr && out->count_only) out->rows = rows;
  if (build && !stopped && builder->num_rows() > 0) co_await Flush(*builder, out);
}

// ---------------------------------------------------------------- Connection API

asio::awaitable<QueryResult> MysqlConnection::Query(std::string sql, Params params,
                                                    CancelTokenPtr cancel) {
  QueryResult result;
  Output out;
  out.result = &result;
  co_await Run(&sql, &params, cancel.get(), &out, false);
  co_return result;
}

asio::awaitable<int64_t> MysqlConnection::Execute(std::string sql, Params params,
                                                  CancelTokenPtr cancel) {
  Output out;
  out.count_only = true;
  // Without parameters the text protocol runs it, so a script of several statements
  // (migrations, DDL) works; with parameters it is one prepared statement.
  const bool text = params.empty() && params.names.empty();
  co_await Run(&sql, &params, cancel.get(), &out, text);
  co_return out.rows;
}

asio::awaitable<void> MysqlConnection::QueryStream(std::string sql, Params params,
                                                   CancelTokenPtr cancel, BatchSink& sink,
                                                   int64_t batch_rows) {
  Output out;
  out.sink = &sink;
  out.batch_rows = batch_rows > 0 ? batch_rows : kBatchRows;
  co_await Run(&sql, &params, cancel.get(), &out, false);
  // A statement without a result set still gives a schema (an empty one).
  if (!out.schema_sent) {
    arrow::Schema empty;
    co_await sink.OnSchema(std::move(empty));
  }
}

asio::awaitable<void> MysqlConnection::RunSimple(const char* sql) {
  const std::string text(sql);
  const Params none;
  Output out;
  out.count_only = true;
  co_await Run(&text, &none, nullptr, &out, true);
}

asio::awaitable<void> MysqlConnection::Begin() {
  CheckReady();
  if (InTransaction()) {
    // MySQL would silently commit the open transaction; a nested BEGIN is a bug in the
    // caller that it should hear about.
    throw DbError(ErrorKind::kQuery, "BEGIN: a transaction is already open on this connection",
                  "25001");
  }
  co_await RunSimple("BEGIN");
}

asio::awaitable<void> MysqlConnection::Commit() { co_await RunSimple("COMMIT"); }

asio::awaitable<void> MysqlConnection::Rollback() { co_await RunSimple("ROLLBACK"); }

asio::awaitable<void> MysqlConnection::Ping() {
  CheckReady();
  int rc = 0;
  co_await Finish(mysql_ping_start(&rc, mysql_), &rc, mysql_, &mysql_ping_cont);
  if (rc != 0) {
    DbError cause = SessionError(mysql_, false);
    throw Broken(DbError(ErrorKind::kConnection,
                         "ping of " + endpoint_ + " failed: " + cause.message(),
                         cause.sqlstate(), cause.vendor_code()));
  }
}

}  // namespace dbpool::mysql
