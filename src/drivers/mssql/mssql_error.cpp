// The db-lib handlers and the classification of SQL Server error numbers.
#include "drivers/mssql/mssql_error.hpp"

#include <sybfront.h>  // must precede sybdb.h in C sources; harmless after it in C++

#include <mutex>

namespace dbpool::mssql {
namespace {

thread_local ErrorSink* tls_sink = nullptr;

ErrorSink* SinkFor(DBPROCESS* dbproc) {
  if (dbproc != nullptr) {
    if (auto* sink = reinterpret_cast<ErrorSink*>(dbgetuserdata(dbproc))) return sink;
  }
  return tls_sink;
}

// db-lib calls this for client-side errors (network, protocol, misuse). Returning INT_EXIT
// would end the process; INT_CANCEL makes the failing call return FAIL, and for a lost
// connection db-lib marks the DBPROCESS dead, which the connection checks.
int ErrHandler(DBPROCESS* dbproc, int severity, int dberr, int oserr, char* dberrstr,
               char* oserrstr) {
  if (dberr == SYBESMSG) return INT_CANCEL;  // "check messages from the server": we have them
  if (dberr == SYBETIME) {
    // Only our interrupt check makes db-lib time out (no dbsettime): a cancelled statement.
    // INT_TIMEOUT: send the attention and keep reading (INT_CANCEL would close the socket).
    ErrorSink* sink = SinkFor(dbproc);
    if (sink != nullptr && sink->cancelled != nullptr &&
        sink->cancelled->load(std::memory_order_acquire)) {
      if (sink->attention_sent != nullptr) {
        sink->attention_sent->store(true, std::memory_order_release);
      }
      return INT_TIMEOUT;
    }
  }
  std::string text = dberrstr != nullptr ? dberrstr : "db-lib error";
  if (oserr != 0 && oserr != DBNOERR && oserrstr != nullptr && *oserrstr != '\0' &&
      std::string_view(oserrstr) != "Success") {
    text += " (";
    text += oserrstr;
    text += ")";
  }
  if (ErrorSink* sink = SinkFor(dbproc)) sink->OnLibraryError(dberr, std::move(text));
  return INT_CANCEL;
}

// dbsetinterrupt's check, called by db-lib about once a second while a read waits.
int CheckInterrupt(void* handle) {
  auto* dbproc = static_cast<DBPROCESS*>(handle);
  auto* sink = reinterpret_cast<ErrorSink*>(dbgetuserdata(dbproc));
  if (sink == nullptr || sink->cancelled == nullptr) return FALSE;
  if (!sink->cancelled->load(std::memory_order_acquire)) return FALSE;
  // Once the attention is out, the wait is for its acknowledgement: let it be.
  return sink->attention_sent != nullptr && sink->attention_sent->load(std::memory_order_acquire)
             ? FALSE
             : TRUE;
}

int HandleInterrupt(void*) { return INT_CANCEL; }

// Server messages: severity <= 10 are informational (PRINT, "Changed database context").
int MsgHandler(DBPROCESS* dbproc, DBINT msgno, int msgstate, int severity, char* msgtext,
               char* srvname, char* procname, int line) {
  if (severity <= 10) return 0;
  if (ErrorSink* sink = SinkFor(dbproc)) {
    ServerMessage message;
    message.number = msgno;
    message.state = msgstate;
    message.severity = severity;
    message.text = msgtext != nullptr ? msgtext : "";
    while (!message.text.empty() && (message.text.back() == '\n' || message.text.back() == ' ')) {
      message.text.pop_back();
    }
    message.procedure = procname != nullptr ? procname : "";
    message.line = line;
    sink->OnServerMessage(std::move(message));
  }
  return 0;
}

}  // namespace

void ErrorSink::OnLibraryError(int number, std::string text) {
  if (library_error_ != 0) return;  // the first one says what went wrong
  library_error_ = number;
  library_text_ = std::move(text);
}

void InitDbLib() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (dbinit() == FAIL) {
      throw DbError(ErrorKind::kConnection, "FreeTDS db-lib could not be initialised (dbinit)");
    }
    dberrhandle(&ErrHandler);
    dbmsghandle(&MsgHandler);
  });
}

void AttachSink(DBPROCESS* dbproc, ErrorSink* sink) {
  dbsetuserdata(dbproc, reinterpret_cast<BYTE*>(sink));
  if (sink != nullptr) {
    dbsetinterrupt(dbproc, &CheckInterrupt, &HandleInterrupt);
  } else {
    dbsetinterrupt(dbproc, nullptr, nullptr);
  }
}

ThreadSinkScope::ThreadSinkScope(ErrorSink* sink) : previous_(tls_sink) { tls_sink = sink; }
ThreadSinkScope::~ThreadSinkScope() { tls_sink = previous_; }

std::string SqlStateFor(int number) {
  switch (number) {
    case 102: case 105: case 156: case 170: case 195: case 2812:
      return "42000";  // syntax error or access violation
    case 207:
      return "42S22";  // column not found
    case 208:
      return "42S02";  // table or view not found
    case 2714:
      return "42S01";  // table already exists
    case 515: case 547: case 2601: case 2627:
      return "23000";  // integrity constraint violation
    case 241: case 245: case 8114: case 8169:
      return "22018";  // invalid character value for cast
    case 242:
      return "22007";  // invalid datetime format / out of range
    case 220: case 232: case 8115:
      return "22003";  // numeric value out of range
    case 8134:
      return "22012";  // division by zero
    case 2628: case 8152:
      return "22001";  // string data, right truncation
    case 1205:
      return "40001";  // deadlock victim
    case 3902: case 3903:
      return "25000";  // invalid transaction state
    case 18456:
      return "28000";  // invalid authorization specification
    case 4060:
      return "08004";  // server rejected the connection
    default:
      return "";
  }
}

std::string Describe(const ServerMessage& m) {
  return m.text + " (SQL Server error " + std::to_string(m.number) + ", severity " +
         std::to_string(m.severity) + ", state " + std::to_string(m.state) + ")";
}

DbError StatementError(const ErrorSink& sink, bool connection_lost, std::string_view context) {
  ErrorKind kind = connection_lost ? ErrorKind::kConnection : ErrorKind::kQuery;
  if (!sink.server_errors().empty()) {
    const ServerMessage& first = sink.server_errors().front();
    // Severity 20 and above end the session on the server.
    if (first.severity >= 20) kind = ErrorKind::kConnection;
    return DbError(kind, Describe(first), SqlStateFor(first.number), first.number);
  }
  std::string message(context);
  if (sink.library_error() != 0) {
    message += ": " + sink.library_text() + " (db-lib error " +
               std::to_string(sink.library_error()) + ")";
    return DbError(kind, message, connection_lost ? "08S01" : "", sink.library_error());
  }
  return DbError(kind, message, connection_lost ? "08S01" : "");
}

DbError ConnectError(const ErrorSink& sink, std::string_view endpoint) {
  std::string message = "could not connect to " + std::string(endpoint);
  // The server's reason first (login failed, database unknown), else db-lib's (refused,
  // unreachable, timeout, encryption not supported).
  const ServerMessage* reason = nullptr;
  for (const auto& m : sink.server_errors()) {
    if (reason == nullptr || (reason->number == 18456 && m.number != 18456)) reason = &m;
  }
  if (reason != nullptr) {
    return DbError(ErrorKind::kConnection, message + ": " + Describe(*reason),
                   SqlStateFor(reason->number), reason->number);
  }
  if (sink.library_error() != 0) {
    return DbError(ErrorKind::kConnection,
                   message + ": " + sink.library_text() + " (db-lib error " +
                       std::to_string(sink.library_error()) + ")",
                   "08001", sink.library_error());
  }
  return DbError(ErrorKind::kConnection, message, "08001");
}

}  // namespace dbpool::mssql
