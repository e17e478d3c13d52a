// Classification of libpq failures into DbError kinds with SQLSTATE and readable messages.
#include "drivers/postgresql/pg_error.hpp"

#include <string>

namespace dbpool::pg {
namespace {

bool Contains(std::string_view text, std::string_view needle) {
  return text.find(needle) != std::string_view::npos;
}

std::string Field(const PGresult* result, int code) {
  const char* value = PQresultErrorField(result, code);
  return value != nullptr ? std::string(value) : std::string();
}

// libpq reports connection failures as text only (there is no PGresult before a session
// exists, nor for a FATAL that arrives between statements), so the SQLSTATE comes from the
// server's message phrases: the English texts of auth.c, postinit.c and postgres.c. With a
// localised lc_messages the SQLSTATE stays empty.
std::string GuessSqlState(std::string_view message) {
  if (Contains(message, "terminating connection due to administrator command")) {
    return "57P01";  // admin_shutdown (pg_terminate_backend, smart/fast shutdown)
  }
  if (Contains(message, "terminating connection because of crash of another server")) {
    return "57P02";  // crash_shutdown
  }
  if (Contains(message, "password authentication failed") ||
      Contains(message, "no password supplied") || Contains(message, "password is required")) {
    return "28P01";  // invalid_password
  }
  if (Contains(message, "no pg_hba.conf entry") ||
      (Contains(message, "role \"") && Contains(message, "does not exist"))) {
    return "28000";  // invalid_authorization_specification
  }
  if (Contains(message, "database \"") && Contains(message, "does not exist")) {
    return "3D000";  // invalid_catalog_name
  }
  if (Contains(message, "too many connections") ||
      Contains(message, "remaining connection slots are reserved")) {
    return "53300";  // too_many_connections
  }
  if (Contains(message, "the database system is starting up") ||
      Contains(message, "the database system is shutting down") ||
      Contains(message, "the database system is in recovery mode")) {
    return "57P03";  // cannot_connect_now
  }
  return {};
}

}  // namespace

bool IsConnectionSqlState(std::string_view sqlstate) {
  if (sqlstate.size() != 5) return false;
  return sqlstate.substr(0, 2) == "08" || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03";
}

std::string TidyMessage(std::string_view message) {
  // "connection to server at "h", port p failed: " and "connection to server on socket
  // "/path" failed: " repeat what our message already names.
  if (message.rfind("connection to server ", 0) == 0) {
    size_t cut = message.find(" failed: ");
    if (cut != std::string_view::npos) message.remove_prefix(cut + 9);
  }
  // libpq puts one fact per line (one per host tried, continuation lines indented with a
  // tab): join them on one line.
  std::string text;
  while (!message.empty()) {
    size_t end = message.find('\n');
    std::string_view line = message.substr(0, end);
    message.remove_prefix(end == std::string_view::npos ? message.size() : end + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    if (line.empty()) continue;
    if (!text.empty()) text += "; ";
    text += line;
  }
  return text;
}

DbError ResultError(const PGresult* result, PGconn* conn, bool cancel_requested) {
  std::string sqlstate = Field(result, PG_DIAG_SQLSTATE);
  std::string message = Field(result, PG_DIAG_MESSAGE_PRIMARY);
  if (message.empty()) {
    // Errors libpq makes itself (lost connection, protocol trouble) have no fields.
    message = TidyMessage(PQresultErrorMessage(result));
    if (message.empty()) message = TidyMessage(PQerrorMessage(conn));
    if (message.empty()) {
      message = std::string("unexpected result ") + PQresStatus(PQresultStatus(result));
    }
  }
  if (std::string detail = Field(result, PG_DIAG_MESSAGE_DETAIL); !detail.empty()) {
    message += "\nDETAIL: " + detail;
  }
  if (std::string hint = Field(result, PG_DIAG_MESSAGE_HINT); !hint.empty()) {
    message += "\nHINT: " + hint;
  }
  // 08P01 from Bind (a parameter count or format the statement does not take) is an
  // ordinary error: the server skips to the next Sync and the session goes on.
  bool bind_error = sqlstate == "08P01" && Field(result, PG_DIAG_SOURCE_FUNCTION) == "exec_bind_message";
  if ((IsConnectionSqlState(sqlstate) && !bind_error) || PQstatus(conn) == CONNECTION_BAD) {
    return DbError(ErrorKind::kConnection, message, sqlstate);
  }
  if (sqlstate == "57014" && cancel_requested) {
    return DbError(ErrorKind::kCancelled, "statement cancelled: " + message, sqlstate);
  }
  return DbError(ErrorKind::kQuery, message, sqlstate);
}

DbError ConnError(PGconn* conn, std::string_view context) {
  std::string message(context);
  std::string reason = TidyMessage(PQerrorMessage(conn));
  if (!reason.empty()) message += ": " + reason;
  if (PQstatus(conn) == CONNECTION_BAD) return DbError(ErrorKind::kConnection, message);
  return DbError(ErrorKind::kQuery, message);
}

DbError ConnectionLost(PGconn* conn, std::string_view context) {
  std::string message(context);
  std::string reason = TidyMessage(PQerrorMessage(conn));
  if (!reason.empty()) message += ": " + reason;
  return DbError(ErrorKind::kConnection, message, GuessSqlState(reason));
}

DbError ConnectError(std::string_view endpoint, std::string_view libpq_message) {
  std::string reason = TidyMessage(libpq_message);
  std::string message = "could not connect to " + std::string(endpoint);
  if (!reason.empty()) message += ": " + reason;
  return DbError(ErrorKind::kConnection, message, GuessSqlState(libpq_message));
}

}  // namespace dbpool::pg
