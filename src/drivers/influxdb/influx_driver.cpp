// InfluxDriver: option parsing and the connect check.
#include "drivers/influxdb/influx_driver.hpp"

#include <cerrno>
#include <cstdlib>

#include "drivers/influxdb/influx_connection.hpp"

namespace dbpool::influxdb {
namespace {

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

}  // namespace

InfluxOptions InfluxOptions::From(const ConnectionConfig& config) {
  InfluxOptions o;
  o.host = config.host;
  if (o.host.empty()) Fail("host", "missing");
  o.port = config.port != 0 ? config.port : 8086;
  o.database = config.database;
  o.tls = config.db_type == "influxdbs";
  o.http.username = config.username;
  o.http.password = config.password;
  o.http.connect_timeout = config.connect_timeout;
  for (const auto& [key, value] : config.options) {
    if (key == "token") {
      o.http.token = value;
    } else if (key == "ssl") {
      o.tls = o.tls || ParseBool(key, value);
    } else if (key == "ssl_verify") {
      o.http.verify_peer = ParseBool(key, value);
    } else if (key == "ssl_ca_certs") {
      o.http.ca_file = value;
    } else if (key == "retention_policy") {
      o.retention_policy = value;
    } else if (key == "chunk_size") {
      char* end = nullptr;
      errno = 0;
      long long n = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno == ERANGE || n < 1 || n > 10000000) {
        Fail("options.chunk_size", "expected an integer between 1 and 10000000, got '" + value + "'");
      }
      o.chunk_size = n;
    } else if (key == "request_timeout") {
      char* end = nullptr;
      double seconds = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(seconds >= 0)) {
        Fail("options.request_timeout", "expected a number of seconds, got '" + value + "'");
      }
      o.http.request_timeout = seconds;
    } else {
      Fail("options." + key,
           "not an InfluxDB option (known: token, ssl, ssl_verify, ssl_ca_certs, "
           "retention_policy, chunk_size, request_timeout)");
    }
  }
  if (!o.http.token.empty() && (!o.http.username.empty() || !o.http.password.empty())) {
    Fail("options.token", "give either a token or a username/password, not both");
  }
  return o;
}

std::string InfluxOptions::Endpoint() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string InfluxOptions::BaseUrl() const {
  return std::string(tls ? "https://" : "http://") + Endpoint();
}

asio::awaitable<std::unique_ptr<Connection>> InfluxDriver::Connect(ConnectionConfig config) {
  auto conn = std::make_unique<InfluxConnection>(runtime_, InfluxOptions::From(config));
  co_await conn->Open();
  co_return std::unique_ptr<Connection>(std::move(conn));
}

}  // namespace dbpool::influxdb
