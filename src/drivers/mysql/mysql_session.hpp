// MySQL session settings: what a ConnectionConfig asks for (with validated driver options),
// how a MYSQL handle is set up from it, and the short blocking side session that sends
// KILL QUERY for cancellation.
#pragma once

#include <mysql.h>

#include <string>

#include "dbpool/config.hpp"
#include "drivers/mysql/mysql_reader.hpp"

namespace dbpool::mysql {

inline constexpr unsigned int kDefaultPort = 3306;

/// Connection settings of one pool, shared by its connections and their cancel jobs.
struct Settings {
  std::string host;
  unsigned int port = kDefaultPort;
  std::string user;
  std::string password;
  std::string database;
  double connect_timeout = 10.0;  ///< seconds; 0 = none
  // Driver options (ConnectionConfig::options, e.g. mysql://h/db?zero_date=null):
  std::string unix_socket;   ///< "unix_socket" (alias "socket"): path of the server socket
  ZeroDate zero_date = ZeroDate::kError;  ///< "zero_date": error (default) | null
  std::string ssl_mode;      ///< "ssl_mode": preferred (default) | required | verify_identity
  std::string ssl_ca;        ///< "ssl_ca", "ssl_cert", "ssl_key": PEM file paths
  std::string ssl_cert;
  std::string ssl_key;
  std::string init_command;  ///< "init_command": SQL run once per new connection

  /// Takes the fields of `config` and validates its options; throws DbError(kConfig) naming
  /// an unknown option or an invalid value.
  static Settings From(const ConnectionConfig& config);

  /// "host:port" (or "host (unix socket path)") for messages.
  std::string Endpoint() const;
};

/// Initialises the client library once per process (mysql_init is not thread-safe before).
void EnsureLibraryInit();

/// Sets up a fresh handle: utf8mb4, session time_zone '+00:00' (TIMESTAMP values arrive in
/// UTC), no LOAD DATA LOCAL, truncation reporting, TLS options, connect timeout of
/// `connect_timeout_s` seconds; `nonblocking` enables the _start/_cont API. Returns false
/// (with the handle's error set) when the library refused an option.
bool ApplyOptions(MYSQL* mysql, const Settings& settings, bool nonblocking,
                  unsigned int connect_timeout_s);

/// Client flags of every session: several statements per Execute, and UPDATE counting
/// the rows it matched (as PostgreSQL and SQLite do) rather than the rows it changed.
unsigned long ClientFlags();

/// Blocking: opens a short session with `settings` and sends KILL QUERY `thread_id`.
/// Returns "" on success, else the reason. Runs on the blocking pool.
std::string KillQuery(const Settings& settings, unsigned long thread_id);

/// Closes a handle that may be half-way through a non-blocking call (or whose server is
/// gone): shuts the socket down first, so that mysql_close's COM_QUIT fails at once
/// instead of blocking on the event loop.
void CloseHard(MYSQL* mysql);

}  // namespace dbpool::mysql
