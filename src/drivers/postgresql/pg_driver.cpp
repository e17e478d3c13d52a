// PgDriver::Connect: PQconnectStartParams + PQconnectPoll, socket waits on the event loop,
// one deadline for the whole attempt.
#include "drivers/postgresql/pg_driver.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <string_view>
#include <vector>
#include <utility>

#include "runtime/job_signal.hpp"
#include "drivers/postgresql/pg_connection.hpp"
#include "drivers/postgresql/pg_error.hpp"

namespace dbpool::pg {

using Clock = JobSignal::Clock;
namespace {

// The PGconn being connected, shared with the blocking-pool step that works on it: if the
// deadline passes during a step, the step still ends in the background, and whoever drops
// the last reference closes the connection.
struct ConnectState {
  ConnectState(const asio::any_io_executor& executor, ConnectParams connect_params)
      : params(std::move(connect_params)), done(executor) {}
  ~ConnectState() {
    if (conn != nullptr) PQfinish(conn);
  }
  ConnectParams params;
  PGconn* conn = nullptr;
  PostgresPollingStatusType status = PGRES_POLLING_FAILED;
  JobSignal done;
};

void StartConnect(ConnectState& s) {
  std::vector<const char*> keywords;
  std::vector<const char*> values;
  for (size_t i = 0; i < s.params.keywords.size(); ++i) {
    keywords.push_back(s.params.keywords[i].c_str());
    values.push_back(s.params.values[i].c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  // expand_dbname = 0: a database name is never parsed as a connection string.
  s.conn = PQconnectStartParams(keywords.data(), values.data(), 0);
  // libpq prints notices to stderr by default; a library must not (this also covers
  // notices sent during authentication).
  if (s.conn != nullptr) PQsetNoticeProcessor(s.conn, [](void*, const char*) {}, nullptr);
  s.status = (s.conn != nullptr && PQstatus(s.conn) != CONNECTION_BAD)
                 ? PGRES_POLLING_WRITING  // what the libpq docs say to assume at first
                 : PGRES_POLLING_FAILED;
}

void PollConnect(ConnectState& s) { s.status = PQconnectPoll(s.conn); }

// Runs `step` on the blocking pool; false when the deadline passed first. (A plain function
// pointer: GCC 12 mis-destroys closure temporaries passed into co_await'ed coroutines.)
asio::awaitable<bool> StepOnPool(Runtime& runtime, std::shared_ptr<ConnectState> state,
                                 Clock::time_point deadline, void (*step)(ConnectState&)) {
  asio::post(runtime.blocking_pool(), [state, step] {
    step(*state);
    state->done.Signal();
  });
  co_return co_await state->done.Wait(deadline);
}

// Never lets the stream_descriptor close libpq's socket, whatever way the wait ends.
struct ReleaseOnExit {
  asio::posix::stream_descriptor& socket;
  ~ReleaseOnExit() {
    if (socket.is_open()) socket.release();
  }
};

const std::set<std::string>& KnownKeywords() {
  // The keywords this libpq accepts (they vary across libpq versions), read once.
  static const std::set<std::string> keywords = [] {
    std::set<std::string> names;
    if (PQconninfoOption* options = PQconndefaults()) {
      for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) names.insert(o->keyword);
      PQconninfoFree(options);
    }
    return names;
  }();
  return keywords;
}

std::string FormatSeconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", seconds);
  return text;
}

}  // namespace

ConnectParams ConnectParams::From(const ConnectionConfig& config) {
  ConnectParams params;
  auto add = [&params](std::string keyword, std::string value) {
    params.keywords.push_back(std::move(keyword));
    params.values.push_back(std::move(value));
  };
  // Defaults first: for a repeated keyword libpq keeps the last value, so options and the
  // explicit fields below override these. Text decoding assumes UTF-8.
  add("client_encoding", "UTF8");
  add("fallback_application_name", "db-pool");
  const auto& known = KnownKeywords();
  for (const auto& [keyword, value] : config.options) {
    if (SessionOptions::IsSessionOption(keyword)) continue;  // ours, not libpq's
    if (!known.empty() && known.count(keyword) == 0) {
      throw DbError(ErrorKind::kConfig, "options." + keyword +
                                            ": not a PostgreSQL (libpq) connection option");
    }
    add(keyword, value);
  }
  if (config.more_hosts.empty()) {
    if (!config.host.empty()) add("host", config.host);
    if (config.port != 0) add("port", std::to_string(config.port));
  } else {
    // libpq's multi-host form: comma lists of hosts and ports, position by position (an
    // empty port is the default); target_session_attrs (an option) chooses among them.
    std::string hosts;
    std::string ports;
    for (const auto& h : config.Hosts()) {
      if (!hosts.empty()) {
        hosts += ",";
        ports += ",";
      }
      hosts += h.host;
      if (h.port != 0) ports += std::to_string(h.port);
    }
    add("host", hosts);
    add("port", ports);
  }
  if (!config.database.empty()) add("dbname", config.database);
  if (!config.username.empty()) add("user", config.username);
  if (!config.password.empty()) add("password", config.password);
  if (config.connect_timeout > 0) {
    // libpq takes whole seconds (and only enforces them in blocking connects); our own
    // timer enforces the exact value.
    add("connect_timeout",
        std::to_string(std::max(1L, std::lround(std::ceil(config.connect_timeout)))));
  }
  return params;
}

bool SessionOptions::IsSessionOption(const std::string& key) {
  return key == "statement_cache_size" || key == "bulk_protocol";
}

SessionOptions SessionOptions::From(const ConnectionConfig& config) {
  SessionOptions options;
  auto it = config.options.find("statement_cache_size");
  if (it != config.options.end()) {
    const std::string& text = it->second;
    size_t value = 0;
    bool valid = !text.empty() && text.size() <= 6;
    for (char c : text) {
      if (c < '0' || c > '9') valid = false;
      if (valid) value = value * 10 + static_cast<size_t>(c - '0');
    }
    if (!valid || value > kMaxStatementCacheSize) {
      throw DbError(ErrorKind::kConfig,
                    "options.statement_cache_size: expected a whole number from 0 (no named "
                    "prepared statements, for PgBouncer transaction pooling) to " +
                        std::to_string(kMaxStatementCacheSize) + ", got '" + text + "'");
    }
    options.statement_cache_size = value;
  }
  it = config.options.find("bulk_protocol");
  if (it != config.options.end()) {
    if (it->second == "copy") {
      options.bulk_protocol = BulkProtocol::kCopy;
    } else if (it->second == "rows") {
      options.bulk_protocol = BulkProtocol::kRows;
    } else {
      throw DbError(ErrorKind::kConfig,
                    "options.bulk_protocol: expected 'copy' (binary COPY, the default) or "
                    "'rows' (single-row mode), got '" + it->second + "'");
    }
  }
  return options;
}

std::string Endpoint(const ConnectionConfig& config) {
  if (!config.more_hosts.empty()) {
    std::string list;
    for (const auto& h : config.Hosts()) {
      list += (list.empty() ? "" : ",") + h.host + ":" + std::to_string(h.port != 0 ? h.port : 5432);
    }
    return list;
  }
  std::string host = config.host;
  if (host.empty()) {
    auto it = config.options.find("host");
    host = it != config.options.end() ? it->second : "localhost";
  }
  std::string port = config.port != 0 ? std::to_string(config.port) : "";
  if (port.empty()) {
    auto it = config.options.find("port");
    port = it != config.options.end() ? it->second : "5432";
  }
  return host + ":" + port;
}

void PgDriver::set_warning_source(std::string name) {
  pooler_->warning_source = name;
  Driver::set_warning_source(std::move(name));
}

asio::awaitable<std::unique_ptr<Connection>> PgDriver::Connect(ConnectionConfig config) {
  SessionOptions options = SessionOptions::From(config);  // kConfig before connecting
  options.pooler = pooler_;
  auto state = std::make_shared<ConnectState>(runtime_.executor(), ConnectParams::From(config));
  const std::string endpoint = Endpoint(config);
  const double timeout = config.connect_timeout;
  // No timeout configured: a far deadline rather than time_point::max(), which overflows
  // in timer arithmetic.
  const Clock::time_point deadline =
      Clock::now() + (timeout > 0 ? std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(timeout))
                                  : Clock::duration(std::chrono::hours(24 * 365)));
  auto timed_out = [&] {
    return DbError(ErrorKind::kConnection, "could not connect to " + endpoint +
                                               ": timeout expired after " +
                                               FormatSeconds(timeout) + " s (connect_timeout)");
  };

  // PQconnectStartParams resolves the host name synchronously: off the event loop.
  bool started = co_await StepOnPool(runtime_, state, deadline, &StartConnect);
  if (!started) throw timed_out();
  if (state->conn == nullptr) {
    throw DbError(ErrorKind::kConnection, "could not connect to " + endpoint + ": out of memory");
  }
  if (state->status == PGRES_POLLING_FAILED) {
    // Before any network I/O, a failure is a bad parameter value ("invalid sslmode value")
    // unless it is a host name lookup.
    std::string message = TidyMessage(PQerrorMessage(state->conn));
    if (message.rfind("invalid ", 0) == 0) {
      throw DbError(ErrorKind::kConfig, "options: " + message);
    }
    throw ConnectError(endpoint, message);
  }

  while (state->status != PGRES_POLLING_OK) {
    if (state->status == PGRES_POLLING_FAILED) {
      throw ConnectError(endpoint, PQerrorMessage(state->conn));
    }
    // The socket can change between polls (next address, next host, SSL retry), so each
    // wait watches the current one, and hands it back before libpq runs again.
    bool ready = false;
    {
      asio::posix::stream_descriptor socket(runtime_.executor());
      ReleaseOnExit release{socket};
      asio::error_code ec;
      socket.assign(PQsocket(state->conn), ec);
      if (ec) throw ConnectError(endpoint, "invalid socket: " + ec.message());
      using namespace asio::experimental::awaitable_operators;
      asio::steady_timer timer(runtime_.executor(), deadline);
      auto wait = state->status == PGRES_POLLING_READING
                      ? asio::posix::stream_descriptor::wait_read
                      : asio::posix::stream_descriptor::wait_write;
      auto winner = co_await (socket.async_wait(wait, asio::use_awaitable) ||
                              timer.async_wait(asio::use_awaitable));
      ready = winner.index() == 0;
    }
    if (!ready) throw timed_out();
    bool polled = co_await StepOnPool(runtime_, state, deadline, &PollConnect);
    if (!polled) throw timed_out();
  }

  PGconn* conn = std::exchange(state->conn, nullptr);
  // Every binary timestamp decoder assumes int64 microseconds (the only choice since 10).
  const char* integer_datetimes = PQparameterStatus(conn, "integer_datetimes");
  if (PQsetnonblocking(conn, 1) != 0 ||
      (integer_datetimes != nullptr && std::string_view(integer_datetimes) != "on")) {
    std::string reason = TidyMessage(PQerrorMessage(conn));
    PQfinish(conn);
    throw DbError(ErrorKind::kConnection, "could not set up the connection to " + endpoint +
                                              (reason.empty() ? "" : ": " + reason));
  }
  // The constructor owns `conn` from here, also when it throws.
  co_return std::make_unique<PgConnection>(runtime_, conn, endpoint, options);
}

}  // namespace dbpool::pg
