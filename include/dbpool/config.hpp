// Pool and connection configuration, from URL, key/value map (dict, keywords) or
// environment; validation errors name the field and the reason; passwords never printed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace dbpool {

/// One server address of a multi-host list.
struct HostPort {
  std::string host;
  uint16_t port = 0;  ///< 0 = the database's default
  bool operator==(const HostPort&) const = default;
};

/// Where and how to connect. `options` holds driver-specific settings (e.g. sslmode,
/// application_name for PostgreSQL; busy_timeout, journal_mode for SQLite).
struct ConnectionConfig {
  std::string db_type;  ///< "postgresql" or "sqlite" (aliases are normalised when parsing)
  std::string host;
  uint16_t port = 0;    ///< 0 = the database's default
  /// Hosts after the first (`host`, `port`) of a multi-host list (PostgreSQL only: libpq
  /// tries them in order, and target_session_attrs chooses among them). Empty for one host.
  std::vector<HostPort> more_hosts;
  std::string database; ///< database name, or the file path / ":memory:" for SQLite
  std::string username;
  std::string password;
  double connect_timeout = 10.0;  ///< seconds
  std::map<std::string, std::string> options;

  /// Every host in order: `host`/`port` first, then more_hosts.
  std::vector<HostPort> Hosts() const;
  /// A URL form of this config with the password replaced by "***".
  std::string Redacted() const;
};

/// RetryWithBackoff: how failed calls are retried (only where that is safe, see
/// core/resilience/retry.hpp). max_attempts 1 = no retries.
struct RetryConfig {
  int max_attempts = 1;
  double base_delay = 0.05;  ///< seconds before the first retry; doubles each time
  double max_delay = 2.0;    ///< cap of one delay
  double jitter = 0.2;       ///< fraction of each delay taken off at random (0..1)
};

/// CircuitBreaker: after failure_threshold consecutive connection-level failures calls fail
/// at once (CircuitOpenError) for recovery_timeout seconds; then half_open_probes calls are
/// let through, each bounded by probe_timeout. failure_threshold 0 = no breaker.
struct CircuitBreakerConfig {
  int failure_threshold = 0;
  double recovery_timeout = 30.0;
  int half_open_probes = 1;
  double probe_timeout = 5.0;
};

/// Pool sizing and timing. All durations are in seconds; 0 disables where noted.
struct PoolConfig {
  ConnectionConfig connection;
  int min_connections = 1;
  int max_connections = 10;
  double acquire_timeout = 30.0;   ///< wait for a free connection before PoolTimeoutError
  double idle_timeout = 600.0;     ///< close idle connections above min after this; 0 = never
  double max_lifetime = 1800.0;    ///< retire connections older than this (with jitter); 0 = never

  // --- lifecycle and health (docs/configuration.md, "Health and lifecycle") ---
  /// How often the HealthMonitor probes the pool (pings idle connections unused for that
  /// long, refills to min, updates the health state); 0 = no monitor.
  double health_check_interval = 30.0;
  /// Idle connections unused for this long are pinged (keeps firewalls/NAT and server
  /// idle timeouts from killing them silently); 0 = off.
  double keepalive_interval = 0.0;
  enum class CheckOnBorrow { kOff, kAlways, kAfterIdle };
  /// Ping a connection before handing it out: never, always, or after it sat idle for
  /// check_on_borrow_idle seconds. A failed check discards it and takes another.
  CheckOnBorrow check_on_borrow = CheckOnBorrow::kAfterIdle;
  double check_on_borrow_idle = 5.0;
  /// Upper bound of one ping (check on borrow, keepalive, health check).
  double validation_timeout = 5.0;
  /// Warn (logger "db_pool") when a connection is held longer than this; 0 = off.
  double leak_detection_threshold = 0.0;
  /// Statements run on every new connection (SET ..., search_path, time zone).
  std::vector<std::string> init_sql;
  /// Reset the whole session when a connection is returned (PostgreSQL: DISCARD ALL;
  /// init_sql runs again afterwards). Open or failed transactions are always rolled back.
  bool reset_session = false;
  /// create_pool fails when the first connection cannot be opened; false: a pool can be
  /// created while its server is unreachable and fills when it comes back (bad
  /// credentials or database names still fail at once).
  bool fail_fast = true;
  /// Reconnect attempts after failures wait base * 2^n seconds (at most max), minus up to
  /// 20% jitter.
  double reconnect_backoff_base = 0.1;
  double reconnect_backoff_max = 5.0;
  /// Grow ahead of demand / shrink early between min and max by utilisation (in_use/size).
  bool auto_scaling = false;
  double scale_up_threshold = 0.8;
  double scale_down_threshold = 0.3;

  // --- fallback strategies ---
  /// Client-side bound of one call once it has a connection (the connection is then
  /// dropped, its state being unknown); 0 = none.
  double query_timeout = 0.0;
  RetryConfig retry;
  CircuitBreakerConfig circuit_breaker;

  /// Checks every field; throws DbError(kConfig) naming the first invalid field.
  void Validate() const;
  /// A one-line description with the password redacted.
  std::string Redacted() const;

  /// Parses postgresql://, postgres://, sqlite:///path, sqlite::memory: (query parameters
  /// become pool fields or connection options).
  static PoolConfig FromUrl(std::string_view url);
  /// Builds from string keys/values: url, db_type, host, port, database, username, password,
  /// min_connections, max_connections, acquire_timeout, connect_timeout, idle_timeout,
  /// max_lifetime and the lifecycle fields above (init_sql, or init_sql[N] for the N-th of
  /// several statements); any other key becomes a connection option. Explicit keys
  /// override the url.
  static PoolConfig FromMap(const std::map<std::string, std::string>& values);
  /// Reads PREFIX + upper-case key (e.g. DB_POOL_URL, DB_POOL_MAX_CONNECTIONS) from the
  /// environment and applies FromMap.
  static PoolConfig FromEnv(std::string_view prefix = "DB_POOL_");
  /// The key/value pairs FromEnv reads (to merge explicit values over them).
  static std::map<std::string, std::string> EnvValues(std::string_view prefix);
};

}  // namespace dbpool
