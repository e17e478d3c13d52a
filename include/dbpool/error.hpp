// The one error type of the engine: a kind (mirrored by the Python exception classes) plus
// what the database said (SQLSTATE or vendor code, message) and which pool it concerns.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace dbpool {

/// Error kinds; each maps to one Python exception class of the same name.
enum class ErrorKind {
  kConnection,      ///< ConnectionError: could not connect, or the connection broke.
  kQuery,           ///< QueryError: the database rejected the statement.
  kConfig,          ///< ConfigError: invalid configuration (names the field).
  kDataConversion,  ///< DataConversionError: a value could not become Arrow (names the column).
  kPoolTimeout,     ///< PoolTimeoutError: no connection within acquire_timeout.
  kPoolClosed,      ///< PoolClosedError: the pool (or manager) is closed.
  kPoolNotFound,    ///< PoolNotFoundError: no pool with that id.
  kCancelled,       ///< The caller cancelled the operation (asyncio.CancelledError in Python).
  kUnknownOutcome,  ///< UnknownOutcomeError: a write was sent, then the connection broke.
  kCircuitOpen,     ///< CircuitOpenError: the pool's circuit breaker rejects calls for now.
  kQueryTimeout,    ///< QueryTimeoutError: the call did not finish within query_timeout.
  kReadOnlyMode,    ///< ReadOnlyModeError: a write while the primary of a read_only_mode group is down.
  kInternal,        ///< DbPoolError: anything else.
};

const char* ErrorKindName(ErrorKind kind);

/// Exception thrown by every layer of the engine.
class DbError : public std::runtime_error {
 public:
  DbError(ErrorKind kind, std::string message, std::string sqlstate = {},
          int64_t vendor_code = 0, std::string pool_id = {});

  ErrorKind kind() const { return kind_; }
  /// Five-character SQLSTATE where the database gave one, else empty.
  const std::string& sqlstate() const { return sqlstate_; }
  /// Database-specific error number (MySQL errno, SQLite extended code...), else 0.
  int64_t vendor_code() const { return vendor_code_; }
  const std::string& pool_id() const { return pool_id_; }
  /// The message as the database (or the engine) gave it, without the pool prefix.
  const std::string& message() const { return message_; }

  /// Returns a copy that names the pool (used by the core when an error crosses a pool).
  DbError WithPool(const std::string& pool_id) const;

 private:
  ErrorKind kind_;
  std::string message_;
  std::string sqlstate_;
  int64_t vendor_code_;
  std::string pool_id_;
};

}  // namespace dbpool
