// Pool and connection configuration, from URL, key/value map (dict, keywords) or
// environment; validation errors name the field and the reason; passwords never printed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace dbpool {

/// Where and how to connect. `options` holds driver-specific settings (e.g. sslmode,
/// application_name for PostgreSQL; busy_timeout, journal_mode for SQLite).
struct ConnectionConfig {
  std::string db_type;  ///< "postgresql" or "sqlite" (aliases are normalised when parsing)
  std::string host;
  uint16_t port = 0;    ///< 0 = the database's default
  std::string database; ///< database name, or the file path / ":memory:" for SQLite
  std::string username;
  std::string password;
  double connect_timeout = 10.0;  ///< seconds
  std::map<std::string, std::string> options;

  /// A URL form of this config with the password replaced by "***".
  std::string Redacted() const;
};

/// Pool sizing and timing. All durations are in seconds; 0 disables where noted.
struct PoolConfig {
  ConnectionConfig connection;
  int min_connections = 1;
  int max_connections = 10;
  double acquire_timeout = 30.0;   ///< wait for a free connection before PoolTimeoutError
  double idle_timeout = 600.0;     ///< close idle connections above min after this; 0 = never
  double max_lifetime = 1800.0;    ///< retire connections older than this (with jitter); 0 = never

  /// Checks every field; throws DbError(kConfig) naming the first invalid field.
  void Validate() const;
  /// A one-line description with the password redacted.
  std::string Redacted() const;

  /// Parses postgresql://, postgres://, sqlite:///path, sqlite::memory: (query parameters
  /// become pool fields or connection options).
  static PoolConfig FromUrl(std::string_view url);
  /// Builds from string keys/values: url, db_type, host, port, database, username, password,
  /// min_connections, max_connections, acquire_timeout, connect_timeout, idle_timeout,
  /// max_lifetime; any other key becomes a connection option. Explicit keys override the url.
  static PoolConfig FromMap(const std::map<std::string, std::string>& values);
  /// Reads PREFIX + upper-case key (e.g. DB_POOL_URL, DB_POOL_MAX_CONNECTIONS) from the
  /// environment and applies FromMap.
  static PoolConfig FromEnv(std::string_view prefix = "DB_POOL_");
};

}  // namespace dbpool
