// FreeTDS db-lib messages -> DbError: our own error and message handlers (db-lib never
// exits the process), collected per connection, and the SQL Server error numbers' kinds.
#pragma once

#include <sybdb.h>

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "dbpool/error.hpp"

namespace dbpool::mssql {

/// One message from the server (an ERROR token; INFO tokens of severity <= 10 are dropped).
struct ServerMessage {
  int number = 0;
  int state = 0;
  int severity = 0;
  std::string text;
  std::string procedure;
  int line = 0;
};

/// What db-lib reported while one operation ran. Filled by the handlers on the thread that
/// makes the db-lib call; read by the same thread afterwards.
class ErrorSink {
 public:
  void Clear() {
    server_errors_.clear();
    library_error_ = 0;
    library_text_.clear();
  }

  /// Set by the connection: the running operation's cancel flag, and where to say that
  /// db-lib was told to send the attention itself (see InterruptWhenCancelled).
  const std::atomic<bool>* cancelled = nullptr;
  std::atomic<bool>* attention_sent = nullptr;
  void OnServerMessage(ServerMessage message) { server_errors_.push_back(std::move(message)); }
  void OnLibraryError(int number, std::string text);

  bool empty() const { return server_errors_.empty() && library_error_ == 0; }
  const std::vector<ServerMessage>& server_errors() const { return server_errors_; }
  /// The first db-lib (client side) error, 0 when none; e.g. 20017 unexpected EOF.
  int library_error() const { return library_error_; }
  const std::string& library_text() const { return library_text_; }

 private:
  std::vector<ServerMessage> server_errors_;
  int library_error_ = 0;
  std::string library_text_;
};

/// Initialises db-lib once per process (dbinit) and installs the handlers. Thread safe.
void InitDbLib();

/// Routes messages about `dbproc` to `sink` (dbsetuserdata), and installs the interrupt
/// check below (nullptr removes both).
///
/// A db-lib read blocked on a silent server (one that paused mid-result) cannot be woken
/// from another thread without racing the reader. db-lib wakes up once a second while it
/// waits and asks its interrupt check (dbsetinterrupt); when the sink's cancel flag is set,
/// the check answers INT_CANCEL, db-lib reports a timeout (SYBETIME) and the error handler
/// answers INT_TIMEOUT: db-lib then sends the attention itself, on the reading thread, and
/// goes on reading until the server's DONE_ATTN. The session stays usable.
void AttachSink(DBPROCESS* dbproc, ErrorSink* sink);

/// While alive, messages without a DBPROCESS that has a sink (those of dbopen) go to `sink`
/// on this thread.
class ThreadSinkScope {
 public:
  explicit ThreadSinkScope(ErrorSink* sink);
  ~ThreadSinkScope();
  ThreadSinkScope(const ThreadSinkScope&) = delete;
  ThreadSinkScope& operator=(const ThreadSinkScope&) = delete;

 private:
  ErrorSink* previous_;
};

/// The ODBC SQLSTATE SQL Server's ODBC driver gives for error `number`, "" when unmapped.
std::string SqlStateFor(int number);

/// "text (SQL Server error N, severity S, state T)".
std::string Describe(const ServerMessage& message);

/// The error for a failed statement: the first server error (kQuery, or kConnection when
/// `connection_lost`), else the db-lib error (kConnection when `connection_lost`), else
/// `context` alone.
DbError StatementError(const ErrorSink& sink, bool connection_lost, std::string_view context);

/// The error for a failed dbopen to `endpoint`: kConnection with the server's number
/// (18456 login failed, 4060 cannot open database) or db-lib's (20009 unreachable).
DbError ConnectError(const ErrorSink& sink, std::string_view endpoint);

}  // namespace dbpool::mssql
