// The SQL Server driver (FreeTDS db-lib): option validation and dbopen on the blocking pool
// within connect_timeout.
#pragma once

#include <memory>
#include <string>

#include "drivers/driver.hpp"
#include "drivers/mssql/mssql_connection.hpp"

namespace dbpool::mssql {

/// db_type "mssql" (URL schemes mssql://, sqlserver://): mssql://user:pass@host:1433/db.
/// Options: encrypt (off, request, require, strict; true/yes = require, false/no = off;
/// default: FreeTDS's, which requests TLS when the server offers it), statement_timeout
/// (seconds to wait for a statement's first response, 0 = none), application_name,
/// tds_version (7.1 to 7.4, default 7.4). Any other option is a kConfig error.
class MssqlDriver final : public Driver {
 public:
  explicit MssqlDriver(Runtime& runtime) : runtime_(runtime) {}

  asio::awaitable<std::unique_ptr<Connection>> Connect(ConnectionConfig config) override;

  /// Validates config.options; throws DbError(kConfig) naming the offending option.
  static MssqlOptions ParseOptions(const ConnectionConfig& config);

  /// "host:port" (port 1433 unless given).
  static std::string Endpoint(const ConnectionConfig& config);

 private:
  Runtime& runtime_;
};

/// FreeTDS db-lib 1.3 takes the TLS mode only from a configuration file, so connections with
/// an `encrypt` option use a server entry of a private file (given to db-lib by dbsetifile;
/// removed at exit): returns that entry's name for host, port and mode. Thread safe.
std::string ServerEntryWithEncryption(const std::string& host, int port,
                                      const std::string& encryption, int tds_version);

}  // namespace dbpool::mssql
