// Classification of SQLite failures into DbError kinds and PostgreSQL-style SQLSTATEs.
#include "drivers/sqlite/sqlite_error.hpp"

#include <string>

namespace dbpool::sqlite {
namespace {

bool Contains(std::string_view text, std::string_view needle) {
  return text.find(needle) != std::string_view::npos;
}

}  // namespace

std::string_view SqlStateFor(int extended_code, std::string_view message) {
  // Constraint failures have precise extended codes, so no message parsing is needed.
  switch (extended_code) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return "23505";
    case SQLITE_CONSTRAINT_NOTNULL:
      return "23502";
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return "23503";
    case SQLITE_CONSTRAINT_CHECK:
      return "23514";
    default:
      break;
  }
  switch (extended_code & 0xff) {
    case SQLITE_ERROR:
      // SQLite reports every compile-time problem as SQLITE_ERROR; its messages are stable
      // English phrases (see sqlite3ErrorMsg calls in the parser), so they are the only key.
      if (Contains(message, "syntax error") || Contains(message, "incomplete input")) {
        return "42601";
      }
      if (Contains(message, "no such table")) return "42P01";
      if (Contains(message, "no such column")) return "42703";
      if (Contains(message, "no such function")) return "42883";
      if (Contains(message, "already exists")) return "42P07";
      if (Contains(message, "within a transaction")) return "25001";
      if (Contains(message, "no transaction is active")) return "25P01";
      return "";
    case SQLITE_CONSTRAINT:
      return "23000";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "55P03";
    case SQLITE_READONLY:
      return "25006";
    case SQLITE_TOOBIG:
      return "54000";
    case SQLITE_MISMATCH:
      return "42804";
    case SQLITE_RANGE:
      return "08P01";
    case SQLITE_FULL:
      return "53100";
    case SQLITE_NOMEM:
      return "53200";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return "XX001";
    case SQLITE_IOERR:
      return "58030";
    case SQLITE_INTERRUPT:
      return "57014";
    default:
      return "";
  }
}

bool IsFatalCode(int code) {
  switch (code & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      return true;
    default:
      return false;
  }
}

DbError MakeError(sqlite3* db, int rc, std::string_view context) {
  // The handle's extended code is more precise than rc (e.g. SQLITE_CONSTRAINT_UNIQUE); it
  // can be stale when rc came from somewhere else, so only trust it when the primaries agree.
  int extended = rc;
  std::string message;
  if (db != nullptr) {
    int handle_code = sqlite3_extended_errcode(db);
    if ((handle_code & 0xff) == (rc & 0xff)) extended = handle_code;
    message = sqlite3_errmsg(db);
  } else {
    message = sqlite3_errstr(rc);
  }
  std::string sqlstate(SqlStateFor(extended, message));
  if (!context.empty()) message = std::string(context) + ": " + message;

  ErrorKind kind = ErrorKind::kQuery;
  if ((rc & 0xff) == SQLITE_INTERRUPT) {
    kind = ErrorKind::kCancelled;
  } else if (IsFatalCode(rc)) {
    kind = ErrorKind::kConnection;
  }
  return DbError(kind, std::move(message), std::move(sqlstate), extended);
}

}  // namespace dbpool::sqlite
