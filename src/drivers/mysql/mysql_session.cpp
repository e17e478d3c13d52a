// Settings parsing, handle setup and the KILL QUERY side session.
#include "drivers/mysql/mysql_session.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <mutex>

#include "dbpool/error.hpp"

namespace dbpool::mysql {
namespace {

// The library's coroutine stack for non-blocking calls. Its default (60 KB) is enough for
// plain sessions; TLS handshakes and authentication plugins run on it too.
constexpr size_t kAsyncStackSize = 256 * 1024;
// The KILL side session must be quick: it only exists to stop a running statement.
constexpr unsigned int kKillTimeoutSeconds = 5;

[[noreturn]] void BadOption(const std::string& key, const std::string& reason) {
  throw DbError(ErrorKind::kConfig, "options." + key + ": " + reason);
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

Settings Settings::From(const ConnectionConfig& config) {
  Settings s;
  s.host = config.host.empty() ? "localhost" : config.host;
  s.port = config.port != 0 ? config.port : kDefaultPort;
  s.user = config.username;
  s.password = config.password;
  s.database = config.database;
  s.connect_timeout = config.connect_timeout;
  for (const auto& [key, value] : config.options) {
    if (key == "unix_socket" || key == "socket") {
      s.unix_socket = value;
    } else if (key == "zero_date") {
      std::string v = Lower(value);
      if (v == "error") s.zero_date = ZeroDate::kError;
      else if (v == "null") s.zero_date = ZeroDate::kNull;
      else BadOption(key, "expected 'error' or 'null', got '" + value + "'");
    } else if (key == "ssl_mode" || key == "sslmode") {
      std::string v = Lower(value);
      if (v != "preferred" && v != "required" && v != "verify_identity") {
        BadOption(key, "expected 'preferred', 'required' or 'verify_identity', got '" + value + "'");
      }
      s.ssl_mode = v;
    } else if (key == "ssl_ca") {
      s.ssl_ca = value;
    } else if (key == "ssl_cert") {
      s.ssl_cert = value;
    } else if (key == "ssl_key") {
      s.ssl_key = value;
    } else if (key == "init_command") {
      s.init_command = value;
    } else {
      BadOption(key, "not a MySQL connection option (known: unix_socket, zero_date, ssl_mode, "
                     "ssl_ca, ssl_cert, ssl_key, init_command)");
    }
  }
  return s;
}

std::string Settings::Endpoint() const {
  if (!unix_socket.empty()) return host + " (unix socket " + unix_socket + ")";
  return host + ":" + std::to_string(port);
}

void EnsureLibraryInit() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

unsigned long ClientFlags() { return CLIENT_MULTI_STATEMENTS | CLIENT_FOUND_ROWS; }

bool ApplyOptions(MYSQL* mysql, const Settings& s, bool nonblocking,
                  unsigned int connect_timeout_s) {
  const my_bool yes = 1;
  const unsigned int no_local_infile = 0;
  bool ok = true;
  auto set = [&](mysql_option option, const void* value) {
    ok = ok && mysql_optionsv(mysql, option, value) == 0;
  };
  if (nonblocking) {
    size_t stack = kAsyncStackSize;
    set(MYSQL_OPT_NONBLOCK, &stack);
  }
  set(MYSQL_SET_CHARSET_NAME, "utf8mb4");
  // TIMESTAMP values are stored in UTC and converted to the session time zone on the way
  // out: a UTC session gives the stored instant unchanged (Timestamp(us, "UTC")).
  set(MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
  if (!s.init_command.empty()) set(MYSQL_INIT_COMMAND, s.init_command.c_str());
  set(MYSQL_OPT_LOCAL_INFILE, &no_local_infile);
  set(MYSQL_REPORT_DATA_TRUNCATION, &yes);
  if (connect_timeout_s > 0) set(MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout_s);
  ok = ok && mysql_optionsv(mysql, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", "db-pool") == 0;
  if (s.ssl_mode == "required" || s.ssl_mode == "verify_identity") set(MYSQL_OPT_SSL_ENFORCE, &yes);
  if (s.ssl_mode == "verify_identity") set(MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes);
  if (!s.ssl_ca.empty()) set(MYSQL_OPT_SSL_CA, s.ssl_ca.c_str());
  if (!s.ssl_cert.empty()) set(MYSQL_OPT_SSL_CERT, s.ssl_cert.c_str());
  if (!s.ssl_key.empty()) set(MYSQL_OPT_SSL_KEY, s.ssl_key.c_str());
  return ok;
}

std::string KillQuery(const Settings& s, unsigned long thread_id) {
  EnsureLibraryInit();
  MYSQL* mysql = mysql_init(nullptr);
  if (mysql == nullptr) return "out of memory";
  unsigned int timeout = kKillTimeoutSeconds;
  if (s.connect_timeout > 0) {
    timeout = std::clamp(static_cast<unsigned int>(std::ceil(s.connect_timeout)), 1u, timeout);
  }
  const unsigned int io_timeout = kKillTimeoutSeconds;
  std::string error;
  if (!ApplyOptions(mysql, s, false, timeout) ||
      mysql_optionsv(mysql, MYSQL_OPT_READ_TIMEOUT, &io_timeout) != 0 ||
      mysql_optionsv(mysql, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout) != 0) {
    error = mysql_error(mysql);
  } else if (mysql_real_connect(mysql, s.host.c_str(), s.user.c_str(), s.password.c_str(),
                                nullptr, s.port,
                                s.unix_socket.empty() ? nullptr : s.unix_socket.c_str(),
                                0) == nullptr) {
    error = mysql_error(mysql);
  } else {
    const std::string sql = "KILL QUERY " + std::to_string(thread_id);
    // 1094 (unknown thread): the session ended meanwhile, nothing left to stop.
    if (mysql_real_query(mysql, sql.data(), sql.size()) != 0 && mysql_errno(mysql) != 1094) {
      error = mysql_error(mysql);
    }
  }
  mysql_close(mysql);
  return error;
}

void CloseHard(MYSQL* mysql) {
  if (mysql == nullptr) return;
  int fd = mysql_get_socket(mysql);
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  mysql_close(mysql);
}

}  // namespace dbpool::mysql
