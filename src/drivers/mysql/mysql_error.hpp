// MySQL / MariaDB failures -> DbError: which error numbers mean the session is gone, which
// mean our own KILL QUERY interrupted the statement, and connection errors that name
// host:port (never the password).
#pragma once

#include <mysql.h>

#include <string>
#include <string_view>

#include "dbpool/error.hpp"

namespace dbpool::mysql {

/// ER_QUERY_INTERRUPTED: the statement was stopped by KILL QUERY.
inline constexpr unsigned int kQueryInterrupted = 1317;
/// ER_UNSUPPORTED_PS: the statement cannot be prepared (it then runs as text).
inline constexpr unsigned int kUnsupportedPs = 1295;

/// True for error numbers after which the session cannot be used: the client library's
/// lost-connection errors (2002, 2003, 2006, 2013, 2026, 2055, 5013, 5014...), protocol
/// desync (2014) and the server's "your connection is being closed" errors
/// (1053 ER_SERVER_SHUTDOWN, 1080 ER_FORCING_CLOSE, 1152 ER_ABORTING_CONNECTION,
/// 1927 ER_CONNECTION_KILLED, 4031 ER_CLIENT_INTERACTION_TIMEOUT).
bool IsConnectionErrno(unsigned int code);

/// The DbError for a failed statement: kConnection when IsConnectionErrno (the caller
/// marks the connection broken), kCancelled for ER_QUERY_INTERRUPTED when we sent the
/// KILL QUERY (`cancel_sent`), else kQuery. Carries the SQLSTATE and the errno.
DbError StatementError(unsigned int code, const char* sqlstate, const char* message,
                       bool cancel_sent);

/// StatementError() from the session's last error.
DbError SessionError(MYSQL* mysql, bool cancel_sent);
/// StatementError() from a prepared statement's last error.
DbError StmtError(MYSQL_STMT* stmt, bool cancel_sent);

/// A kConnection error for a failed connection attempt to `endpoint` ("host:port"), with
/// the server's or library's explanation, SQLSTATE and errno (1045 / 28000 for a wrong
/// password, 1049 / 42000 for an unknown database, 2002 / 2003 for an unreachable server).
DbError ConnectError(std::string_view endpoint, MYSQL* mysql);

}  // namespace dbpool::mysql
