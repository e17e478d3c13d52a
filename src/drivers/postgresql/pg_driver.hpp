// PgDriver: opens PostgreSQL connections with libpq's non-blocking connect, bounded by
// connect_timeout even when the host never answers.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "drivers/driver.hpp"
#include "drivers/postgresql/pg_connection.hpp"

namespace dbpool::pg {

/// libpq keywords and values for PQconnectStartParams, built from a ConnectionConfig.
struct ConnectParams {
  std::vector<std::string> keywords;
  std::vector<std::string> values;

  /// host, port, dbname, user, password and connect_timeout from the config's fields (when
  /// set), every entry of config.options passed through as a libpq keyword (sslmode,
  /// application_name, target_session_attrs...), client_encoding UTF8 unless an option
  /// says otherwise. db-pool's own options (SessionOptions in pg_connection.hpp:
  /// statement_cache_size) are left out. Throws DbError(kConfig) naming an option libpq
  /// does not know.
  static ConnectParams From(const ConnectionConfig& config);
};

/// "host:port" for messages (libpq's defaults when the config leaves them empty).
std::string Endpoint(const ConnectionConfig& config);

class PgDriver final : public Driver {
 public:
  explicit PgDriver(Runtime& runtime) : runtime_(runtime) {}

  /// Connects without blocking the event loop: libpq calls that may block (host name
  /// lookups inside PQconnectStartParams / PQconnectPoll) run on the blocking pool, socket
  /// waits on the event loop. Fails with kConnection naming host:port within
  /// config.connect_timeout; kConfig for invalid options.
  asio::awaitable<std::unique_ptr<Connection>> Connect(ConnectionConfig config) override;
  void set_warning_source(std::string name) override;

 private:
  Runtime& runtime_;
  /// One per pool: its connections switch to unnamed statements together.
  std::shared_ptr<PoolerDetection> pooler_ = std::make_shared<PoolerDetection>();
};

}  // namespace dbpool::pg
