// MssqlConnection: sending statements, waiting with cancellation, reading results,
// transactions.
#include "drivers/mssql/mssql_connection.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <optional>

#include "drivers/mssql/mssql_params.hpp"
#include "drivers/mssql/mssql_reader.hpp"

namespace dbpool::mssql {
namespace {

// How long a cancelled statement may take to send and have acknowledged its attention
// before the socket is shut down (the connection is then replaced). The reading thread
// sends the attention itself: between rows when rows flow, or, blocked in a db-lib read
// while the server pauses mid-result, at db-lib's next once-a-second interrupt check (see
// AttachSink); both are well within this.
constexpr auto kCancelGrace = std::chrono::milliseconds(2500);

void ArmWatchdog(const std::shared_ptr<CancelTarget>& target, uint64_t op,
                 const asio::any_io_executor& executor, bool attention_seen) {
  auto timer = std::make_shared<asio::steady_timer>(executor, kCancelGrace);
  timer->async_wait([timer, target, op, executor, attention_seen](const asio::error_code&) {
    std::lock_guard lock(target->mutex);
    if (target->operation != op || target->socket_fd < 0) return;
    if (!attention_seen && target->attention_sent.load(std::memory_order_acquire)) {
      // The attention went out late: give its acknowledgement one more grace.
      ArmWatchdog(target, op, executor, true);
      return;
    }
    ::shutdown(target->socket_fd, SHUT_RDWR);
  });
}

constexpr const char* kSessionSettings =
    "SET TEXTSIZE 2147483647; SET ANSI_NULLS ON; SET ANSI_PADDING ON; SET ANSI_WARNINGS ON; "
    "SET CONCAT_NULL_YIELDS_NULL ON; SET QUOTED_IDENTIFIER ON";

std::string FormatSeconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", seconds);
  return text;
}

}  // namespace

CancelTarget::CancelTarget() : event_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (event_fd < 0) {
    throw DbError(ErrorKind::kConnection, "eventfd failed: " + std::string(std::strerror(errno)));
  }
}

CancelTarget::~CancelTarget() {
  if (event_fd >= 0) ::close(event_fd);
}

void CancelTarget::Cancel(const std::shared_ptr<CancelTarget>& target, uint64_t op,
                          const asio::any_io_executor& executor) {
  {
    std::lock_guard lock(target->mutex);
    if (target->operation != op) return;
    target->cancelled.store(true, std::memory_order_release);
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(target->event_fd, &one, sizeof(one));
  }
  ArmWatchdog(target, op, executor, false);
}

MssqlConnection::MssqlConnection(Runtime& runtime, DBPROCESS* dbproc, std::string endpoint,
                                 const MssqlOptions& options)
    : runtime_(runtime), dbproc_(dbproc), endpoint_(std::move(endpoint)), options_(options) {
  try {
    target_ = std::make_shared<CancelTarget>();
  } catch (...) {
    dbclose(dbproc);
    throw;
  }
  target_->socket_fd = dbiordesc(dbproc_);
  spid_ = dbspid(dbproc_);
  sink_.cancelled = &target_->cancelled;
  sink_.attention_sent = &target_->attention_sent;
  AttachSink(dbproc_, &sink_);
}

MssqlConnection::~MssqlConnection() {
  {
    std::lock_guard lock(target_->mutex);
    target_->socket_fd = -1;
    target_->operation = 0;
  }
  AttachSink(dbproc_, nullptr);  // later messages (from dbclose) must not reach sink_
  // dbclose may write to the socket: off the event loop, like every db-lib call.
  asio::post(runtime_.blocking_pool(), [dbproc = dbproc_] { dbclose(dbproc); });
}

void MssqlConnection::Initialise() { Run(kSessionSettings, {}, nullptr, false); }

DbError MssqlConnection::Failure(std::string_view context) {
  const bool dead = dbdead(dbproc_) == TRUE;
  if (dead) broken_.store(true, std::memory_order_release);
  DbError error = StatementError(sink_, dead, context);
  if (error.kind() == ErrorKind::kConnection) broken_.store(true, std::memory_order_release);
  return error;
}

void MssqlConnection::CancelStatement() {
  target_->attention_sent.store(true, std::memory_order_release);
  if (dbcancel(dbproc_) == FAIL || dbdead(dbproc_) == TRUE) {
    broken_.store(true, std::memory_order_release);
  }
}

void MssqlConnection::ThrowCancelled() {
  throw DbError(ErrorKind::kCancelled, "statement cancelled", "HY008");
}

void MssqlConnection::CheckUsable(CancelToken* cancel) const {
  if (broken_.load(std::memory_order_acquire)) {
    throw DbError(ErrorKind::kConnection, "the connection to " + endpoint_ + " is broken",
                  "08S01");
  }
  if (cancel != nullptr && cancel->cancelled()) {
    throw DbError(ErrorKind::kCancelled, "cancelled before the statement started", "HY008");
  }
}

MssqlConnection::Operation::Operation(MssqlConnection& connection, CancelToken* cancel)
    : target_(*connection.target_) {
  const uint64_t op = ++connection.next_operation_;
  {
    std::lock_guard lock(target_.mutex);
    target_.operation = op;
    target_.cancelled.store(false, std::memory_order_release);
    target_.reading.store(false, std::memory_order_release);
    target_.attention_sent.store(false, std::memory_order_release);
    uint64_t drained;
    while (::read(target_.event_fd, &drained, sizeof(drained)) > 0) {
    }
  }
  if (cancel != nullptr) {
    scope_.emplace(*cancel, [target = connection.target_, op,
                             executor = connection.runtime_.executor()] {
      CancelTarget::Cancel(target, op, executor);
    });
  }
}

MssqlConnection::Operation::~Operation() {
  scope_.reset();  // no cancel reaches the target once the operation has ended
  std::lock_guard lock(target_.mutex);
  target_.operation = 0;
}

QueryResult MssqlConnection::Run(const std::string& sql, const Params& params,
                                 CancelToken* cancel, bool want_rows) {
  CheckUsable(cancel);
  Operation operation(*this, cancel);
  return Exchange(sql, params, want_rows);
}

QueryResult MssqlConnection::Exchange(const std::string& sql, const Params& params,
                                      bool want_rows) {
  Send(sql, params);
  return ReadResults(want_rows);
}

void MssqlConnection::Send(const std::string& sql, const Params& params) {
  if (sql.find_first_not_of(" \t\r\n;") == std::string::npos) {
    throw DbError(ErrorKind::kQuery, "empty statement", "42000");
  }
  sink_.Clear();
  RETCODE sent;
  if (params.empty()) {
    // A plain batch: no parameters, several statements allowed.
    sent = dbcmd(dbproc_, sql.c_str());
    if (sent != FAIL) sent = dbsqlsend(dbproc_);
  } else {
    RpcCall call = BuildRpc(sql, params);
    sent = SendRpc(dbproc_, call);
  }
  if (sent == FAIL) {
    DbError error = Failure("could not send the statement to " + endpoint_);
    if (!IsBroken()) dbfreebuf(dbproc_);
    throw error;
  }
  switch (WaitForResponse()) {
    case Wait::kReady:
      target_->reading.store(true, std::memory_order_release);
      return;
    case Wait::kCancelled:
      CancelStatement();
      ThrowCancelled();
    case Wait::kTimeout:
      // Arms the watchdog too, in case the server does not acknowledge the attention.
      CancelTarget::Cancel(target_, next_operation_, runtime_.executor());
      CancelStatement();
      throw DbError(ErrorKind::kQuery,
                    "query timeout expired after " + FormatSeconds(options_.statement_timeout) +
                        " s (statement_timeout)",
                    "HYT00");
  }
}

MssqlConnection::Wait MssqlConnection::WaitForResponse() {
  using Clock = std::chrono::steady_clock;
  const bool timed = options_.statement_timeout > 0;
  const Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(timed ? options_.statement_timeout : 0));
  pollfd fds[2] = {{dbiordesc(dbproc_), POLLIN, 0}, {target_->event_fd, POLLIN, 0}};
  while (true) {
    if (target_->cancelled.load(std::memory_order_acquire)) return Wait::kCancelled;
    int timeout_ms = -1;
    if (timed) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return Wait::kTimeout;
      timeout_ms = static_cast<int>(std::min<int64_t>(left.count() + 1, 1 << 30));
    }
    int n = ::poll(fds, 2, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Wait::kReady;  // let db-lib find out what is wrong with the socket
    }
    if (n == 0) continue;  // the deadline check above decides
    if (fds[0].revents != 0) return Wait::kReady;
    // Otherwise the eventfd: the loop head sees the flag.
  }
}

QueryResult MssqlConnection::ReadResults(bool want_rows) {
  QueryResult result;
  result.rows_affected = 0;
  bool have_rows = false;
  bool failed = dbsqlok(dbproc_) == FAIL;
  int64_t affected = 0;
  while (true) {
    if (target_->cancelled.load(std::memory_order_acquire)) {
      CancelStatement();
      ThrowCancelled();
    }
    if (dbdead(dbproc_) == TRUE) {
      if (target_->cancelled.load(std::memory_order_acquire)) {
        broken_.store(true, std::memory_order_release);
        ThrowCancelled();
      }
      throw Failure("the connection to " + endpoint_ + " was lost");
    }
    RETCODE rc = dbresults(dbproc_);
    if (rc == NO_MORE_RESULTS) break;
    if (rc == FAIL) {
      failed = true;
      continue;
    }
    if (dbnumcols(dbproc_) > 0) {
      if (!want_rows) {
        dbcanquery(dbproc_);  // discards the rows
        continue;
      }
      QueryResult rows;
      bool complete;
      try {
        complete = ReadResultSet(dbproc_, target_->cancelled, &rows);
      } catch (const DbError& error) {
        if (error.kind() == ErrorKind::kDataConversion) {
          CancelStatement();  // the rest of the result is discarded
          throw;
        }
        if (target_->cancelled.load(std::memory_order_acquire) && dbdead(dbproc_) != TRUE) {
          // db-lib sent the attention from its interrupt check and read the DONE_ATTN; the
          // row read it interrupted reports a failure. Nothing is left to drain.
          CancelStatement();
          ThrowCancelled();
        }
        throw Failure("reading the result from " + endpoint_ + " failed");
      }
      if (!complete) {
        CancelStatement();
        ThrowCancelled();
      }
      result = std::move(rows);
      have_rows = true;
      continue;
    }
    DBINT count = dbcount(dbproc_);
    if (count > 0) affected += count;
  }
  if (failed || !sink_.server_errors().empty()) {
    if (target_->cancelled.load(std::memory_order_acquire)) ThrowCancelled();
    throw Failure("the statement failed");
  }
  if (!have_rows) {
    result.schema.clear();
    result.batches.clear();
    result.rows_affected = affected;
  }
  return result;
}

asio::awaitable<QueryResult> MssqlConnection::Query(std::string sql, Params params,
                                                    CancelTokenPtr cancel) {
  // sql, params and cancel live in this coroutine's frame until the call returns.
  co_return co_await runtime_.RunBlocking([this, sql = &sql, params = &params, c = cancel.get()] {
    return Run(*sql, *params, c, true);
  });
}

asio::awaitable<int64_t> MssqlConnection::Execute(std::string sql, Params params,
                                                  CancelTokenPtr cancel) {
  co_return co_await runtime_.RunBlocking([this, sql = &sql, params = &params, c = cancel.get()] {
    return Run(*sql, *params, c, false).rows_affected;
  });
}

asio::awaitable<void> MssqlConnection::Begin() {
  co_await runtime_.RunBlocking([this] {
    Run("BEGIN TRANSACTION", {}, nullptr, false);
    in_transaction_.store(true, std::memory_order_release);
  });
}

asio::awaitable<void> MssqlConnection::Commit() {
  co_await runtime_.RunBlocking([this] {
    // Whatever happens the transaction is over: committed, or rolled back by the server.
    struct Ended {
      std::atomic<bool>& flag;
      ~Ended() { flag.store(false, std::memory_order_release); }
    } ended{in_transaction_};
    Run("COMMIT TRANSACTION", {}, nullptr, false);
  });
}

asio::awaitable<void> MssqlConnection::Rollback() {
  co_await runtime_.RunBlocking([this] {
    if (!in_transaction_.load(std::memory_order_acquire)) return;
    try {
      Run("ROLLBACK TRANSACTION", {}, nullptr, false);
    } catch (const DbError& error) {
      // 3903: the server already ended it (XACT_ABORT, a severe error): nothing to undo.
      if (error.vendor_code() != 3903) {
        in_transaction_.store(false, std::memory_order_release);
        throw;
      }
    }
    in_transaction_.store(false, std::memory_order_release);
  });
}

asio::awaitable<void> MssqlConnection::Ping() {
  co_await runtime_.RunBlocking([this] {
    try {
      Run("SELECT 1", {}, nullptr, false);
    } catch (const DbError& error) {
      broken_.store(true, std::memory_order_release);
      throw DbError(ErrorKind::kConnection, "ping failed: " + error.message(), error.sqlstate(),
                    error.vendor_code());
    }
  });
}

}  // namespace dbpool::mssql
