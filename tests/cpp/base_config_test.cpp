// PoolConfig parsing, validation and redaction.
#include <gtest/gtest.h>

#include <cstdlib>

#include "dbpool/config.hpp"
#include "dbpool/error.hpp"

namespace dbpool {
namespace {

std::string ConfigErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return {};
}

TEST(ConfigTest, PostgresUrlWithEverything) {
  auto c = PoolConfig::FromUrl(
      "postgres://app%40corp:p%3Ass@db.example.com:6543/my%20db?sslmode=require&max_connections=7"
      "&acquire_timeout=2.5");
  EXPECT_EQ(c.connection.db_type, "postgresql");
  EXPECT_EQ(c.connection.username, "app@corp");
  EXPECT_EQ(c.connection.password, "p:ss");
  EXPECT_EQ(c.connection.host, "db.example.com");
  EXPECT_EQ(c.connection.port, 6543);
  EXPECT_EQ(c.connection.database, "my db");
  EXPECT_EQ(c.connection.options.at("sslmode"), "require");
  EXPECT_EQ(c.max_connections, 7);
  EXPECT_DOUBLE_EQ(c.acquire_timeout, 2.5);
  c.Validate();
}

TEST(ConfigTest, InfluxUrlsAndTokenRedaction) {
  auto c = PoolConfig::FromUrl("influxdb://u:pw@127.0.0.1:8086/metrics?token=tok&chunk_size=5");
  EXPECT_EQ(c.connection.db_type, "influxdb");
  EXPECT_EQ(c.connection.database, "metrics");
  EXPECT_EQ(c.connection.options.at("token"), "tok");
  std::string redacted = c.connection.Redacted();
  EXPECT_EQ(redacted.find("pw"), std::string::npos) << redacted;
  EXPECT_EQ(redacted.find("tok&"), std::string::npos) << redacted;
  EXPECT_NE(redacted.find("token=***"), std::string::npos) << redacted;
  EXPECT_EQ(PoolConfig::FromUrl("influx://h/db").connection.db_type, "influxdb");
  EXPECT_EQ(PoolConfig::FromUrl("influxdbs://h:8086/").connection.db_type, "influxdbs");
  EXPECT_EQ(PoolConfig::FromUrl("influxdbs://h:8086/").connection.database, "");
}

TEST(ConfigTest, Ipv6HostAndNoPort) {
  auto c = PoolConfig::FromUrl("postgresql://u@[::1]:5433/d");
  EXPECT_EQ(c.connection.host, "::1");
  EXPECT_EQ(c.connection.port, 5433);
  auto d = PoolConfig::FromUrl("postgresql://localhost/d");
  EXPECT_EQ(d.connection.port, 0);
}

TEST(ConfigTest, SqliteForms) {
  EXPECT_EQ(PoolConfig::FromUrl("sqlite::memory:").connection.database, ":memory:");
  EXPECT_EQ(PoolConfig::FromUrl("sqlite://:memory:").connection.database, ":memory:");
  EXPECT_EQ(PoolConfig::FromUrl("sqlite:///tmp/a.db").connection.database, "/tmp/a.db");
  // The shown URL reads back as the same file (absolute, relative, memory).
  for (const char* url : {"sqlite:///tmp/a.db", "sqlite://rel/a.db", "sqlite://:memory:"}) {
    const std::string shown = PoolConfig::FromUrl(url).connection.Redacted();
    EXPECT_EQ(shown, url);
    EXPECT_EQ(PoolConfig::FromUrl(shown).connection.database,
              PoolConfig::FromUrl(url).connection.database);
  }
  EXPECT_EQ(PoolConfig::FromUrl("sqlite://data/a.db").connection.database, "data/a.db");
  auto c = PoolConfig::FromUrl("sqlite:///tmp/a.db?busy_timeout=100");
  EXPECT_EQ(c.connection.db_type, "sqlite");
  EXPECT_EQ(c.connection.options.at("busy_timeout"), "100");
}

TEST(ConfigTest, MalformedUrlsNameTheField) {
  EXPECT_NE(ConfigErrorOf([] { PoolConfig::FromUrl("not a url"); }).find("url"), std::string::npos);
  EXPECT_NE(ConfigErrorOf([] { PoolConfig::FromUrl("postgresql://h:99999/d"); }).find("port"),
            std::string::npos);
  EXPECT_NE(ConfigErrorOf([] { PoolConfig::FromUrl("postgresql://h:abc/d"); }).find("port"),
            std::string::npos);
  EXPECT_NE(ConfigErrorOf([] { PoolConfig::FromUrl("postgresql://h/d?max_connections=x"); })
                .find("max_connections"),
            std::string::npos);
  EXPECT_NE(ConfigErrorOf([] { PoolConfig::FromUrl("postgresql://u:p%zz@h/d"); }).find("url"),
            std::string::npos);
  EXPECT_NE(ConfigErrorOf([] { PoolConfig::FromUrl("sqlite://"); }).find("url"), std::string::npos);
}

TEST(ConfigTest, ValidationNamesFieldAndReason) {
  PoolConfig c = PoolConfig::FromUrl("postgresql://h/d");
  c.min_connections = 5;
  c.max_connections = 2;
  std::string msg = ConfigErrorOf([&] { c.Validate(); });
  EXPECT_NE(msg.find("min_connections"), std::string::npos) << msg;
  EXPECT_NE(msg.find("max_connections"), std::string::npos) << msg;
  c.min_connections = 1;
  c.acquire_timeout = 0;
  EXPECT_NE(ConfigErrorOf([&] { c.Validate(); }).find("acquire_timeout"), std::string::npos);
  PoolConfig none;
  EXPECT_NE(ConfigErrorOf([&] { none.Validate(); }).find("db_type"), std::string::npos);
}

TEST(ConfigTest, MapOverridesUrlAndUnknownKeysBecomeOptions) {
  auto c = PoolConfig::FromMap({{"url", "postgresql://u:secret@h:1/d"},
                                {"max_connections", "3"},
                                {"host", "other"},
                                {"application_name", "x"}});
  EXPECT_EQ(c.connection.host, "other");
  EXPECT_EQ(c.connection.port, 1);
  EXPECT_EQ(c.max_connections, 3);
  EXPECT_EQ(c.connection.options.at("application_name"), "x");
}

TEST(ConfigTest, FromEnvironment) {
  setenv("DBPT_URL", "postgresql://u@h/d", 1);
  setenv("DBPT_MIN_CONNECTIONS", "2", 1);
  auto c = PoolConfig::FromEnv("DBPT_");
  EXPECT_EQ(c.connection.host, "h");
  EXPECT_EQ(c.min_connections, 2);
  unsetenv("DBPT_URL");
  unsetenv("DBPT_MIN_CONNECTIONS");
  EXPECT_NE(ConfigErrorOf([] { PoolConfig::FromEnv("DBPT_"); }).find("DBPT_URL"), std::string::npos);
}

TEST(ConfigTest, PasswordsNeverPrinted) {
  auto c = PoolConfig::FromUrl("postgresql://user:hunter2@h:5432/d?sslpassword=hunter3");
  std::string text = c.Redacted();
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  EXPECT_EQ(text.find("hunter3"), std::string::npos) << text;
  EXPECT_NE(text.find("user:***@h:5432/d"), std::string::npos) << text;
  std::string msg = ConfigErrorOf([] { PoolConfig::FromUrl("postgresql://u:hunter2@h:x/d"); });
  EXPECT_EQ(msg.find("hunter2"), std::string::npos) << msg;
}

TEST(ConfigTest, MultiHostUrl) {
  auto c = PoolConfig::FromUrl(
      "postgresql://u:pw@h1:5432,[::1]:5433,h3/db?target_session_attrs=read-write");
  EXPECT_EQ(c.connection.host, "h1");
  EXPECT_EQ(c.connection.port, 5432);
  ASSERT_EQ(c.connection.more_hosts.size(), 2u);
  EXPECT_EQ(c.connection.more_hosts[0], (HostPort{"::1", 5433}));
  EXPECT_EQ(c.connection.more_hosts[1], (HostPort{"h3", 0}));
  EXPECT_EQ(c.connection.options.at("target_session_attrs"), "read-write");
  c.Validate();
  std::string text = c.connection.Redacted();
  EXPECT_EQ(text, "postgresql://u:***@h1:5432,[::1]:5433,h3/db?target_session_attrs=read-write");
  // The redacted form reads back as the same hosts.
  EXPECT_EQ(PoolConfig::FromUrl(text).connection.more_hosts, c.connection.more_hosts);
}

TEST(ConfigTest, MultiHostKeywords) {
  auto c = PoolConfig::FromMap({{"db_type", "postgresql"}, {"host", "a,b:6000,c"}});
  EXPECT_EQ(c.connection.Hosts(), (std::vector<HostPort>{{"a", 0}, {"b", 6000}, {"c", 0}}));
  c = PoolConfig::FromMap({{"db_type", "postgresql"}, {"host", "a,b"}, {"port", "5001,5002"}});
  EXPECT_EQ(c.connection.Hosts(), (std::vector<HostPort>{{"a", 5001}, {"b", 5002}}));
  c = PoolConfig::FromMap({{"db_type", "postgresql"}, {"host", "a,b"}, {"port", "5001"}});
  EXPECT_EQ(c.connection.Hosts(), (std::vector<HostPort>{{"a", 5001}, {"b", 5001}}));
  // A keyword host replaces the URL's list.
  c = PoolConfig::FromMap({{"url", "postgresql://u@a,b/d"}, {"host", "z"}});
  EXPECT_EQ(c.connection.Hosts(), (std::vector<HostPort>{{"z", 0}}));
}

TEST(ConfigTest, MultiHostErrorsNameTheField) {
  EXPECT_NE(ConfigErrorOf([] {
              PoolConfig::FromMap({{"db_type", "postgresql"}, {"host", "a,b"}, {"port", "1,2,3"}});
            }).find("port: 3 ports for 2 hosts"),
            std::string::npos);
  EXPECT_NE(ConfigErrorOf([] { PoolConfig::FromUrl("postgresql://u@a,,b/d"); })
                .find("host: entry 2 of the host list is empty"),
            std::string::npos);
  EXPECT_NE(ConfigErrorOf([] { PoolConfig::FromUrl("postgresql://u@a:1,b:x/d"); }).find("port:"),
            std::string::npos);
  EXPECT_NE(ConfigErrorOf([] { PoolConfig::FromUrl("mysql://u@a,b/d").Validate(); })
                .find("host: a list of 2 hosts is supported by PostgreSQL only"),
            std::string::npos);
  EXPECT_NE(ConfigErrorOf([] {
              PoolConfig::FromUrl("postgresql://u@a,b/d?target_session_attrs=primary-ish").Validate();
            }).find("target_session_attrs: expected any, read-write"),
            std::string::npos);
  for (const char* v : {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"}) {
    PoolConfig::FromUrl(std::string("postgresql://u@a,b/d?target_session_attrs=") + v).Validate();
  }
}

}  // namespace
}  // namespace dbpool
