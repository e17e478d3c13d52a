// PostgreSQL failures -> DbError: SQLSTATE classification (session lost vs statement
// rejected vs cancelled) and message text; connection errors name host:port, never a password.
#pragma once

#include <libpq-fe.h>

#include <string>
#include <string_view>

#include "dbpool/error.hpp"

namespace dbpool::pg {

/// True for SQLSTATEs after which the session is gone and the connection must be dropped:
/// class 08 (connection_exception), 57P01 admin_shutdown (pg_terminate_backend),
/// 57P02 crash_shutdown, 57P03 cannot_connect_now.
bool IsConnectionSqlState(std::string_view sqlstate);

/// The DbError for a result whose status is not a success (PGRES_FATAL_ERROR, or a
/// libpq-generated error result). Kind: kConnection when the SQLSTATE says the session is
/// gone or `conn` is CONNECTION_BAD; kCancelled for 57014 when `cancel_requested` (a server
/// statement_timeout also reports 57014, and stays a kQuery); else kQuery. The message is the
/// primary message followed by DETAIL and HINT lines when the server sent them.
DbError ResultError(const PGresult* result, PGconn* conn, bool cancel_requested);

/// The DbError after a libpq call failed without a result (PQsendQueryParams, PQflush,
/// PQconsumeInput returned failure): kConnection when the connection is bad, else kQuery.
DbError ConnError(PGconn* conn, std::string_view context);

/// A kConnection error: `context` plus libpq's explanation, for socket-level failures
/// (PQflush / PQconsumeInput returned an error), after which the session is unusable. The
/// SQLSTATE is recognised from the server's last message when there was one (57P01 for
/// pg_terminate_backend).
DbError ConnectionLost(PGconn* conn, std::string_view context);

/// A kConnection error for a failed connection attempt to `endpoint` ("host:port"), with
/// libpq's explanation and a SQLSTATE recognised from it (28P01 wrong password, 28000
/// unknown role / no pg_hba entry, 3D000 unknown database, 53300 too many connections,
/// 57P03 server starting or stopping), because libpq has no SQLSTATE API before a session.
DbError ConnectError(std::string_view endpoint, std::string_view libpq_message);

/// libpq messages end in a newline (and sometimes carry a "connection to server at ...
/// failed:" prefix that repeats the endpoint); returns the message without them.
std::string TidyMessage(std::string_view message);

}  // namespace dbpool::pg
