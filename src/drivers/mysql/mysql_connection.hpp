// MysqlConnection: one MariaDB Connector/C session driven through its non-blocking API
// (_start/_cont) from the Asio event loop, no thread per query; prepared statements (binary
// protocol) become Arrow batches; KILL QUERY over a side session cancels.
#pragma once

#include <mysql.h>

#include <asio.hpp>

#include <memory>
#include <string>

#include "drivers/driver.hpp"
#include "drivers/mysql/mysql_reader.hpp"
#include "drivers/mysql/mysql_session.hpp"

namespace dbpool::mysql {

struct KillRequest;

class MysqlConnection final : public Connection {
 public:
  /// Takes ownership of `mysql` (also when it throws), an established session in
  /// non-blocking mode. `settings` also serve the KILL QUERY side sessions.
  MysqlConnection(Runtime& runtime, MYSQL* mysql, std::shared_ptr<const Settings> settings);
  ~MysqlConnection() override;
  MysqlConnection(const MysqlConnection&) = delete;
  MysqlConnection& operator=(const MysqlConnection&) = delete;

  asio::awaitable<QueryResult> Query(std::string sql, Params params,
                                     CancelTokenPtr cancel) override;
  asio::awaitable<int64_t> Execute(std::string sql, Params params,
                                   CancelTokenPtr cancel) override;
  asio::awaitable<void> QueryStream(std::string sql, Params params, CancelTokenPtr cancel,
                                    BatchSink& sink, int64_t batch_rows) override;
  asio::awaitable<void> Begin() override;
  asio::awaitable<void> Commit() override;
  asio::awaitable<void> Rollback() override;
  asio::awaitable<void> Ping() override;

  bool IsBroken() const override { return broken_; }
  /// SERVER_STATUS_IN_TRANS of the last server reply (BEGIN / START TRANSACTION set it,
  /// COMMIT / ROLLBACK clear it; statements that fail inside a transaction leave it open).
  bool InTransaction() const override;
  /// The server's connection id (CONNECTION_ID(), what KILL takes).
  int64_t ServerSessionId() const override;

  /// Where the results of one statement go: batches collected in `result` (Query), handed
  /// to `sink` as they fill (QueryStream), or only counted (Execute).
  struct Output {
    QueryResult* result = nullptr;
    BatchSink* sink = nullptr;
    int64_t batch_rows = kBatchRows;
    bool count_only = false;
    bool schema_sent = false;  ///< sink->OnSchema was called
    int64_t rows = 0;          ///< rows read (count_only) or rows affected
  };

 private:
  template <typename R, typename H>
  asio::awaitable<void> Finish(int status, R* ret, H* handle, int (*cont)(R*, H*, int));
  /// Waits for what the library asked for (`status` from a _start/_cont call); returns the
  /// events that occurred.
  asio::awaitable<int> WaitEvents(int status);

  /// Runs one statement: prepared (binary protocol) when possible, text protocol for
  /// statements the server cannot prepare, and for Execute without parameters (which may
  /// hold several statements). Honours `cancel` (may be null).
  asio::awaitable<void> Run(const std::string* sql, const Params* params, CancelToken* cancel,
                            Output* out, bool text);
  asio::awaitable<void> RunPrepared(const std::string* sql, const Params* params,
                                    Output* out, bool* unsupported);
  asio::awaitable<void> RunText(const std::string* sql, Output* out);
  asio::awaitable<void> ReadStmtRows(MYSQL_STMT* stmt, Output* out);
  /// Closes the statement: without blocking (reading what is left of its results) on a
  /// working connection, at once on a broken one.
  asio::awaitable<void> CloseStmt(MYSQL_STMT* stmt);
  /// Reads the rows of a text-protocol result (into `out`, or only counting them when
  /// `out` is null), always to the end so that the session stays in sync.
  asio::awaitable<void> ReadTextRows(MYSQL_RES* res, Output* out);
  /// Reads and discards the results still pending after a failed text statement.
  asio::awaitable<void> DrainText();
  /// Hands over (or keeps) the rows built so far as one batch.
  asio::awaitable<bool> Flush(arrow::RecordBatchBuilder& builder, Output* out);
  /// Runs a parameterless utility statement (BEGIN, COMMIT...) through the text protocol.
  asio::awaitable<void> RunSimple(const char* sql);

  /// Throws kConnection if no statement can run now (broken, or a previous statement was
  /// abandoned half way).
  void CheckReady();
  /// Marks the connection unusable (and shuts its socket, so that nothing can block on it
  /// later) and returns `error` (to throw).
  DbError Broken(DbError error);
  /// Classifies a failed session / statement call, marking the connection broken when
  /// the error says the session is gone.
  DbError Fail(DbError error);

  Runtime& runtime_;
  MYSQL* mysql_;
  std::shared_ptr<const Settings> settings_;
  std::string endpoint_;
  unsigned long thread_id_;
  asio::posix::stream_descriptor socket_;
  bool broken_ = false;
  /// True while a library call is suspended: a statement abandoned in that state leaves
  /// the protocol out of sync.
  bool busy_ = false;
};

}  // namespace dbpool::mysql
