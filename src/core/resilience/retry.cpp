// Retry classification (what is safe to run again) and backoff delays with jitter.
#include "core/resilience/retry.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace dbpool {
namespace {

bool IsSerializationFailure(const DbError& error) {
  return error.sqlstate() == "40001" || error.sqlstate() == "40P01";
}

}  // namespace

bool IsHealthFailure(const DbError& error, bool pool_unhealthy) {
  switch (error.kind()) {
    case ErrorKind::kConnection:
    case ErrorKind::kUnknownOutcome:
    case ErrorKind::kQueryTimeout:
      return true;
    case ErrorKind::kPoolTimeout:
      return pool_unhealthy;  // a busy pool is not a sick server
    default:
      return false;
  }
}

std::optional<DbError> UnknownOutcome(const DbError& error, CallKind kind,
                                      const CallProgress& progress, bool idempotent) {
  if (idempotent || (error.kind() != ErrorKind::kConnection && error.kind() != ErrorKind::kQueryTimeout)) {
    return std::nullopt;
  }
  std::string what;
  if ((kind == CallKind::kWrite || kind == CallKind::kBatch) && progress.sent) {
    what = "the statement was sent, then the connection was lost";
  } else if (kind == CallKind::kTransaction && progress.commit_sent) {
    what = "COMMIT was sent, then the connection was lost";
  } else {
    return std::nullopt;
  }
  return DbError(ErrorKind::kUnknownOutcome,
                 what + ": it may or may not have taken effect, so it was not retried (mark the "
                        "call idempotent to allow that); cause: " + error.message(),
                 error.sqlstate(), error.vendor_code(), error.pool_id());
}

bool IsSafeToRetry(const DbError& error, CallKind kind, const CallProgress& progress,
                   bool idempotent) {
  if (error.kind() == ErrorKind::kConnection) {
    if (!progress.sent || idempotent || kind == CallKind::kRead) return true;
    // A transaction lost before COMMIT went out was rolled back by the server.
    return kind == CallKind::kTransaction && !progress.commit_sent;
  }
  if (IsSerializationFailure(error)) {
    // The server rolled the (implicit or whole) transaction back: running all of it again
    // is safe. In execute_batch earlier statements may have committed: not retried.
    return kind != CallKind::kBatch || idempotent;
  }
  return false;  // query errors (23505...), config, timeouts of the pool, cancellation
}

double RetryDelay(const RetryConfig& config, int attempt) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  double nominal = std::min(config.max_delay, config.base_delay * std::pow(2.0, attempt - 1));
  double cut = std::uniform_real_distribution<double>(0.0, std::clamp(config.jitter, 0.0, 1.0))(rng);
  return nominal * (1.0 - cut);
}

}  // namespace dbpool
