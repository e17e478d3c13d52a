// DbError: formatting of the what() string from kind, pool, SQLSTATE and message.
#include "dbpool/error.hpp"

namespace dbpool {
namespace {

std::string Describe(const std::string& message, const std::string& sqlstate,
                     const std::string& pool_id) {
  std::string text;
  if (!pool_id.empty()) text += "pool '" + pool_id + "': ";
  text += message;
  if (!sqlstate.empty()) text += " (SQLSTATE " + sqlstate + ")";
  return text;
}

}  // namespace

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kConnection: return "ConnectionError";
    case ErrorKind::kQuery: return "QueryError";
    case ErrorKind::kConfig: return "ConfigError";
    case ErrorKind::kDataConversion: return "DataConversionError";
    case ErrorKind::kPoolTimeout: return "PoolTimeoutError";
    case ErrorKind::kPoolClosed: return "PoolClosedError";
    case ErrorKind::kPoolNotFound: return "PoolNotFoundError";
    case ErrorKind::kCancelled: return "CancelledError";
    case ErrorKind::kUnknownOutcome: return "UnknownOutcomeError";
    case ErrorKind::kCircuitOpen: return "CircuitOpenError";
    case ErrorKind::kQueryTimeout: return "QueryTimeoutError";
    case ErrorKind::kReadOnlyMode: return "ReadOnlyModeError";
    case ErrorKind::kInternal: return "DbPoolError";
  }
  return "DbPoolError";
}

DbError::DbError(ErrorKind kind, std::string message, std::string sqlstate, int64_t vendor_code,
                 std::string pool_id)
    : std::runtime_error(Describe(message, sqlstate, pool_id)),
      kind_(kind),
      message_(std::move(message)),
      sqlstate_(std::move(sqlstate)),
      vendor_code_(vendor_code),
      pool_id_(std::move(pool_id)) {}

DbError DbError::WithPool(const std::string& pool_id) const {
  return DbError(kind_, message_, sqlstate_, vendor_code_, pool_id);
}

}  // namespace dbpool
