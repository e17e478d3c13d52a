// SqliteConnection: opening and configuring handles, running statements, transactions and
// cancellation, all on the runtime's blocking pool.
#include "drivers/sqlite/sqlite_connection.hpp"

#include <optional>
#include <utility>

#include "drivers/sqlite/sqlite_error.hpp"
#include "drivers/sqlite/sqlite_reader.hpp"

namespace dbpool::sqlite {
namespace {

constexpr size_t kStatementCacheSize = 32;
// Longer SQL (bulk literal inserts, scripts) is rarely repeated and would pin memory.
constexpr size_t kMaxCachedSqlBytes = 8192;
// How often (in VM instructions) the progress handler polls the cancel token: about every
// few microseconds of work, cheap next to the instructions themselves.
constexpr int kProgressPeriod = 1000;

int CancelRequested(void* token) {
  return static_cast<CancelToken*>(token)->cancelled() ? 1 : 0;
}

// Runs `sql` and returns the first column of its first row as text ("" when none).
std::string QueryScalar(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  if (rc != SQLITE_OK) throw MakeError(db, rc, sql);
  StatementLease lease(stmt, false);
  std::string value;
  bool first = true;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (first && sqlite3_column_text(stmt, 0) != nullptr) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    first = false;
  }
  if (rc != SQLITE_DONE) throw MakeError(db, rc, sql);
  return value;
}

}  // namespace

sqlite3* OpenHandle(const std::string& target, const std::string& display_name) {
  // READWRITE|CREATE: a pool reads and writes, and SQLite's convention creates a new file.
  // URI: lets "file:...?mode=ro" and the memdb VFS names through.
  // NOMUTEX (multi-thread mode): the pool gives a connection to one caller at a time, so
  //   the per-connection mutex is pure overhead; sqlite3_interrupt, the one call made from
  //   another thread, is documented as safe without it.
  // EXRESCODE: extended result codes (SQLITE_CONSTRAINT_UNIQUE...) even from the open.
  constexpr int kFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI |
                         SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(target.c_str(), &db, kFlags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int code = db != nullptr ? sqlite3_extended_errcode(db) : rc;
    sqlite3_close_v2(db);  // a handle is returned even on failure
    throw DbError(ErrorKind::kConnection,
                  "cannot open SQLite database '" + display_name + "': " + message, "08001",
                  code);
  }
  return db;
}

SqliteConnection::SqliteConnection(Runtime& runtime, sqlite3* db)
    : runtime_(runtime),
      db_(db),
      interrupt_(std::make_shared<InterruptTarget>()),
      cache_(std::make_unique<StatementCache>(kStatementCacheSize)) {
  interrupt_->db = db;
}

SqliteConnection::~SqliteConnection() {
  {
    std::lock_guard lock(interrupt_->mutex);
    interrupt_->db = nullptr;
  }
  // Closing the last handle of a WAL database checkpoints it (file I/O), so it runs on the
  // blocking pool like every other call. Statements go first: close_v2 would otherwise
  // leave a zombie handle.
  asio::post(runtime_.blocking_pool(), [db = db_, cache = std::move(cache_)]() mutable {
    cache.reset();
    sqlite3_close_v2(db);
  });
}

std::unique_ptr<SqliteConnection> SqliteConnection::Open(Runtime& runtime,
                                                         const std::string& target,
                                                         const std::string& display_name,
                                                         const OpenOptions& options) {
  sqlite3* db = OpenHandle(target, display_name);
  std::unique_ptr<SqliteConnection> connection(new SqliteConnection(runtime, db));
  try {
    sqlite3_busy_timeout(db, options.busy_timeout_ms);
    QueryScalar(db, "PRAGMA foreign_keys=ON");
    // WAL lets readers run alongside the one writer, which is what a pool of connections
    // to one file needs; memdb databases only support MEMORY (or OFF) journals.
    std::string wanted = options.journal_mode;
    if (wanted.empty() && !options.memory) wanted = "wal";
    if (!wanted.empty()) {
      std::string mode = QueryScalar(db, "PRAGMA journal_mode=" + wanted);
      if (!options.journal_mode.empty() && mode != wanted) {
        throw DbError(ErrorKind::kConfig, "journal_mode: requested '" + wanted +
                                              "' but the database uses '" + mode + "'");
      }
      // NORMAL is durable against corruption in WAL mode (only the last commits may roll
      // back on power loss) and saves an fsync per commit; other modes keep SQLite's FULL.
      if (mode == "wal") QueryScalar(db, "PRAGMA synchronous=NORMAL");
    }
  } catch (const DbError& error) {
    if (error.kind() == ErrorKind::kConfig) throw;
    // e.g. "file is not a database", only found when the first page is read.
    throw DbError(ErrorKind::kConnection,
                  "cannot open SQLite database '" + display_name + "': " + error.message(),
                  error.sqlstate(), error.vendor_code());
  }
  return connection;
}

QueryResult SqliteConnection::Run(const std::string& sql, const Params& params,
                                  CancelToken* cancel, bool want_rows, OpenStream* stream) {
  QueryResult result;
  result.rows_affected = 0;
  const char* begin = sql.c_str();
  const char* end = begin + sql.size();
  bool first = true;
  for (const char* p = begin; !IsBlankSql(p, end);) {
    const char* tail = end;
    sqlite3_stmt* stmt = p == begin ? cache_->Find(sql) : nullptr;  // only single statements
    bool cached = stmt != nullptr;
    if (stmt == nullptr) {
      // Length includes the terminating NUL, which lets SQLite skip a copy.
      int rc = sqlite3_prepare_v3(db_, p, static_cast<int>(end - p) + 1, 0, &stmt, &tail);
      if (rc != SQLITE_OK) throw MakeError(db_, rc);
      if (stmt == nullptr) {  // only a comment or ';' left that IsBlankSql did not skip
        p = tail;
        continue;
      }
      if (p == begin && sql.size() <= kMaxCachedSqlBytes && IsBlankSql(tail, end)) {
        cache_->Insert(sql, stmt);
        cached = true;
      }
    }
    StatementLease lease(stmt, cached);
    const bool last = IsBlankSql(tail, end);
    if (!params.empty() && !(first && last)) {
      throw DbError(ErrorKind::kQuery,
                    "parameters are only allowed with a single statement, and this SQL has "
                    "several",
                    "42601");
    }
    BindParams(db_, stmt, params);
    if (want_rows && last && sqlite3_column_count(stmt) > 0) {
      if (stream == nullptr) return ReadResult(db_, stmt);
      stream->lease.emplace(lease.Release(), cached);
      stream->reader.emplace(db_, stmt, stream->batch_rows);
      return result;
    }

    const int64_t total_before = sqlite3_total_changes64(db_);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) throw MakeError(db_, rc);
    // sqlite3_changes64 keeps the count of the last INSERT/UPDATE/DELETE even across later
    // DDL or SELECTs, so it only counts when this statement changed something.
    const int64_t changed =
        sqlite3_total_changes64(db_) != total_before ? sqlite3_changes64(db_) : 0;
    result.rows_affected = want_rows ? changed : result.rows_affected + changed;
    p = tail;
    first = false;
  }
  return result;
}

void SqliteConnection::BeginOperation(CancelToken* cancel, std::optional<CancelScope>& scope) {
  if (cancel == nullptr) return;
  if (cancel->cancelled()) {
    throw DbError(ErrorKind::kCancelled, "cancelled before the statement started", "57014");
  }
  uint64_t operation;
  {
    std::lock_guard lock(interrupt_->mutex);
    operation = interrupt_->operation;
  }
  scope.emplace(*cancel, [target = interrupt_, operation] { target->Interrupt(operation); });
  // SQLite clears a pending interrupt when a statement starts on an idle connection, so a
  // cancel that lands just before the first step would be lost; polling the token from
  // the progress handler closes that window.
  sqlite3_progress_handler(db_, kProgressPeriod, &CancelRequested, cancel);
}

void SqliteConnection::EndOperation(CancelToken* cancel) {
  if (cancel != nullptr) {
    sqlite3_progress_handler(db_, 0, nullptr, nullptr);
    std::lock_guard lock(interrupt_->mutex);
    ++interrupt_->operation;
  }
  in_transaction_.store(sqlite3_get_autocommit(db_) == 0, std::memory_order_release);
}

QueryResult SqliteConnection::RunGuarded(const std::string& sql, const Params& params,
                                         CancelToken* cancel, bool want_rows) {
  std::optional<CancelScope> scope;
  BeginOperation(cancel, scope);
  try {
    QueryResult result = Run(sql, params, cancel, want_rows);
    EndOperation(cancel);
    return result;
  } catch (const DbError& error) {
    EndOperation(cancel);
    if (error.kind() == ErrorKind::kConnection) broken_.store(true, std::memory_order_release);
    throw;
  } catch (...) {
    EndOperation(cancel);
    throw;
  }
}

asio::awaitable<void> SqliteConnection::QueryStream(std::string sql, Params params,
                                                    CancelTokenPtr cancel, BatchSink& sink,
                                                    int64_t batch_rows) {
  OpenStream stream;
  stream.batch_rows = batch_rows;
  OpenStream* open = &stream;
  CancelToken* c = cancel.get();
  std::exception_ptr error;
  try {
    // sql, params and stream live in this frame until the last blocking call returns.
    QueryResult plain =
        co_await runtime_.RunBlocking([this, sql = &sql, params = &params, c, open] {
          BeginOperation(c, open->scope);
          open->begun = true;
          return Run(*sql, *params, c, true, open);
        });
    if (!stream.reader) {  // the last statement returned no rows
      co_await sink.OnSchema(std::move(plain.schema));
    } else {
      for (bool first = true;;) {
        std::optional<RecordBatch> batch =
            co_await runtime_.RunBlocking([open] { return open->reader->Next(); });
        // The schema is final once the first batch (or the end) is read: a column without
        // a declared type takes its first value's type.
        if (first) co_await sink.OnSchema(stream.reader->schema());
        first = false;
        if (!batch) break;
        // Named, not `if (!co_await ...)`: g++ 12 miscompiles that form (SIGILL).
        bool more = co_await sink.OnBatch(std::move(*batch));
        if (!more) break;
      }
    }
  } catch (const DbError& failure) {
    if (failure.kind() == ErrorKind::kConnection) broken_.store(true, std::memory_order_release);
    error = std::current_exception();
  } catch (...) {
    error = std::current_exception();
  }
  // Stopping early or failing: the reader (and its Stepper) go first, then the statement is
  // reset, on the blocking pool like every other sqlite call.
  co_await runtime_.RunBlocking([this, open, c] {
    open->reader.reset();
    open->lease.reset();
    if (open->begun) EndOperation(c);
    open->scope.reset();
  });
  if (error) std::rethrow_exception(error);
}

asio::awaitable<QueryResult> SqliteConnection::Query(std::string sql, Params params,
                                                     CancelTokenPtr cancel) {
  // sql, params and cancel live in this coroutine's frame until the call returns.
  co_return co_await runtime_.RunBlocking([this, sql = &sql, params = &params, c = cancel.get()] {
    return RunGuarded(*sql, *params, c, true);
  });
}

asio::awaitable<int64_t> SqliteConnection::Execute(std::string sql, Params params,
                                                   CancelTokenPtr cancel) {
  co_return co_await runtime_.RunBlocking([this, sql = &sql, params = &params, c = cancel.get()] {
    return RunGuarded(*sql, *params, c, false).rows_affected;
  });
}

asio::awaitable<void> SqliteConnection::Begin() {
  // IMMEDIATE takes the write lock at BEGIN, where busy_timeout can wait for it. A deferred
  // transaction that reads and then writes must upgrade its lock, and SQLite answers a
  // conflicting upgrade with SQLITE_BUSY at once (waiting could deadlock), mid-transaction.
  // The cost: transactions serialise at BEGIN even when they turn out to only read.
  co_await runtime_.RunBlocking([this] { RunGuarded("BEGIN IMMEDIATE", {}, nullptr, false); });
}

asio::awaitable<void> SqliteConnection::Commit() {
  co_await runtime_.RunBlocking([this] { RunGuarded("COMMIT", {}, nullptr, false); });
}

asio::awaitable<void> SqliteConnection::Rollback() {
  co_await runtime_.RunBlocking([this] {
    if (sqlite3_get_autocommit(db_) != 0) {  // no transaction (or SQLite already rolled back)
      in_transaction_.store(false, std::memory_order_release);
      return;
    }
    RunGuarded("ROLLBACK", {}, nullptr, false);
  });
}

asio::awaitable<void> SqliteConnection::Ping() {
  // The library runs in-process, so there is no link to probe; a trivial statement proves
  // the handle still executes. File problems surface as I/O errors on real statements.
  co_await runtime_.RunBlocking([this] {
    try {
      RunGuarded("SELECT 1", {}, nullptr, true);
    } catch (const DbError& error) {
      broken_.store(true, std::memory_order_release);
      throw DbError(ErrorKind::kConnection, "ping failed: " + error.message(),
                    error.sqlstate(), error.vendor_code());
    }
  });
}

}  // namespace dbpool::sqlite
