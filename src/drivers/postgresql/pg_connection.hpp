// PgConnection: one libpq session driven in non-blocking mode from the Asio event loop
// (no thread per query); binary results become Arrow batches; PQcancel for cancellation.
#pragma once

#include <libpq-fe.h>

#include <asio.hpp>

#include <memory>
#include <string>
#include <vector>

#include "drivers/driver.hpp"
#include "drivers/postgresql/pg_types.hpp"

namespace dbpool::pg {

struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

struct CancelRequest;

class PgConnection final : public Connection {
 public:
  /// Takes ownership of `conn` (also when it throws), an established connection
  /// (CONNECTION_OK) already in non-blocking mode. `endpoint` ("host:port") names the
  /// server in error messages.
  PgConnection(Runtime& runtime, PGconn* conn, std::string endpoint);
  ~PgConnection() override;
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  asio::awaitable<QueryResult> Query(std::string sql, Params params,
                                     CancelTokenPtr cancel) override;
  asio::awaitable<int64_t> Execute(std::string sql, Params params,
                                   CancelTokenPtr cancel) override;
  asio::awaitable<void> Begin() override;
  asio::awaitable<void> Commit() override;
  asio::awaitable<void> Rollback() override;
  asio::awaitable<void> Ping() override;

  bool IsBroken() const override;
  bool InTransaction() const override;
  int64_t ServerSessionId() const override;

 private:
  // A statement is sent in three steps, so that no closure has to be passed into a
  // coroutine (GCC 12 mis-destroys such temporaries): BeforeSend(), a PQsend* call made
  // by the caller, then co_await Complete() with what the call returned.

  /// Throws kConnection if no statement can be sent now, kCancelled if `cancel` (may be
  /// null) already fired; nothing is sent then.
  void BeforeSend(const CancelToken* cancel);
  /// Waits for every result of the statement just sent (`sent` = the PQsend* return
  /// value) and returns them; throws the first error result as a DbError. While the
  /// statement is in flight, `cancel` (may be null) sends PQcancel.
  asio::awaitable<std::vector<PgResult>> Complete(int sent, CancelToken* cancel);
  asio::awaitable<std::vector<PgResult>> Exchange(int sent);
  /// Runs a parameterless utility statement (BEGIN, COMMIT...) through the simple protocol.
  asio::awaitable<std::vector<PgResult>> RunSimple(const char* sql);
  /// Runs `sql` with `params` through the extended protocol.
  asio::awaitable<std::vector<PgResult>> RunParams(const char* sql, const Params* params,
                                                   int result_format, CancelToken* cancel);

  /// Throws kConnection if the connection cannot run a statement (broken, or a previous
  /// statement was abandoned half way and its results are still pending).
  void CheckReady();
  asio::awaitable<void> Flush();
  asio::awaitable<void> WaitReadable();
  asio::awaitable<std::vector<PgResult>> CollectResults();
  asio::awaitable<void> SkipCopyOut();
  /// Waits for an in-flight PQcancel to finish, so that it cannot hit a later statement.
  asio::awaitable<void> AwaitCancelSent(const std::shared_ptr<CancelRequest>& request);

  /// Makes QueryResult of the chosen result: batches for rows, else rows affected.
  asio::awaitable<QueryResult> ToQueryResult(const PGresult* result);
  /// Fills the type registry for the result's columns that are not built-in types.
  asio::awaitable<void> LoadTypes(const PGresult* result);

  /// Marks the connection unusable and returns `error` (to throw).
  DbError Broken(DbError error);
  /// Broken(): the error for a connection that libpq found closed or failed.
  DbError LostConnection();

  Runtime& runtime_;
  PGconn* conn_;
  std::string endpoint_;
  /// Shared with in-flight PQcancel jobs on the blocking pool, which may outlive us.
  std::shared_ptr<PGcancel> cancel_handle_;
  asio::posix::stream_descriptor socket_;
  bool broken_ = false;
  TypeRegistry types_;
};

}  // namespace dbpool::pg
