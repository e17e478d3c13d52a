// RedisDriver: option parsing and the connect sequence under one deadline.
#include "drivers/redis/redis_driver.hpp"

#include <asio/experimental/concurrent_channel.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <limits>
#include <string>
#include <vector>

#include "drivers/redis/redis_connection.hpp"

namespace dbpool::redis {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Fail(const std::string& field, const std::string& reason) {
  throw DbError(ErrorKind::kConfig, field + ": " + reason);
}

bool ParseBool(const std::string& key, const std::string& value) {
  std::string v;
  for (char c : value) v.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  Fail("options." + key, "expected true or false, got '" + value + "'");
}

std::string FormatSeconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", seconds);
  return text;
}

// Shared by Connect, the deadline timer's handler and the name lookup job, any of which may
// finish last. `done`, `timed_out` and `conn` are only touched on the strand.
struct ConnectState {
  explicit ConnectState(const asio::any_io_executor& executor)
      : strand(asio::make_strand(executor)), timer(strand), resolved(executor, 1) {}
  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;
  // Capacity 1, so a lookup that finishes before anyone waits is not lost. The int is
  // unused: Asio 1.22 channels cannot carry a bare void(error_code).
  asio::experimental::concurrent_channel<void(asio::error_code, int)> resolved;
  bool done = false;
  bool timed_out = false;
  RedisConnection* conn = nullptr;
  std::vector<asio::ip::tcp::endpoint> endpoints;  // written by the lookup before it signals
  std::exception_ptr error;
};

// The whole connect runs on the strand, so that the deadline handler (also on the strand)
// can close the socket without racing the operations on it.
asio::awaitable<void> ConnectOnStrand(const std::shared_ptr<ConnectState>* shared,
                                      Runtime* runtime, const RedisOptions* options) {
  ConnectState* state = shared->get();
  try {
    asio::error_code ec;
    asio::ip::address address = asio::ip::make_address(options->host, ec);
    if (!ec) {
      state->endpoints.emplace_back(address, options->port);
    } else {
      // getaddrinfo blocks: run it on the blocking pool and wait for it here, so that the
      // deadline can give up on a lookup that hangs.
      // The job keeps the state alive: it may finish after Connect gave up at the deadline.
      asio::post(runtime->blocking_pool(), [state = *shared, runtime, host = options->host,
                                            port = std::to_string(options->port)] {
        asio::error_code lookup_error;
        asio::ip::tcp::resolver resolver(runtime->blocking_pool());
        auto results = resolver.resolve(host, port, lookup_error);
        if (!lookup_error) {
          for (const auto& entry : results) state->endpoints.push_back(entry.endpoint());
        }
        state->resolved.try_send(lookup_error, 0);
      });
      co_await state->resolved.async_receive(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        throw DbError(ErrorKind::kConnection, "could not connect to " + options->Endpoint() +
                                                  ": could not resolve the host name: " +
                                                  ec.message());
      }
    }
    co_await state->conn->Open(&state->endpoints);
  } catch (...) {
    state->error = std::current_exception();
  }
  state->done = true;
}

}  // namespace

RedisOptions RedisOptions::From(const ConnectionConfig& config) {
  RedisOptions o;
  o.host = config.host;
  if (o.host.empty()) Fail("host", "missing");
  o.port = config.port != 0 ? config.port : 6379;
  if (!config.database.empty()) {
    const std::string& db = config.database;
    bool digits = db.size() <= 9;
    for (char c : db) digits = digits && c >= '0' && c <= '9';
    if (!digits) {
      Fail("database", "a Redis database is a number (the URL path: redis://host:6379/0), got '" +
                           db + "'");
    }
    o.database = std::stoll(db);
  }
  o.username = config.username;
  o.password = config.password;
  o.connect_timeout = config.connect_timeout;
  o.tls.enabled = config.db_type == "rediss";
  for (const auto& [key, value] : config.options) {
    if (key == "decode_responses") {
      o.decode_responses = ParseBool(key, value);
    } else if (key == "protocol") {
      if (value == "2" || value == "resp2") {
        o.protocol = 2;
      } else if (value == "3" || value == "resp3") {
        o.protocol = 3;
      } else {
        Fail("options.protocol", "expected 2 or 3, got '" + value + "'");
      }
    } else if (key == "client_name") {
      for (char c : value) {
        if (c <= ' ' || c == 127) Fail("options.client_name", "must not contain spaces");
      }
      o.client_name = value;
    } else if (key == "multiplex") {
      ParseBool(key, value);  // read per call by CanMultiplex
    } else if (key == "ssl") {
      o.tls.enabled = o.tls.enabled || ParseBool(key, value);
    } else if (key == "ssl_ca_certs") {
      o.tls.ca_file = value;
    } else if (key == "ssl_certfile") {
      o.tls.cert_file = value;
    } else if (key == "ssl_keyfile") {
      o.tls.key_file = value;
    } else if (key == "ssl_cert_reqs") {
      if (value == "required") {
        o.tls.verify_peer = true;
      } else if (value == "none") {
        o.tls.verify_peer = false;
      } else {
        Fail("options.ssl_cert_reqs", "expected 'required' or 'none', got '" + value + "'");
      }
    } else if (key == "ssl_check_hostname") {
      o.tls.check_hostname = ParseBool(key, value);
    } else {
      Fail("options." + key,
           "not a Redis option (known: decode_responses, protocol, client_name, multiplex, ssl, "
           "ssl_ca_certs, ssl_certfile, ssl_keyfile, ssl_cert_reqs, ssl_check_hostname)");
    }
  }
  return o;
}

std::string RedisOptions::Endpoint() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

asio::awaitable<std::unique_ptr<Connection>> RedisDriver::Connect(ConnectionConfig config) {
  RedisOptions options = RedisOptions::From(config);
  const double timeout = options.connect_timeout;
  auto conn = std::make_unique<RedisConnection>(runtime_, options);
  auto state = std::make_shared<ConnectState>(runtime_.executor());
  state->conn = conn.get();
  state->timer.expires_after(
      timeout > 0 ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout))
                  : Clock::duration(std::chrono::hours(24 * 365)));
  std::function<void(asio::error_code)> on_deadline = [state](asio::error_code ec) {
    if (ec || state->done) return;
    state->timed_out = true;
    state->resolved.cancel();
    state->conn->Abort();
  };
  state->timer.async_wait(asio::bind_executor(state->strand, std::move(on_deadline)));

  co_await asio::co_spawn(state->strand, ConnectOnStrand(&state, &runtime_, &options),
                          asio::use_awaitable);
  std::function<void()> stop_timer = [state] { state->timer.cancel(); };
  asio::post(state->strand, std::move(stop_timer));

  if (state->error) {
    if (state->timed_out) {
      throw DbError(ErrorKind::kConnection, "could not connect to " + options.Endpoint() +
                                                ": timeout expired after " +
                                                FormatSeconds(timeout) + " s (connect_timeout)");
    }
    std::rethrow_exception(state->error);
  }
  co_return std::unique_ptr<Connection>(std::move(conn));
}

bool RedisDriver::CanMultiplex(const ConnectionConfig& config, const std::string& sql,
                               const Params& params) const {
  // RedisOptions::From validated the option when the pool opened its first connection.
  auto option = config.options.find("multiplex");
  if (option != config.options.end() && !ParseBool("multiplex", option->second)) return false;
  return IsMultiplexable(sql, params);
}

}  // namespace dbpool::redis
