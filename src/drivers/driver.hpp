// The interface every database driver implements: a Driver makes Connections; a Connection
// runs statements and returns Arrow results. Drivers know nothing of pools or Python.
#pragma once

#include <asio.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "arrow/import.hpp"
#include "dbpool/config.hpp"
#include "dbpool/error.hpp"
#include "dbpool/result.hpp"
#include "dbpool/value.hpp"
#include "runtime/cancel.hpp"
#include "runtime/runtime.hpp"

namespace dbpool {

/// One statement of a batch: SQL text (or, for command databases like Redis, an empty
/// string with the command's arguments in params) and its bound parameters.
struct Statement {
  std::string sql;
  Params params;
};

/// Receives a streamed result in order. Awaiting each call is the backpressure: the driver
/// reads no further while the consumer is busy, so memory stays bounded by batch size.
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  /// Called once, before any batch (also for an empty result).
  virtual asio::awaitable<void> OnSchema(arrow::Schema schema) = 0;
  /// Returns false to stop early; the driver then ends the statement and leaves the
  /// connection clean (or marks it broken if it cannot).
  virtual asio::awaitable<bool> OnBatch(RecordBatch batch) = 0;
};

/// How bulk_insert maps a table's columns (see Connection::BulkInsert).
struct BulkInsertOptions {
  std::vector<std::string> tag_columns;  ///< InfluxDB: columns written as tags
  std::string time_column = "time";      ///< "" = let the server assign the time
  int64_t batch_rows = 5000;             ///< rows per request
};

class Connection {
 public:
  virtual ~Connection() = default;

  /// Runs one statement with bound parameters. A statement that returns rows gives
  /// schema + batches (types from the column metadata); any other gives rows_affected.
  /// Throws DbError: kQuery (with SQLSTATE where known), kConnection when the connection
  /// broke (IsBroken() is then true), kDataConversion naming the column, kCancelled when
  /// `cancel` fired (the driver cancels the statement on the server and leaves the
  /// connection clean, or marks it broken).
  virtual asio::awaitable<QueryResult> Query(std::string sql, Params params,
                                             CancelTokenPtr cancel) = 0;

  /// Like Query but for statements whose rows are not wanted: returns rows affected.
  virtual asio::awaitable<int64_t> Execute(std::string sql, Params params,
                                           CancelTokenPtr cancel) = 0;

  /// Runs statements in order, one result each. Drivers that can pipeline (send all, then
  /// read all) override this; the default runs them one by one.
  virtual asio::awaitable<std::vector<QueryResult>> QueryBatch(std::vector<Statement> statements,
                                                               CancelTokenPtr cancel) {
    std::vector<QueryResult> results;
    results.reserve(statements.size());
    for (auto& statement : statements) {
      results.push_back(
          co_await Query(std::move(statement.sql), std::move(statement.params), cancel));
    }
    co_return results;
  }

  /// Streams a result in batches of about `batch_rows` rows into `sink`. The default runs
  /// Query and hands over its batches; drivers override it to read incrementally.
  virtual asio::awaitable<void> QueryStream(std::string sql, Params params,
                                            CancelTokenPtr cancel, BatchSink& sink,
                                            int64_t batch_rows) {
    QueryResult result = co_await Query(std::move(sql), std::move(params), cancel);
    co_await sink.OnSchema(result.schema);
    for (auto& batch : result.batches) {
      // Named, not `if (!co_await ...)`: g++ 12 miscompiles that form (SIGILL).
      bool more = co_await sink.OnBatch(std::move(batch));
      if (!more) break;
    }
  }

  /// True when BulkInsert is implemented (the core names the db_type otherwise).
  virtual bool SupportsBulkInsert() const { return false; }
  /// Writes every row of `table` into `target` (a table or measurement) and returns the rows
  /// written. Errors name the row (its index in the table) and column at fault.
  virtual asio::awaitable<int64_t> BulkInsert(std::string target,
                                              std::shared_ptr<arrow::ImportedTable> table,
                                              BulkInsertOptions options, CancelTokenPtr cancel) {
    throw DbError(ErrorKind::kConfig, "bulk_insert: not supported by this database driver");
    co_return 0;
  }

  virtual asio::awaitable<void> Begin() = 0;
  virtual asio::awaitable<void> Commit() = 0;
  virtual asio::awaitable<void> Rollback() = 0;

  /// A cheap round trip proving the connection works; throws kConnection if not.
  virtual asio::awaitable<void> Ping() = 0;

  /// Returns the session to the state of a new connection (the pool's reset_session):
  /// rolls back an open transaction and drops session settings, temporary tables and
  /// prepared statements where the database can. The default only rolls back. Throws
  /// (and the pool discards the connection) if the reset failed.
  virtual asio::awaitable<void> ResetSession() {
    if (InTransaction()) co_await Rollback();
  }

  /// True once the connection can no longer be used (socket closed, protocol desync).
  virtual bool IsBroken() const = 0;
  /// True while a transaction is open (also after an error inside it).
  virtual bool InTransaction() const = 0;
  /// The server's id for this session (PostgreSQL backend pid), 0 when there is none.
  virtual int64_t ServerSessionId() const { return 0; }
};

class Driver {
 public:
  virtual ~Driver() = default;
  /// Opens a connection; fails with kConnection within config.connect_timeout, naming the
  /// host (never the password).
  virtual asio::awaitable<std::unique_ptr<Connection>> Connect(ConnectionConfig config) = 0;

  /// Names the driver's owner (the pool id) in warnings it raises (Warn, common/diagnostics);
  /// set once, before the first Connect.
  virtual void set_warning_source(std::string name) { warning_source_ = std::move(name); }
  const std::string& warning_source() const { return warning_source_; }

  /// True when the single statement `sql`/`params` may share a connection (opened with
  /// `config`) with other such statements in flight at the same time: the driver's
  /// connections then accept concurrent Query/Execute calls for it (from any thread),
  /// pipeline them and match the results in order, and a cancel stops only that call. The
  /// default (false) gives every call a connection of its own.
  virtual bool CanMultiplex(const ConnectionConfig& config, const std::string& sql,
                            const Params& params) const {
    (void)config;
    (void)sql;
    (void)params;
    return false;
  }

 private:
  std::string warning_source_;
};

/// The driver for a normalised db_type ("postgresql", "sqlite"); throws DbError(kConfig)
/// naming the unknown db_type. Adding a database = one folder + one line in factory.cpp.
std::shared_ptr<Driver> MakeDriver(const std::string& db_type, Runtime& runtime);

}  // namespace dbpool
