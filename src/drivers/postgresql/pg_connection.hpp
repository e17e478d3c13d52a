// PgConnection: one libpq session driven in non-blocking mode from the Asio event loop
// (no thread per query); binary results become Arrow batches; PQcancel for cancellation.
// Parameterless SELECTs are read with COPY (...) TO STDOUT (FORMAT binary), decoded row by
// row into the builders without a whole-result PGresult; other statements run as named
// prepared statements from a per-connection cache (or unnamed ones when it is off).
#pragma once

#include <libpq-fe.h>

#include <asio.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "drivers/driver.hpp"
#include "drivers/postgresql/pg_statement_cache.hpp"
#include "drivers/postgresql/pg_types.hpp"

namespace dbpool::pg {

struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

struct CancelRequest;
struct CancelGuard;
class CopyDecoder;

/// Shared by the connections of one pool (one PgDriver). Set when one of them finds a
/// named statement it prepared gone between two calls (26000), which is what happens
/// behind a transaction-mode pooler (PgBouncer): consecutive transactions of one client
/// session run on different server sessions. From then on every connection of the pool
/// runs unnamed statements only, as with statement_cache_size=0.
struct PoolerDetection {
  std::atomic<bool> detected{false};
  std::string warning_source;  ///< the pool id, for the one warning
};

/// How a bulk read without parameters travels (options["bulk_protocol"]): as binary COPY
/// (the default: the least client CPU, no allocation per row) or as the rows of an
/// extended-protocol query read in single-row mode, which the server sends faster (see
/// docs/performance.md) for more client CPU. Reads with parameters always take rows.
enum class BulkProtocol { kCopy, kRows };

/// db-pool's own PostgreSQL connection options, taken out of ConnectionConfig::options
/// before the rest goes to libpq.
struct SessionOptions {
  /// options["statement_cache_size"]: named prepared statements kept per connection;
  /// "0" = unnamed statements only (PgBouncer in transaction pooling mode).
  size_t statement_cache_size = kDefaultStatementCacheSize;
  /// options["bulk_protocol"]: "copy" or "rows".
  BulkProtocol bulk_protocol = BulkProtocol::kCopy;
  /// The pool's pooler detection (null: none, e.g. in tests of a lone connection).
  std::shared_ptr<PoolerDetection> pooler;

  /// Throws DbError(kConfig) for an invalid value.
  static SessionOptions From(const ConnectionConfig& config);
  /// True for the option names above (they are not libpq keywords).
  static bool IsSessionOption(const std::string& key);
};

/// When Query() reads a parameterless SELECT-like statement with COPY: kAuto unless the
/// same SQL gave a small result on this connection before (then the regular path, one
/// round trip, is faster). kNever / kAlways are for tests and benchmarks.
enum class CopyReads { kAuto, kNever, kAlways };

class PgConnection final : public Connection {
 public:
  /// Takes ownership of `conn` (also when it throws), an established connection
  /// (CONNECTION_OK) already in non-blocking mode. `endpoint` ("host:port") names the
  /// server in error messages.
  PgConnection(Runtime& runtime, PGconn* conn, std::string endpoint,
               SessionOptions options = SessionOptions());
  ~PgConnection() override;
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  asio::awaitable<QueryResult> Query(std::string sql, Params params,
                                     CancelTokenPtr cancel) override;
  asio::awaitable<int64_t> Execute(std::string sql, Params params,
                                   CancelTokenPtr cancel) override;
  /// Pipelined (libpq pipeline mode): every statement is sent before any result is read,
  /// with a Sync after each, so each runs in its own implicit transaction exactly as when
  /// run one by one. Statements after a failing one have been sent and run too; the first
  /// error is thrown once all results are in.
  asio::awaitable<std::vector<QueryResult>> QueryBatch(std::vector<Statement> statements,
                                                       CancelTokenPtr cancel) override;
  /// Parameterless SELECT-like statements stream through COPY: at most one batch is in
  /// memory, and nothing more is read from the socket while the sink is busy. Stopping
  /// early cancels the rest on the server (outside a transaction; inside one the rest is
  /// read and discarded, so the transaction survives) and leaves the connection clean.
  /// Other statements run as Query() and hand over their batches.
  asio::awaitable<void> QueryStream(std::string sql, Params params, CancelTokenPtr cancel,
                                    BatchSink& sink, int64_t batch_rows) override;
  asio::awaitable<void> Begin() override;
  asio::awaitable<void> Commit() override;
  asio::awaitable<void> Rollback() override;
  asio::awaitable<void> Ping() override;
  /// ROLLBACK if needed, then DISCARD ALL; the statement cache starts empty again.
  asio::awaitable<void> ResetSession() override;

  bool IsBroken() const override;
  bool InTransaction() const override;
  int64_t ServerSessionId() const override;

  void SetCopyReads(CopyReads mode) { copy_reads_ = mode; }
  /// Named statements currently prepared through the cache (tests).
  size_t cached_statements() const { return statements_.size(); }
  /// False once the cache is off: statement_cache_size=0, or a pooler was detected.
  bool named_statements() const { return statements_.enabled(); }

 private:
  struct StatementRun;
  struct PipelineRun;
  enum class CopyOutcome { kDone, kStopped, kNotCopied };

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
  /// Complete() without the error check; *cancel_sent says whether PQcancel went out.
  asio::awaitable<std::vector<PgResult>> CompleteRaw(int sent, CancelToken* cancel,
                                                     bool* cancel_sent);
  /// Runs `sql` with `params` as a named statement from the cache (preparing it, in the
  /// same round trip, on a miss), or unnamed when the cache is off.
  asio::awaitable<StatementRun> RunStatement(const std::string& sql, const Params& params,
                                             int result_format, CancelToken* cancel);
  /// Query() without COPY: RunStatement, then the PGresult into batches of `batch_rows`.
  asio::awaitable<QueryResult> RegularQuery(const std::string& sql, const Params& params,
                                            CancelToken* cancel, int batch_rows);
  /// Reads the pipeline just queued (`sent` = all PQsend*/PQpipelineSync calls succeeded)
  /// up to its `syncs`-th Sync, then leaves pipeline mode.
  asio::awaitable<PipelineRun> RunPipeline(int sent, int syncs, CancelToken* cancel);
  /// Appends a DEALLOCATE, each after a Sync of its own, for the statements evicted from the
  /// cache, then runs the pipeline (`sent`: the caller's part went out, `syncs` Syncs of it;
  /// its segments come first in the run). A DEALLOCATE that a failed transaction refused
  /// (25P02) is kept for the next statement.
  asio::awaitable<PipelineRun> RunWithDeallocates(int sent, int syncs, CancelToken* cancel);
  asio::awaitable<PipelineRun> CollectPipeline(int syncs);
  /// LostConnection() for a pipeline, with the SQLSTATE of the server's last message when
  /// it is among the results read so far.
  DbError LostInPipeline(const PipelineRun& run, const std::vector<PgResult>& query);

  /// Whether Query()/QueryStream() try COPY for `sql`.
  bool WantsCopy(const std::string& sql, const Params& params, bool streaming) const;
  /// Describes `sql` (parsed as the unnamed statement) in one round trip; throws the
  /// server's error for an invalid statement.
  asio::awaitable<PgResult> Describe(const std::string& sql, CancelToken* cancel);
  /// Describe, then COPY: batches into out->batches, or into `sink`. kNotCopied when the
  /// statement is not a row-returning one COPY can take; it has not run then.
  asio::awaitable<CopyOutcome> CopyQuery(const std::string& sql, CancelToken* cancel,
                                         int64_t batch_rows, BatchSink* sink, QueryResult* out);
  asio::awaitable<CopyOutcome> RunCopy(const std::string& sql, std::vector<ColumnPlan> plans,
                                       CancelToken* cancel, int64_t batch_rows, BatchSink* sink,
                                       std::vector<RecordBatch>* out);
  asio::awaitable<CopyOutcome> ReceiveCopy(CopyDecoder& decoder, CancelGuard& guard,
                                           bool in_transaction, BatchSink* sink,
                                           std::vector<RecordBatch>* out);
  /// Ends a COPY whose rows are no longer wanted: cancels it on the server unless the rest
  /// is already here (or a transaction is open), reads to its end, leaves the session idle.
  asio::awaitable<void> AbandonCopy(CancelGuard& guard, int last, bool in_transaction);
  asio::awaitable<PgResult> NextResult();

  // Parameterized SELECT-like statements (COPY cannot take parameters) are read in libpq's
  // single-row mode and decoded into the builders as rows arrive (pg_rows.cpp): no
  // whole-result PGresult, receiving overlaps decoding, and parameters stay bound.

  /// Whether Query()/QueryStream() read `sql` with `params` row by row.
  bool WantsRows(const std::string& sql, const Params& params, bool streaming) const;
  /// Describes (preparing it as the cached named statement, or the unnamed one), then runs
  /// it in single-row mode: batches into out (schema too), or into `sink`. kNotCopied when
  /// it returns no rows or its cached statement went stale; it has not run then.
  asio::awaitable<CopyOutcome> RowQuery(const std::string& sql, const Params& params,
                                        CancelToken* cancel, int64_t batch_rows,
                                        BatchSink* sink, QueryResult* out);
  /// Prepares `sql` as `name` ("" = unnamed) with the bound parameter types (unless
  /// `prepare` is false: it exists) and describes it, sending the pending DEALLOCATEs
  /// along (one round trip).
  asio::awaitable<PgResult> PrepareDescribe(const std::string& sql, const std::string& name,
                                            bool prepare, int n_params, const unsigned int* types,
                                            CancelToken* cancel);
  asio::awaitable<CopyOutcome> ReceiveRows(const std::vector<ColumnPlan>& plans,
                                           CancelGuard& guard, bool in_transaction,
                                           int64_t batch_rows, BatchSink* sink,
                                           std::vector<RecordBatch>* out);
  /// Ends a single-row statement whose rows are no longer wanted (cancel outside a
  /// transaction, then read and drop the rest), leaving the session idle.
  asio::awaitable<void> AbandonRows(CancelGuard& guard, bool in_transaction);
  /// Turns libpq's single-row mode off once a single-row statement has ended (see
  /// pg_rows.cpp: libpq leaves it on for the first statement of the next pipeline).
  void ClearSingleRowMode();

  /// Installs the cancel handler of `token` (may be null) for the statement in flight;
  /// `always` creates the request even without a token (for SendCancel()).
  void ArmCancel(CancelToken* token, CancelGuard* guard, bool always = false);
  /// Sends PQcancel for the guarded statement (once).
  void SendCancel(CancelGuard& guard);
  /// Uninstalls the handler; true when PQcancel was sent (then AwaitCancelSent()).
  bool DisarmCancel(CancelGuard* guard);
  static bool CancelWasSent(const CancelGuard& guard);

  /// The DbError for an error result (Broken() for a lost session).
  DbError StatementError(const PGresult* result, bool cancel_sent);
  /// ReadBatches + schema, or rows affected; plans from `entry` while its row description
  /// still matches.
  asio::awaitable<QueryResult> ToResult(const PGresult* result, StatementCache::Entry* entry,
                                        int batch_rows);
  std::vector<ColumnPlan> PlansOf(const PGresult* result) const;
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

  /// Fills the type registry for the result's columns that are not built-in types.
  asio::awaitable<void> LoadTypes(const PGresult* result);

  /// Turns the cache off when this pool's pooler detection fired (on another connection).
  void FollowPoolerDetection();
  /// A cached statement was gone (26000) between calls: a transaction-mode pooler. Turns
  /// the cache off for every connection of the pool (warning once); true if it was on.
  bool DetectPooler(const PGresult* failed);
  /// `error` for a vanished named statement, saying why and what to configure.
  DbError PoolerError(const PGresult* failed, bool cancel_sent);

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
  StatementCache statements_;
  std::shared_ptr<PoolerDetection> pooler_;
  /// Evicted statements whose DEALLOCATE has not been sent yet (it rides along with the
  /// next statement that prepares one).
  std::vector<std::string> pending_deallocate_;
  CopyReads copy_reads_ = CopyReads::kAuto;
  BulkProtocol bulk_protocol_ = BulkProtocol::kCopy;
  /// SQL texts whose last result was small (rows), read through the regular path.
  std::unordered_map<std::string, int64_t> small_results_;
};

}  // namespace dbpool::pg
