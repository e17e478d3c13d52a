// Internal to the PostgreSQL driver: the cancel state of a statement in flight and small
// helpers on PGresults, shared by the connection's result paths (regular, COPY, row by row).
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "drivers/postgresql/pg_connection.hpp"
#include "runtime/cancel.hpp"
#include "runtime/job_signal.hpp"

namespace dbpool::pg {

using Clock = JobSignal::Clock;

/// Shared by a statement and the cancel handler it installs, which may run on any thread
/// and, through the PQcancel job, outlive the statement.
struct CancelRequest {
  explicit CancelRequest(const asio::any_io_executor& executor) : done(executor) {}
  std::mutex mutex;
  bool closed = false;  // the statement is over: a late Cancel() must send nothing
  bool sent = false;    // a PQcancel job was posted
  JobSignal done;  // raised when PQcancel has returned
};

/// The cancel handler of one statement in flight (a local of the coroutine running it).
struct CancelGuard {
  std::shared_ptr<CancelRequest> request;  // null: no token, and no own cancel wanted
  std::optional<CancelScope> scope;
};

/// The results of a statement run through RunStatement; `entry` is its cache entry (null
/// when the cache is off), valid until the cache next changes.
struct PgConnection::StatementRun {
  std::vector<PgResult> results;
  StatementCache::Entry* entry = nullptr;
};

/// A pipeline's results: per Sync, per query, the query's results.
struct PgConnection::PipelineRun {
  std::vector<std::vector<std::vector<PgResult>>> segments;
  bool cancel_sent = false;
};

inline constexpr int kBinaryResults = 1;
inline constexpr int kTextResults = 0;
// A cancel request is one short TCP exchange; past this we stop trusting the connection.
inline constexpr auto kCancelWait = std::chrono::seconds(10);

inline int64_t RowsAffected(const PGresult* result) {
  if (result == nullptr) return 0;
  const char* tuples = PQcmdTuples(const_cast<PGresult*>(result));
  return (tuples == nullptr || *tuples == '\0') ? 0 : std::strtoll(tuples, nullptr, 10);
}

inline bool HasRows(const PGresult* result) {
  ExecStatusType status = PQresultStatus(result);
  return status == PGRES_TUPLES_OK || status == PGRES_SINGLE_TUPLE;
}

// Results at or below this many rows make the regular path (one round trip) the better
// choice the next time the same parameterless SELECT runs on this connection; COPY needs
// two (describe, then COPY) and pays off once results are bigger.
inline constexpr int64_t kSmallResultRows = 1000;
inline constexpr size_t kMaxSmallResults = 256;

inline bool IsErrorStatus(ExecStatusType status) {
  return status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE ||
         status == PGRES_NONFATAL_ERROR;
}

inline std::string_view ErrorField(const PGresult* result, int field) {
  const char* value = PQresultErrorField(result, field);
  return value != nullptr ? std::string_view(value) : std::string_view();
}

inline const PGresult* FirstError(const std::vector<PgResult>& results) {
  for (const PgResult& result : results) {
    if (IsErrorStatus(PQresultStatus(result.get()))) return result.get();
  }
  return nullptr;
}

// The server refused COPY (...) for a statement the regular path can run (a syntax COPY does
// not take, a feature it does not support). Such errors come from parsing and planning:
// nothing has run yet.
inline bool IsCopyRejection(const PGresult* result) {
  std::string_view sqlstate = ErrorField(result, PG_DIAG_SQLSTATE);
  return sqlstate == "0A000" || sqlstate == "42601";
}

// A cached statement that is gone (DISCARD ALL, DEALLOCATE ALL) or whose result columns
// changed (ALTER TABLE): both are raised before the statement runs, so it can be prepared
// again and run. Matched by the raising function, not by the (translatable) message.
inline bool IsStaleStatement(const PGresult* result) {
  std::string_view sqlstate = ErrorField(result, PG_DIAG_SQLSTATE);
  std::string_view function = ErrorField(result, PG_DIAG_SOURCE_FUNCTION);
  return (sqlstate == "26000" && function == "FetchPreparedStatement") ||
         (sqlstate == "0A000" && function == "RevalidateCachedQuery");
}

inline bool SameColumns(const PGresult* result, const std::vector<std::pair<Oid, int32_t>>& columns) {
  const int n = PQnfields(result);
  if (n != static_cast<int>(columns.size())) return false;
  for (int c = 0; c < n; ++c) {
    if (PQftype(result, c) != columns[c].first || PQfmod(result, c) != columns[c].second) {
      return false;
    }
  }
  return true;
}

// Several statements give several results: the last one with rows, else the last one.
inline const PGresult* ChooseResult(const std::vector<PgResult>& results) {
  for (auto it = results.rbegin(); it != results.rend(); ++it) {
    if (HasRows(it->get())) return it->get();
  }
  return results.empty() ? nullptr : results.back().get();
}


}  // namespace dbpool::pg
