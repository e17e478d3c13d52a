// SQLite result codes -> DbError: kind, SQLSTATE for the common cases, extended code.
#pragma once

#include <sqlite3.h>

#include <string_view>

#include "dbpool/error.hpp"

namespace dbpool::sqlite {

/// The SQLSTATE that PostgreSQL would report for the same failure, or "" when SQLite's
/// answer has no clear equivalent. `extended_code` is sqlite3_extended_errcode().
///
/// | SQLite                                         | SQLSTATE | meaning                    |
/// |------------------------------------------------|----------|----------------------------|
/// | SQLITE_ERROR "syntax error" / "incomplete input"| 42601    | syntax_error               |
/// | SQLITE_ERROR "no such table"                   | 42P01    | undefined_table            |
/// | SQLITE_ERROR "no such column"                  | 42703    | undefined_column           |
/// | SQLITE_ERROR "no such function"                | 42883    | undefined_function         |
/// | SQLITE_ERROR "already exists"                  | 42P07    | duplicate_table            |
/// | SQLITE_ERROR "within a transaction"            | 25001    | active_sql_transaction     |
/// | SQLITE_ERROR "no transaction is active"        | 25P01    | no_active_sql_transaction  |
/// | SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY         | 23505    | unique_violation           |
/// | SQLITE_CONSTRAINT_NOTNULL                      | 23502    | not_null_violation         |
/// | SQLITE_CONSTRAINT_FOREIGNKEY                   | 23503    | foreign_key_violation      |
/// | SQLITE_CONSTRAINT_CHECK                        | 23514    | check_violation            |
/// | other SQLITE_CONSTRAINT                        | 23000    | integrity_constraint_viol. |
/// | SQLITE_BUSY / SQLITE_LOCKED                    | 55P03    | lock_not_available         |
/// | SQLITE_READONLY                                | 25006    | read_only_sql_transaction  |
/// | SQLITE_TOOBIG                                  | 54000    | program_limit_exceeded     |
/// | SQLITE_MISMATCH                                | 42804    | datatype_mismatch          |
/// | SQLITE_RANGE (bind index)                      | 08P01    | protocol_violation         |
/// | SQLITE_FULL                                    | 53100    | disk_full                  |
/// | SQLITE_NOMEM                                   | 53200    | out_of_memory              |
/// | SQLITE_CORRUPT / SQLITE_NOTADB                 | XX001    | data_corrupted             |
/// | SQLITE_IOERR                                   | 58030    | io_error                   |
/// | SQLITE_INTERRUPT                               | 57014    | query_canceled             |
std::string_view SqlStateFor(int extended_code, std::string_view message);

/// True for failures after which the handle should not be trusted again (corruption, I/O
/// errors, a database file that vanished or is not a database).
bool IsFatalCode(int code);

/// The DbError for a failed call on `db` that returned `rc`: kCancelled for SQLITE_INTERRUPT,
/// kConnection for fatal codes, else kQuery; vendor_code is the extended code and the
/// message is sqlite3_errmsg, prefixed by `context` when non-empty.
DbError MakeError(sqlite3* db, int rc, std::string_view context = {});

}  // namespace dbpool::sqlite
