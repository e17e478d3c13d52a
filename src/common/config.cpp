// PoolConfig parsing (URL, key/value map, environment), validation and redaction.
#include "dbpool/config.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

#include "dbpool/error.hpp"

namespace dbpool {
namespace {

[[noreturn]] void Fail(const std::string& field, const std::string& reason) {
  throw DbError(ErrorKind::kConfig, field + ": " + reason);
}

std::string NormaliseDbType(std::string_view type) {
  std::string t(type);
  for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "postgres" || t == "postgresql" || t == "pg" || t == "pgsql") return "postgresql";
  if (t == "sqlite" || t == "sqlite3") return "sqlite";
  if (t == "mssql" || t == "sqlserver") return "mssql";
  if (t == "mysql" || t == "mariadb") return "mysql";
  if (t == "redis" || t == "rediss") return t;  // rediss (TLS) stays distinct for the driver
  if (t == "influxdb" || t == "influx") return "influxdb";
  if (t == "influxdbs") return t;  // TLS, like rediss
  return t;  // unknown types are rejected by the driver factory, which knows the full list
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view text, const char* field) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size()) Fail(field, "truncated %-escape in URL");
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) Fail(field, "invalid %-escape in URL");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string PercentEncode(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

int64_t ParseInt(const std::string& field, const std::string& text, int64_t min, int64_t max) {
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE) {
    Fail(field, "expected an integer, got '" + text + "'");
  }
  if (v < min || v > max) {
    Fail(field, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                    ", got " + text);
  }
  return v;
}

double ParseSeconds(const std::string& field, const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v)) {
    Fail(field, "expected a number of seconds, got '" + text + "'");
  }
  if (v < 0) Fail(field, "must not be negative, got " + text);
  return v;
}

bool ParseBool(const std::string& field, const std::string& text) {
  std::string t = text;
  for (auto& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  Fail(field, "expected true or false, got '" + text + "'");
}

double ParseFraction(const std::string& field, const std::string& text) {
  double v = ParseSeconds(field, text);
  if (v > 1.0) Fail(field, "must be between 0 and 1, got " + text);
  return v;
}

PoolConfig::CheckOnBorrow ParseCheckOnBorrow(const std::string& text) {
  if (text == "off" || text == "false" || text == "never") return PoolConfig::CheckOnBorrow::kOff;
  if (text == "always" || text == "true") return PoolConfig::CheckOnBorrow::kAlways;
  if (text == "after_idle") return PoolConfig::CheckOnBorrow::kAfterIdle;
  Fail("check_on_borrow", "expected off, always or after_idle, got '" + text + "'");
}

// "init_sql" is one statement; "init_sql[N]" the N-th of several (Python passes lists so).
bool ApplyInitSql(PoolConfig& c, const std::string& key, const std::string& value) {
  if (key == "init_sql") {
    c.init_sql = {value};
    return true;
  }
  if (key.rfind("init_sql[", 0) != 0 || key.back() != ']') return false;
  auto index = static_cast<size_t>(ParseInt(key, key.substr(9, key.size() - 10), 0, 999));
  if (c.init_sql.size() <= index) c.init_sql.resize(index + 1);
  c.init_sql[index] = value;
  return true;
}

// Lifecycle, retry and breaker fields; false if `key` is none of them.
bool ApplyLifecycleField(PoolConfig& c, const std::string& key, const std::string& value) {
  auto& r = c.retry;
  auto& b = c.circuit_breaker;
  if (key == "health_check_interval") c.health_check_interval = ParseSeconds(key, value);
  else if (key == "keepalive_interval") c.keepalive_interval = ParseSeconds(key, value);
  else if (key == "check_on_borrow") c.check_on_borrow = ParseCheckOnBorrow(value);
  else if (key == "check_on_borrow_idle") c.check_on_borrow_idle = ParseSeconds(key, value);
  else if (key == "validation_timeout") c.validation_timeout = ParseSeconds(key, value);
  else if (key == "leak_detection_threshold") c.leak_detection_threshold = ParseSeconds(key, value);
  else if (key == "reset_session") c.reset_session = ParseBool(key, value);
  else if (key == "fail_fast") c.fail_fast = ParseBool(key, value);
  else if (key == "reconnect_backoff_base") c.reconnect_backoff_base = ParseSeconds(key, value);
  else if (key == "reconnect_backoff_max") c.reconnect_backoff_max = ParseSeconds(key, value);
  else if (key == "auto_scaling") c.auto_scaling = ParseBool(key, value);
  else if (key == "scale_up_threshold") c.scale_up_threshold = ParseFraction(key, value);
  else if (key == "scale_down_threshold") c.scale_down_threshold = ParseFraction(key, value);
  else if (key == "query_timeout") c.query_timeout = ParseSeconds(key, value);
  else if (key == "retry_max_attempts") r.max_attempts = static_cast<int>(ParseInt(key, value, 1, 1000));
  else if (key == "retry_base_delay") r.base_delay = ParseSeconds(key, value);
  else if (key == "retry_max_delay") r.max_delay = ParseSeconds(key, value);
  else if (key == "retry_jitter") r.jitter = ParseFraction(key, value);
  else if (key == "breaker_failure_threshold") b.failure_threshold = static_cast<int>(ParseInt(key, value, 0, 1000000));
  else if (key == "breaker_recovery_timeout") b.recovery_timeout = ParseSeconds(key, value);
  else if (key == "breaker_half_open_probes") b.half_open_probes = static_cast<int>(ParseInt(key, value, 1, 1000));
  else if (key == "breaker_probe_timeout") b.probe_timeout = ParseSeconds(key, value);
  else return ApplyInitSql(c, key, value);
  return true;
}

uint16_t ParsePort(std::string_view text) {
  return static_cast<uint16_t>(ParseInt("port", std::string(text), 1, 65535));
}

// One entry of a host list: host, host:port, [v6] or [v6]:port. `url`: %-escapes decoded.
HostPort ParseHostPort(std::string_view text, bool url) {
  std::string_view host = text;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) Fail(url ? "url" : "host", "unterminated '[' in IPv6 host");
    port = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!port.empty()) {
      if (port.front() != ':') Fail(url ? "url" : "host", "unexpected text after IPv6 host");
      port.remove_prefix(1);
    }
  } else if (size_t pc = host.rfind(':'); pc != std::string_view::npos && host.find(':') == pc) {
    port = host.substr(pc + 1);
    host = host.substr(0, pc);
  }
  HostPort out;
  out.host = url ? PercentDecode(host, "url") : std::string(host);
  if (!port.empty()) out.port = ParsePort(port);
  return out;
}

// A comma-separated host list (PostgreSQL multi-host): "h1:5432,h2:5433".
void SetHostList(ConnectionConfig& c, std::string_view text, bool url) {
  std::vector<HostPort> hosts;
  const bool is_list = text.find(',') != std::string_view::npos;
  while (true) {
    size_t comma = text.find(',');
    HostPort entry = ParseHostPort(text.substr(0, comma), url);
    if (is_list && entry.host.empty()) {
      Fail("host", "entry " + std::to_string(hosts.size() + 1) + " of the host list is empty");
    }
    hosts.push_back(std::move(entry));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  c.host = hosts.front().host;
  c.port = hosts.front().port;
  c.more_hosts.assign(hosts.begin() + 1, hosts.end());
}

void ApplyHost(ConnectionConfig& c, const std::string& value) {
  if (value.find(',') != std::string::npos) return SetHostList(c, value, false);
  c.host = value;
  c.more_hosts.clear();
}

// One port for every host, or a comma list with one port per host (libpq's rule).
void ApplyPort(ConnectionConfig& c, const std::string& value) {
  if (value.find(',') == std::string::npos) {
    c.port = ParsePort(value);
    for (auto& h : c.more_hosts) h.port = c.port;
    return;
  }
  std::vector<uint16_t> ports;
  std::string_view text = value;
  while (true) {
    size_t comma = text.find(',');
    ports.push_back(ParsePort(text.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  if (ports.size() != c.more_hosts.size() + 1) {
    Fail("port", std::to_string(ports.size()) + " ports for " +
                     std::to_string(c.more_hosts.size() + 1) +
                     " hosts (give one port for all, or one per host)");
  }
  c.port = ports[0];
  for (size_t i = 0; i < c.more_hosts.size(); ++i) c.more_hosts[i].port = ports[i + 1];
}

bool IsSecretKey(const std::string& key) {
  return key.find("password") != std::string::npos || key.find("secret") != std::string::npos ||
         key.find("token") != std::string::npos;
}

// Applies one key to the config; returns false if it is not a pool/connection field.
bool ApplyField(PoolConfig& c, const std::string& key, const std::string& value) {
  if (key == "db_type") c.connection.db_type = NormaliseDbType(value);
  else if (key == "host") ApplyHost(c.connection, value);
  else if (key == "port") ApplyPort(c.connection, value);
  else if (key == "database" || key == "dbname") c.connection.database = value;
  else if (key == "username" || key == "user") c.connection.username = value;
  else if (key == "password") c.connection.password = value;
  else if (key == "connect_timeout") c.connection.connect_timeout = ParseSeconds(key, value);
  else if (key == "min_connections") c.min_connections = static_cast<int>(ParseInt(key, value, 0, 100000));
  else if (key == "max_connections") c.max_connections = static_cast<int>(ParseInt(key, value, 0, 100000));
  else if (key == "acquire_timeout") c.acquire_timeout = ParseSeconds(key, value);
  else if (key == "idle_timeout") c.idle_timeout = ParseSeconds(key, value);
  else if (key == "max_lifetime") c.max_lifetime = ParseSeconds(key, value);
  else return ApplyLifecycleField(c, key, value);
  return true;
}

const char* const kMapKeys[] = {"url", "db_type", "host", "port", "database", "username",
                                "password", "min_connections", "max_connections",
                                "acquire_timeout", "connect_timeout", "idle_timeout",
                                "max_lifetime", "health_check_interval", "keepalive_interval",
                                "check_on_borrow", "check_on_borrow_idle", "validation_timeout",
                                "leak_detection_threshold", "init_sql", "reset_session",
                                "fail_fast", "reconnect_backoff_base", "reconnect_backoff_max",
                                "auto_scaling", "scale_up_threshold", "scale_down_threshold",
                                "query_timeout", "retry_max_attempts", "retry_base_delay",
                                "retry_max_delay", "retry_jitter", "breaker_failure_threshold",
                                "breaker_recovery_timeout", "breaker_half_open_probes",
                                "breaker_probe_timeout"};

void ParseQuery(PoolConfig& c, std::string_view query) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) Fail("url", "query parameter '" + std::string(pair) + "' has no value");
    std::string key = PercentDecode(pair.substr(0, eq), "url");
    std::string value = PercentDecode(pair.substr(eq + 1), "url");
    if (!ApplyField(c, key, value)) c.connection.options[key] = value;
  }
}

PoolConfig ParseSqliteUrl(std::string_view rest, PoolConfig c) {
  // sqlite::memory:, sqlite://:memory:, sqlite:///abs/path, sqlite://relative/path,
  // sqlite:relative.db; a query string may follow.
  std::string_view path = rest;
  size_t q = path.find('?');
  std::string_view query;
  if (q != std::string_view::npos) {
    query = path.substr(q + 1);
    path = path.substr(0, q);
  }
  if (path.substr(0, 2) == "//") path.remove_prefix(2);
  if (path.empty()) Fail("url", "sqlite URL needs a file path or :memory: (e.g. sqlite:///tmp/app.db)");
  c.connection.database = PercentDecode(path, "url");
  ParseQuery(c, query);
  return c;
}

}  // namespace

PoolConfig PoolConfig::FromUrl(std::string_view url) {
  PoolConfig c;
  size_t colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    Fail("url", "not a database URL (expected scheme://...), got a string without a scheme");
  }
  std::string scheme(url.substr(0, colon));
  c.connection.db_type = NormaliseDbType(scheme);
  std::string_view rest = url.substr(colon + 1);
  if (c.connection.db_type == "sqlite") return ParseSqliteUrl(rest, c);
  if (rest.substr(0, 2) != "//") Fail("url", "expected '" + scheme + "://' at the start");
  rest.remove_prefix(2);

  size_t q = rest.find('?');
  std::string_view query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
  rest = rest.substr(0, q);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) c.connection.database = PercentDecode(rest.substr(slash + 1), "url");

  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    size_t pc = userinfo.find(':');
    c.connection.username = PercentDecode(userinfo.substr(0, pc), "url");
    if (pc != std::string_view::npos) c.connection.password = PercentDecode(userinfo.substr(pc + 1), "url");
  }
  // host[:port], [v6]:port, or a comma list of them (PostgreSQL multi-host).
  if (!authority.empty()) SetHostList(c.connection, authority, true);
  ParseQuery(c, query);
  return c;
}

PoolConfig PoolConfig::FromMap(const std::map<std::string, std::string>& values) {
  PoolConfig c;
  if (auto it = values.find("url"); it != values.end() && !it->second.empty()) c = FromUrl(it->second);
  for (const auto& [key, value] : values) {
    if (key == "url") continue;
    if (!ApplyField(c, key, value)) c.connection.options[key] = value;
  }
  return c;
}

std::map<std::string, std::string> PoolConfig::EnvValues(std::string_view prefix) {
  std::map<std::string, std::string> values;
  for (const char* key : kMapKeys) {
    std::string name(prefix);
    for (const char* p = key; *p; ++p) name.push_back(static_cast<char>(std::toupper(*p)));
    if (const char* v = std::getenv(name.c_str())) values[key] = v;
  }
  return values;
}

PoolConfig PoolConfig::FromEnv(std::string_view prefix) {
  std::map<std::string, std::string> values = EnvValues(prefix);
  if (values.empty()) {
    Fail(std::string(prefix) + "URL", "no configuration found in the environment (set " +
                                          std::string(prefix) + "URL or " +
                                          std::string(prefix) + "DB_TYPE)");
  }
  return FromMap(values);
}

void PoolConfig::Validate() const {
  const auto& c = connection;
  if (c.db_type.empty()) Fail("db_type", "missing (give a URL or db_type)");
  if (c.db_type == "sqlite") {
    if (c.database.empty()) Fail("database", "SQLite needs a file path or ':memory:'");
  } else if (c.host.empty() && c.db_type != "postgresql") {
    Fail("host", "missing");
  }
  if (!c.more_hosts.empty() && c.db_type != "postgresql") {
    Fail("host", "a list of " + std::to_string(c.more_hosts.size() + 1) +
                     " hosts is supported by PostgreSQL only, not " + c.db_type);
  }
  if (auto it = c.options.find("target_session_attrs"); it != c.options.end()) {
    static const std::set<std::string> kAttrs = {"any", "read-write", "read-only",
                                                 "primary", "standby", "prefer-standby"};
    if (c.db_type != "postgresql") Fail("target_session_attrs", "PostgreSQL only");
    if (!kAttrs.count(it->second)) {
      Fail("target_session_attrs", "expected any, read-write, read-only, primary, standby or "
                                   "prefer-standby, got '" + it->second + "'");
    }
  }
  if (max_connections < 1) Fail("max_connections", "must be at least 1, got " + std::to_string(max_connections));
  if (min_connections < 0) Fail("min_connections", "must not be negative");
  if (min_connections > max_connections) {
    Fail("min_connections", "(" + std::to_string(min_connections) +
                                ") must not exceed max_connections (" +
                                std::to_string(max_connections) + ")");
  }
  if (!(acquire_timeout > 0)) Fail("acquire_timeout", "must be greater than 0 seconds");
  if (!(c.connect_timeout > 0)) Fail("connect_timeout", "must be greater than 0 seconds");
  if (idle_timeout < 0) Fail("idle_timeout", "must not be negative");
  if (max_lifetime < 0) Fail("max_lifetime", "must not be negative");
  if (!(validation_timeout > 0)) Fail("validation_timeout", "must be greater than 0 seconds");
  if (!(reconnect_backoff_base > 0)) Fail("reconnect_backoff_base", "must be greater than 0 seconds");
  if (reconnect_backoff_max < reconnect_backoff_base) {
    Fail("reconnect_backoff_max", "must not be below reconnect_backoff_base");
  }
  if (scale_down_threshold >= scale_up_threshold) {
    Fail("scale_down_threshold", "must be below scale_up_threshold");
  }
  for (size_t i = 0; i < init_sql.size(); ++i) {
    if (init_sql[i].empty()) Fail("init_sql[" + std::to_string(i) + "]", "missing or empty statement");
  }
  if (retry.max_delay < retry.base_delay) Fail("retry_max_delay", "must not be below retry_base_delay");
  if (circuit_breaker.failure_threshold > 0 && !(circuit_breaker.probe_timeout > 0)) {
    Fail("breaker_probe_timeout", "must be greater than 0 seconds");
  }
}

std::string ConnectionConfig::Redacted() const {
  std::string out = db_type + "://";
  // The path follows "sqlite://" as the parser reads it: sqlite:///abs/a.db, sqlite://rel/a.db.
  if (db_type == "sqlite") return out + database;
  if (!username.empty()) {
    out += PercentEncode(username);
    if (!password.empty()) out += ":***";
    out += "@";
  }
  bool first = true;
  for (const auto& h : Hosts()) {
    if (!first) out += ",";
    first = false;
    out += h.host.find(':') != std::string::npos ? "[" + h.host + "]" : PercentEncode(h.host);
    if (h.port != 0) out += ":" + std::to_string(h.port);
  }
  out += "/" + PercentEncode(database);
  char sep = '?';
  for (const auto& [key, value] : options) {
    out += sep + key + "=" + (IsSecretKey(key) ? "***" : PercentEncode(value));
    sep = '&';
  }
  return out;
}

std::vector<HostPort> ConnectionConfig::Hosts() const {
  std::vector<HostPort> hosts{{host, port}};
  hosts.insert(hosts.end(), more_hosts.begin(), more_hosts.end());
  return hosts;
}

std::string PoolConfig::Redacted() const {
  char buf[160];
  std::snprintf(buf, sizeof(buf),
                " (min_connections=%d, max_connections=%d, acquire_timeout=%g, "
                "idle_timeout=%g, max_lifetime=%g)",
                min_connections, max_connections, acquire_timeout, idle_timeout, max_lifetime);
  return connection.Redacted() + buf;
}

}  // namespace dbpool
