// MysqlDriver::Connect: mysql_real_connect_start on the blocking pool (host name lookup),
// mysql_real_connect_cont on the event loop, one deadline for the whole attempt.
#include "drivers/mysql/mysql_driver.hpp"

#include <fcntl.h>
#include <mysql.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <utility>

#include "runtime/job_signal.hpp"
#include "drivers/mysql/mysql_connection.hpp"
#include "drivers/mysql/mysql_error.hpp"
#include "drivers/mysql/mysql_session.hpp"

namespace dbpool::mysql {

using Clock = JobSignal::Clock;
namespace {

// The handle being connected, shared with the blocking-pool step that starts it: if the
// deadline passes during that step, the step still ends in the background, and whoever
// drops the last reference closes the handle.
struct ConnectState {
  ConnectState(const asio::any_io_executor& executor, std::shared_ptr<const Settings> s)
      : settings(std::move(s)), done(executor) {}
  ~ConnectState() { CloseHard(mysql); }
  std::shared_ptr<const Settings> settings;  // the library keeps pointers into it
  MYSQL* mysql = nullptr;
  MYSQL* connected = nullptr;  // mysql_real_connect's result
  int status = 0;              // events the library waits for; 0 = done
  bool options_ok = true;
  JobSignal done;
};

void StartConnect(ConnectState& s) {
  s.mysql = mysql_init(nullptr);
  if (s.mysql == nullptr) return;
  const Settings& c = *s.settings;
  unsigned int timeout_s =
      c.connect_timeout > 0 ? static_cast<unsigned int>(std::ceil(c.connect_timeout)) : 0;
  if (!ApplyOptions(s.mysql, c, true, timeout_s)) {
    s.options_ok = false;
    return;
  }
  s.status = mysql_real_connect_start(
      &s.connected, s.mysql, c.host.c_str(), c.user.c_str(), c.password.c_str(),
      c.database.empty() ? nullptr : c.database.c_str(), c.port,
      c.unix_socket.empty() ? nullptr : c.unix_socket.c_str(), ClientFlags());
}

// Runs StartConnect on the blocking pool; false when the deadline passed first.
asio::awaitable<bool> StartOnPool(Runtime& runtime, std::shared_ptr<ConnectState> state,
                                  Clock::time_point deadline) {
  asio::post(runtime.blocking_pool(), [state] {
    StartConnect(*state);
    state->done.Signal();
  });
  co_return co_await state->done.Wait(deadline);
}

std::string FormatSeconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", seconds);
  return text;
}

// Waits for the events in `status` on the handle's current socket (it changes while the
// library tries the addresses of a host), or for the library's own timeout. Returns the
// events that occurred; 0 when `deadline` passed first.
asio::awaitable<int> WaitConnect(asio::any_io_executor executor, MYSQL* mysql, int status,
                                 Clock::time_point deadline) {
  Clock::time_point expiry = deadline;
  bool library_timeout = false;
  if (status & MYSQL_WAIT_TIMEOUT) {
    auto t = Clock::now() + std::chrono::milliseconds(mysql_get_timeout_value_ms(mysql));
    if (t < expiry) {
      expiry = t;
      library_timeout = true;
    }
  }
  asio::steady_timer timer(executor, expiry);
  if ((status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE)) == 0) {
    asio::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return library_timeout ? MYSQL_WAIT_TIMEOUT : 0;
  }
  const bool write = (status & MYSQL_WAIT_WRITE) != 0;
  // A duplicate descriptor, closed after the wait: the library's own stays untouched.
  int fd = ::fcntl(mysql_get_socket(mysql), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) co_return write ? MYSQL_WAIT_WRITE : MYSQL_WAIT_READ;  // let the library see it
  asio::posix::stream_descriptor socket(executor);
  asio::error_code ec;
  socket.assign(fd, ec);
  if (ec) {
    ::close(fd);
    co_return write ? MYSQL_WAIT_WRITE : MYSQL_WAIT_READ;
  }
  using namespace asio::experimental::awaitable_operators;
  int ready = 0;
  try {
    auto winner = co_await (socket.async_wait(write ? asio::posix::stream_descriptor::wait_write
                                                    : asio::posix::stream_descriptor::wait_read,
                                              asio::use_awaitable) ||
                            timer.async_wait(asio::use_awaitable));
    if (winner.index() == 0) {
      ready = write ? MYSQL_WAIT_WRITE : MYSQL_WAIT_READ;
    } else {
      ready = library_timeout ? MYSQL_WAIT_TIMEOUT : 0;
    }
  } catch (const std::system_error&) {
    ready = write ? MYSQL_WAIT_WRITE : MYSQL_WAIT_READ;  // the library reports the error
  }
  socket.close(ec);
  co_return ready;
}

}  // namespace

asio::awaitable<std::unique_ptr<Connection>> MysqlDriver::Connect(ConnectionConfig config) {
  auto settings = std::make_shared<const Settings>(Settings::From(config));  // kConfig first
  EnsureLibraryInit();
  auto state = std::make_shared<ConnectState>(runtime_.executor(), settings);
  const std::string endpoint = settings->Endpoint();
  const double timeout = config.connect_timeout;
  // No timeout configured: a far deadline rather than time_point::max(), which overflows
  // in timer arithmetic.
  const Clock::time_point deadline =
      Clock::now() + (timeout > 0 ? std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(timeout))
                                  : Clock::duration(std::chrono::hours(24 * 365)));
  const std::string timed_out = "could not connect to " + endpoint + ": timeout expired after " +
                                FormatSeconds(timeout) + " s (connect_timeout)";

  bool started = co_await StartOnPool(runtime_, state, deadline);
  if (!started) throw DbError(ErrorKind::kConnection, timed_out);
  if (state->mysql == nullptr) {
    throw DbError(ErrorKind::kConnection, "could not connect to " + endpoint + ": out of memory");
  }
  if (!state->options_ok) {
    throw DbError(ErrorKind::kConfig, std::string("options: the client library refused an option: ") +
                                          mysql_error(state->mysql));
  }
  while (state->status != 0) {
    int ready = co_await WaitConnect(runtime_.executor(), state->mysql, state->status, deadline);
    if (ready == 0) throw DbError(ErrorKind::kConnection, timed_out);
    state->status = mysql_real_connect_cont(&state->connected, state->mysql, ready);
  }
  if (state->connected == nullptr) {
    // "Access denied for user 'u'@'h' (using password: YES)": the password is never shown.
    throw ConnectError(endpoint, state->mysql);
  }
  MYSQL* mysql = std::exchange(state->mysql, nullptr);
  // The constructor owns `mysql` from here, also when it throws.
  co_return std::make_unique<MysqlConnection>(runtime_, mysql, settings);
}

}  // namespace dbpool::mysql
