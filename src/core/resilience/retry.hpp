// RetryWithBackoff's rules: which failures may be retried without changing what the
// database ends up with, and how long to wait between attempts.
#pragma once

#include <optional>

#include "dbpool/config.hpp"
#include "dbpool/error.hpp"

namespace dbpool {

/// What a call does, which decides what is safe to retry.
enum class CallKind {
  kRead,         ///< query(): one autocommit statement returning rows, assumed read-only
  kWrite,        ///< execute(): one autocommit statement that may change data
  kBatch,        ///< execute_batch(): several autocommit statements (some may have committed)
  kTransaction,  ///< execute_transaction(): all statements in one transaction
};

/// What had happened when an attempt failed (filled in by the attempt as it goes).
struct CallProgress {
  bool sent = false;         ///< a statement may have reached the server
  bool commit_sent = false;  ///< the transaction's COMMIT may have reached the server
};

/// True when `error` is a lost connection or an unreachable server (the breaker counts it).
bool IsHealthFailure(const DbError& error, bool pool_unhealthy);

/// The error to throw for a failure whose effect on the data is unknown (a write, or a
/// COMMIT, sent before the connection broke), or nullopt when the outcome is known.
std::optional<DbError> UnknownOutcome(const DbError& error, CallKind kind,
                                      const CallProgress& progress, bool idempotent);

/// True when another attempt cannot change what the database ends up with: nothing was
/// sent; a read or an idempotent call; a whole transaction that never reached COMMIT; or
/// a serialization failure / deadlock (40001, 40P01) of a read or a transaction.
bool IsSafeToRetry(const DbError& error, CallKind kind, const CallProgress& progress,
                   bool idempotent);

/// Seconds to wait before attempt `attempt` + 1 (attempt >= 1).
double RetryDelay(const RetryConfig& config, int attempt);

}  // namespace dbpool
