// Classification of MySQL client and server error numbers into DbError kinds.
#include "drivers/mysql/mysql_error.hpp"

#include <errmsg.h>

#include <string>

namespace dbpool::mysql {
namespace {

std::string SqlState(const char* sqlstate) {
  // "HY000" is the client library's "no particular state"; keep it (it is what the server
  // itself reports for errors without a standard SQLSTATE), but never an empty string
  // pretending to be one.
  if (sqlstate == nullptr || std::string_view(sqlstate).size() != 5) return {};
  return sqlstate;
}

}  // namespace

bool IsConnectionErrno(unsigned int code) {
  switch (code) {
    case CR_SOCKET_CREATE_ERROR:   // 2001
    case CR_CONNECTION_ERROR:      // 2002
    case CR_CONN_HOST_ERROR:       // 2003
    case CR_UNKNOWN_HOST:          // 2005
    case CR_SERVER_GONE_ERROR:     // 2006
    case CR_SERVER_LOST:           // 2013
    case CR_COMMANDS_OUT_OF_SYNC:  // 2014: the protocol state is unknown
    case CR_SSL_CONNECTION_ERROR:  // 2026
    case CR_SERVER_LOST_EXTENDED:  // 2055
    case CR_ERR_NET_READ:          // 5013
    case CR_ERR_NET_WRITE:         // 5014
    case 1053:                     // ER_SERVER_SHUTDOWN
    case 1080:                     // ER_FORCING_CLOSE
    case 1152:                     // ER_ABORTING_CONNECTION
    case 1927:                     // ER_CONNECTION_KILLED (MariaDB)
    case 4031:                     // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
      return true;
    default:
      return false;
  }
}

DbError StatementError(unsigned int code, const char* sqlstate, const char* message,
                       bool cancel_sent) {
  std::string text = message != nullptr && *message != '\0' ? message : "unknown error";
  std::string state = SqlState(sqlstate);
  if (IsConnectionErrno(code)) {
    return DbError(ErrorKind::kConnection, text, state, code);
  }
  if (code == kQueryInterrupted && cancel_sent) {
    return DbError(ErrorKind::kCancelled, "statement cancelled: " + text, state, code);
  }
  return DbError(ErrorKind::kQuery, text, state, code);
}

DbError SessionError(MYSQL* mysql, bool cancel_sent) {
  return StatementError(mysql_errno(mysql), mysql_sqlstate(mysql), mysql_error(mysql),
                        cancel_sent);
}

DbError StmtError(MYSQL_STMT* stmt, bool cancel_sent) {
  return StatementError(mysql_stmt_errno(stmt), mysql_stmt_sqlstate(stmt),
                        mysql_stmt_error(stmt), cancel_sent);
}

DbError ConnectError(std::string_view endpoint, MYSQL* mysql) {
  std::string message = "could not connect to " + std::string(endpoint);
  unsigned int code = mysql != nullptr ? mysql_errno(mysql) : 0;
  std::string state;
  if (mysql != nullptr) {
    const char* reason = mysql_error(mysql);
    if (reason != nullptr && *reason != '\0') message += std::string(": ") + reason;
    state = SqlState(mysql_sqlstate(mysql));
  }
  return DbError(ErrorKind::kConnection, message, state, code);
}

}  // namespace dbpool::mysql
