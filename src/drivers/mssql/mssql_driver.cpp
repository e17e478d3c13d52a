// MssqlDriver::Connect: dblogin + dbopen on the blocking pool, awaited with one deadline.
#include "drivers/mssql/mssql_driver.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/experimental/concurrent_channel.hpp>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>

#include "drivers/mssql/mssql_error.hpp"

namespace dbpool::mssql {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint16_t kDefaultPort = 1433;

DbError ConfigError(std::string message) { return DbError(ErrorKind::kConfig, std::move(message)); }

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// A dbopen in progress, shared with the blocking-pool job: when the deadline passes first the
// job still ends in the background, and whoever drops the last reference closes what it
// opened.
struct ConnectState {
  ConnectState(const asio::any_io_executor& executor) : done(executor, 1) {}
  ~ConnectState() {
    if (dbproc != nullptr) dbclose(dbproc);
  }
  ConnectionConfig config;
  MssqlOptions options;
  std::string server;  // what dbopen is given: "host:port" or a private server entry
  DBPROCESS* dbproc = nullptr;
  std::optional<int> server_encryption;  ///< PRELOGIN ENCRYPTION byte, probed after a failure
  ErrorSink sink;
  std::exception_ptr error;
  // Capacity 1: a signal sent before the wait starts is kept.
  asio::experimental::concurrent_channel<void(asio::error_code, int)> done;
};

// Waits until `fd` is ready for `events`, at most `ms`; false on timeout or error.
bool WaitFd(int fd, short events, int ms) {
  pollfd p{fd, events, 0};
  int n;
  do {
    n = ::poll(&p, 1, ms);
  } while (n < 0 && errno == EINTR);
  return n > 0 && (p.revents & events) != 0;
}

// Asks the server in clear text whether it supports encryption: a PRELOGIN ([MS-TDS]
// 2.2.6.5) with VERSION and ENCRYPTION, answered with the server's ENCRYPTION byte (0 off,
// 1 on, 2 not supported, 3 required). Only run after a failed connect with encrypt=require,
// to say why; nullopt when the server cannot be asked.
std::optional<int> ProbeEncryption(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) {
    return std::nullopt;
  }
  std::optional<int> result;
  for (addrinfo* a = found; a != nullptr && !result; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    // Packet header, then options VERSION (offset 11, 6 bytes) and ENCRYPTION (offset 17, 1).
    const unsigned char request[] = {0x12, 0x01, 0x00, 26, 0, 0, 1, 0,  // PRELOGIN, EOM, 26 bytes
                                     0x00, 0, 11, 0, 6, 0x01, 0, 17, 0, 1, 0xFF,
                                     0, 0, 0, 0, 0, 0, 0x00};
    if ((::connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) &&
        WaitFd(fd, POLLOUT, 2000) &&
        ::send(fd, request, sizeof(request), MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof(request))) {
      unsigned char reply[512];
      size_t got = 0;
      while (got < sizeof(reply) && WaitFd(fd, POLLIN, 2000)) {
        ssize_t n = ::recv(fd, reply + got, sizeof(reply) - got, 0);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
        if (got >= 8 && got >= static_cast<size_t>(reply[2] << 8 | reply[3])) break;
      }
      const unsigned char* body = reply + 8;
      const size_t size = got > 8 ? got - 8 : 0;
      for (size_t i = 0; i + 5 <= size && body[i] != 0xFF; i += 5) {
        const size_t offset = static_cast<size_t>(body[i + 1] << 8 | body[i + 2]);
        if (body[i] == 0x01 && offset < size) result = body[offset];
      }
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return result;
}

void Open(ConnectState& s) {
  InitDbLib();
  ThreadSinkScope scope(&s.sink);
  LOGINREC* login = dblogin();
  if (login == nullptr) throw DbError(ErrorKind::kConnection, "dblogin failed (out of memory)");
  struct FreeLogin {
    LOGINREC* login;
    ~FreeLogin() { dbloginfree(login); }
  } free_login{login};
  DBSETLUSER(login, s.config.username.c_str());
  DBSETLPWD(login, s.config.password.c_str());
  DBSETLAPP(login, s.options.application_name.c_str());
  DBSETLCHARSET(login, "UTF-8");  // db-lib converts every text value to UTF-8
  BCP_SETL(login, TRUE);          // bulk_insert (bcp) needs it set before the login
  if (!s.config.database.empty()) DBSETLDBNAME(login, s.config.database.c_str());
  DBSETLVERSION(login, static_cast<BYTE>(s.options.tds_version));
  // Process-wide in db-lib: pools with different connect_timeouts may see each other's, so
  // the awaiting coroutine enforces its own deadline too.
  dbsetlogintime(std::max(1, static_cast<int>(std::ceil(s.config.connect_timeout))));
  s.dbproc = dbopen(login, s.server.c_str());
  if (s.dbproc == nullptr && s.sink.server_errors().empty() &&
      (s.options.encrypt == "require" || s.options.encrypt == "strict")) {
    s.server_encryption = ProbeEncryption(s.config.host.empty() ? "localhost" : s.config.host,
                                          s.config.port != 0 ? s.config.port : kDefaultPort);
  }
}

// The connect error, saying what encrypt=require/strict has to do with it.
DbError OpenError(const ConnectState& s, const std::string& endpoint) {
  DbError error = ConnectError(s.sink, endpoint);
  std::string message = error.message();
  // db-lib names the private server entry (dbpool-mssql-N) that carries the encrypt setting.
  if (s.server != endpoint) {
    for (size_t at; (at = message.find(" (" + s.server + ")")) != std::string::npos;) {
      message.erase(at, s.server.size() + 3);
    }
  }
  if (s.options.encrypt == "require" || s.options.encrypt == "strict") {
    const std::string option = "encrypt=" + s.options.encrypt;
    if (s.server_encryption == 2) {
      message += "; " + option +
                 ": the server does not support encryption (its PRELOGIN answer is "
                 "ENCRYPT_NOT_SUP), so no encrypted connection is possible; use encrypt=request "
                 "(TLS when offered) or encrypt=off to connect in clear text";
    } else if (s.server_encryption.has_value()) {
      message += "; " + option +
                 ": the server offers encryption, so the TLS handshake failed (certificate not "
                 "trusted, name mismatch or TLS version)";
    }
  }
  return DbError(error.kind(), message, error.sqlstate(), error.vendor_code());
}

class ServerEntries {
 public:
  // Created before the process's first dbopen (see Connect): db-lib's interfaces-file
  // setting is a plain global that a concurrent dbopen would read while it changes.
  static ServerEntries& Get() {
    static ServerEntries entries;
    return entries;
  }
  ServerEntries() { Create(); }
  ~ServerEntries() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  std::string Entry(const std::string& host, int port, const std::string& encryption,
                    int tds_version) {
    std::lock_guard lock(mutex_);
    auto key = std::make_tuple(host, port, encryption, tds_version);
    if (auto it = names_.find(key); it != names_.end()) return it->second;
    if (path_.empty()) {
      throw DbError(ErrorKind::kConnection,
                    "encrypt: could not create the FreeTDS configuration file in TMPDIR");
    }
    std::string name = "dbpool-mssql-" + std::to_string(names_.size() + 1);
    const char* version = tds_version == DBVERSION_71   ? "7.1"
                          : tds_version == DBVERSION_72 ? "7.2"
                          : tds_version == DBVERSION_73 ? "7.3"
                                                        : "7.4";
    std::string section = "[" + name + "]\n\thost = " + host + "\n\tport = " +
                          std::to_string(port) + "\n\ttds version = " + version +
                          "\n\tencryption = " + encryption + "\n";
    // One append per entry: db-lib may be reading the file for another connection.
    int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 || ::write(fd, section.data(), section.size()) !=
                      static_cast<ssize_t>(section.size())) {
      if (fd >= 0) ::close(fd);
      throw DbError(ErrorKind::kConnection, "could not write the FreeTDS server entry to " + path_);
    }
    ::close(fd);
    names_.emplace(key, name);
    return name;
  }

 private:
  void Create() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                          "/dbpool-freetds-XXXXXX.conf";
    int fd = ::mkstemps(pattern.data(), 5);
    if (fd < 0) return;  // only connections with an encrypt option need it (see Entry)
    ::close(fd);
    path_ = pattern;
    InitDbLib();
    dbsetifile(path_.data());  // looked up before freetds.conf; other names fall through
  }

  std::mutex mutex_;
  std::string path_;
  std::map<std::tuple<std::string, int, std::string, int>, std::string> names_;
};

}  // namespace

std::string ServerEntryWithEncryption(const std::string& host, int port,
                                      const std::string& encryption, int tds_version) {
  return ServerEntries::Get().Entry(host, port, encryption, tds_version);
}

MssqlOptions MssqlDriver::ParseOptions(const ConnectionConfig& config) {
  MssqlOptions options;
  for (const auto& [key, value] : config.options) {
    if (key == "encrypt" || key == "encryption") {
      std::string v = Lower(value);
      if (v == "true" || v == "yes" || v == "1" || v == "mandatory" || v == "require") {
        options.encrypt = "require";
      } else if (v == "false" || v == "no" || v == "0" || v == "off") {
        options.encrypt = "off";
      } else if (v == "optional" || v == "request") {
        options.encrypt = "request";
      } else if (v == "strict") {
        options.encrypt = "strict";
      } else {
        throw ConfigError(key + ": expected off, request, require or strict (or true/false), got '" +
                          value + "'");
      }
    } else if (key == "statement_timeout") {
      char* end = nullptr;
      double seconds = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !std::isfinite(seconds) || seconds < 0) {
        throw ConfigError("statement_timeout: expected a non-negative number of seconds, got '" +
                          value + "'");
      }
      options.statement_timeout = seconds;
    } else if (key == "application_name" || key == "app_name") {
      options.application_name = value;
    } else if (key == "tds_version") {
      if (value == "7.4") options.tds_version = DBVERSION_74;
      else if (value == "7.3") options.tds_version = DBVERSION_73;
      else if (value == "7.2") options.tds_version = DBVERSION_72;
      else if (value == "7.1") options.tds_version = DBVERSION_71;
      else throw ConfigError("tds_version: expected 7.1, 7.2, 7.3 or 7.4, got '" + value + "'");
    } else {
      throw ConfigError("unknown SQL Server option '" + key +
                        "' (supported: encrypt, statement_timeout, application_name, tds_version)");
    }
  }
  return options;
}

std::string MssqlDriver::Endpoint(const ConnectionConfig& config) {
  std::string host = config.host.empty() ? "localhost" : config.host;
  return host + ":" + std::to_string(config.port != 0 ? config.port : kDefaultPort);
}

asio::awaitable<std::unique_ptr<Connection>> MssqlDriver::Connect(ConnectionConfig config) {
  auto state = std::make_shared<ConnectState>(runtime_.executor());
  state->options = ParseOptions(config);
  ServerEntries::Get();  // before any dbopen of the process
  const std::string endpoint = Endpoint(config);
  state->server = endpoint;
  if (!state->options.encrypt.empty()) {
    state->server = ServerEntryWithEncryption(config.host.empty() ? "localhost" : config.host,
                                              config.port != 0 ? config.port : kDefaultPort,
                                              state->options.encrypt, state->options.tds_version);
  }
  state->config = std::move(config);
  const double timeout = state->config.connect_timeout;
  const Clock::time_point deadline =
      Clock::now() + (timeout > 0 ? std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(timeout))
                                  : Clock::duration(std::chrono::hours(24 * 365)));
  asio::post(runtime_.blocking_pool(), [state] {
    try {
      Open(*state);
    } catch (...) {
      state->error = std::current_exception();
    }
    state->done.try_send(asio::error_code{}, 0);
  });
  bool finished;
  {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(runtime_.executor(), deadline);
    auto winner = co_await (state->done.async_receive(asio::use_awaitable) ||
                            timer.async_wait(asio::use_awaitable));
    finished = winner.index() == 0;
  }
  if (!finished) {
    char text[32];
    std::snprintf(text, sizeof(text), "%g", timeout);
    throw DbError(ErrorKind::kConnection, "could not connect to " + endpoint +
                                              ": timeout expired after " + text +
                                              " s (connect_timeout)",
                  "HYT00");
  }
  if (state->error) std::rethrow_exception(state->error);
  if (state->dbproc == nullptr) throw OpenError(*state, endpoint);
  auto connection = std::make_unique<MssqlConnection>(
      runtime_, std::exchange(state->dbproc, nullptr), endpoint, state->options);
  MssqlConnection* raw = connection.get();
  co_await runtime_.RunBlocking([raw] { raw->Initialise(); });
  co_return connection;
}

}  // namespace dbpool::mssql
