// MssqlConnection / MssqlDriver against the TDS test server (or DB_POOL_TEST_MSSQL_URL):
// connect, errors, parameters, transactions, timeouts, cancellation, broken connections.
#include <chrono>
#include <future>
#include <thread>

#include "mssql_test_util.hpp"

namespace dbpool::mssql::testing {
namespace {

using std::chrono::duration;
using std::chrono::steady_clock;

double SecondsSince(steady_clock::time_point start) {
  return duration<double>(steady_clock::now() - start).count();
}

Params Positional(std::vector<Value> values) {
  Params params;
  params.values = std::move(values);
  return params;
}

class MssqlConnectionTest : public MssqlTest {};

TEST_F(MssqlConnectionTest, ConnectPingAndSessionId) {
  auto conn = Connect();
  Run(conn->Ping());
  EXPECT_FALSE(conn->IsBroken());
  EXPECT_FALSE(conn->InTransaction());
  EXPECT_GT(conn->ServerSessionId(), 0);
  QueryResult r = Query(*conn, "SELECT @@SPID AS spid, DB_NAME() AS db");
  ASSERT_EQ(r.num_rows(), 1);
  EXPECT_EQ(At<int16_t>(Column(r, 0), 0), conn->ServerSessionId());
  EXPECT_EQ(StringValue(Column(r, 1), 0), config_.database);
}

TEST_F(MssqlConnectionTest, WrongPasswordIsAConnectionErrorWithoutThePassword) {
  ConnectionConfig config = config_;
  config.password = "wrong-hunter2";
  DbError e = Catch([&] { Connect(config); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
  EXPECT_EQ(e.vendor_code(), 18456) << e.message();
  EXPECT_EQ(e.sqlstate(), "28000");
  EXPECT_NE(e.message().find("Login failed"), std::string::npos) << e.message();
  EXPECT_EQ(e.message().find("hunter2"), std::string::npos);
}

TEST_F(MssqlConnectionTest, UnknownDatabaseAndClosedPort) {
  ConnectionConfig config = config_;
  config.database = "no_such_database";
  DbError e = Catch([&] { Connect(config); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
  EXPECT_EQ(e.vendor_code(), 4060) << e.message();

  // A port nobody listens on: refused at once, the error names the endpoint.
  asio::io_context io;
  asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
  uint16_t port = probe.local_endpoint().port();
  probe.close();
  config = config_;
  config.host = "127.0.0.1";
  config.port = port;
  config.connect_timeout = 5;
  auto start = steady_clock::now();
  e = Catch([&] { Connect(config); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
  EXPECT_NE(e.message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << e.message();
  EXPECT_LT(SecondsSince(start), 5.0);
}

TEST_F(MssqlConnectionTest, OptionsAreValidated) {
  ConnectionConfig config = config_;
  config.options["no_such_option"] = "1";
  DbError e = Catch([&] { Connect(config); });
  EXPECT_EQ(e.kind(), ErrorKind::kConfig);
  EXPECT_NE(e.message().find("no_such_option"), std::string::npos);
  config.options.clear();
  config.options["encrypt"] = "sometimes";
  EXPECT_EQ(Catch([&] { Connect(config); }).kind(), ErrorKind::kConfig);
  config.options["encrypt"] = "off";
  config.options["application_name"] = "dbpool-test";
  auto conn = Connect(config);  // encrypt=off goes through the private FreeTDS entry
  Run(conn->Ping());
  if (UsingTestServer()) {
    // The test server answers PRELOGIN with ENCRYPT_NOT_SUP: required TLS cannot happen.
    config.options["encrypt"] = "require";
    e = Catch([&] { Connect(config); });
    EXPECT_EQ(e.kind(), ErrorKind::kConnection) << e.what();
    EXPECT_NE(e.message().find("encrypt=require: the server does not support encryption"),
              std::string::npos)
        << e.message();
    EXPECT_EQ(e.message().find("dbpool-mssql-"), std::string::npos) << e.message();
  }
}

TEST_F(MssqlConnectionTest, ParametersOfEachKind) {
  auto conn = Connect();
  QueryResult r = Query(*conn,
                        "SELECT ? AS n, ? AS b, ? AS i, ? AS f, ? AS s, ? AS e, ? AS y, ? AS z, "
                        "? AS u",
                        Positional({Value{}, Value{true}, Value{int64_t{-9007199254740993}},
                                    Value{2.5}, Value{std::string("héllo ✓")},
                                    Value{std::string()}, Value{Bytes{std::string("\0\x01", 2)}},
                                    Value{Bytes{}}, Value{std::string("it's; -- not SQL")}}));
  ASSERT_EQ(r.num_rows(), 1);
  EXPECT_TRUE(IsNull(Column(r, 0), 0));
  EXPECT_EQ(r.schema[1].type.id, arrow::TypeId::kBoolean);
  EXPECT_TRUE(BoolValue(Column(r, 1), 0));
  EXPECT_EQ(r.schema[2].type.id, arrow::TypeId::kInt64);
  EXPECT_EQ(At<int64_t>(Column(r, 2), 0), -9007199254740993LL);
  EXPECT_DOUBLE_EQ(At<double>(Column(r, 3), 0), 2.5);
  EXPECT_EQ(StringValue(Column(r, 4), 0), "héllo ✓");
  EXPECT_FALSE(IsNull(Column(r, 5), 0));  // an empty string is not NULL
  EXPECT_EQ(StringValue(Column(r, 5), 0), "");
  EXPECT_EQ(r.schema[6].type.id, arrow::TypeId::kBinary);
  EXPECT_EQ(StringValue(Column(r, 6), 0), std::string("\0\x01", 2));
  EXPECT_FALSE(IsNull(Column(r, 7), 0));
  EXPECT_EQ(StringValue(Column(r, 7), 0), "");
  EXPECT_EQ(StringValue(Column(r, 8), 0), "it's; -- not SQL");

  // `?` inside literals, identifiers and comments is not a placeholder.
  r = Query(*conn, "SELECT '?' AS [q?], ? AS v /* ? */ -- ?", Positional({Value{int64_t{7}}}));
  EXPECT_EQ(StringValue(Column(r, 0), 0), "?");
  EXPECT_EQ(r.schema[0].name, "q?");
  EXPECT_EQ(At<int64_t>(Column(r, 1), 0), 7);

  DbError e = Catch([&] { Query(*conn, "SELECT ?, ?", Positional({Value{int64_t{1}}})); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_NE(e.message().find("2 placeholder"), std::string::npos) << e.message();
}

TEST_F(MssqlConnectionTest, NamedParametersAndAtPNames) {
  auto conn = Connect();
  Params named;
  named.names = {"id", "@name"};
  named.values = {Value{int64_t{42}}, Value{std::string("x")}};
  QueryResult r = Query(*conn, "SELECT @id AS id, @name AS name", named);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), 42);
  EXPECT_EQ(StringValue(Column(r, 1), 0), "x");

  r = Query(*conn, "SELECT @P2 AS second, @P1 AS first",
            Positional({Value{int64_t{1}}, Value{int64_t{2}}}));
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), 2);

  named.names = {"bad name; DROP TABLE x", "ok"};
  DbError e = Catch([&] { Query(*conn, "SELECT 1", named); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
}

TEST_F(MssqlConnectionTest, LongValuesSpanPackets) {
  auto conn = Connect();
  Execute(*conn, "DROP TABLE IF EXISTS big_values");
  Execute(*conn, "CREATE TABLE big_values (id int, t nvarchar(max), b varbinary(max))");
  std::string text;
  for (int i = 0; i < 30000; ++i) text += static_cast<char>('a' + i % 26);
  text += "é✓";
  std::string bytes(100000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
  EXPECT_EQ(Execute(*conn, "INSERT INTO big_values (id, t, b) VALUES (?, ?, ?)",
                    Positional({Value{int64_t{1}}, Value{text}, Value{Bytes{bytes}}})),
            1);
  QueryResult r = Query(*conn, "SELECT t, b FROM big_values WHERE id = 1");
  ASSERT_EQ(r.num_rows(), 1);
  std::string got_text = StringValue(Column(r, 0), 0);
  std::string got_bytes = StringValue(Column(r, 1), 0);
  EXPECT_EQ(got_text.size(), text.size());
  EXPECT_TRUE(got_text == text);
  EXPECT_EQ(got_bytes.size(), bytes.size());
  EXPECT_TRUE(got_bytes == bytes);
  Execute(*conn, "DROP TABLE big_values");
}

TEST_F(MssqlConnectionTest, ServerErrorsAreTypedAndTheConnectionStaysUsable) {
  auto conn = Connect();
  DbError e = Catch([&] { Query(*conn, "SELEC 1"); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_EQ(e.sqlstate(), "42000");
  EXPECT_NE(e.message().find("severity"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("state"), std::string::npos) << e.message();

  e = Catch([&] { Query(*conn, "SELECT * FROM no_such_table"); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_EQ(e.vendor_code(), 208);
  EXPECT_EQ(e.sqlstate(), "42S02");
  EXPECT_NE(e.message().find("no_such_table"), std::string::npos) << e.message();

  e = Catch([&] { Execute(*conn, "RAISERROR('custom failure', 16, 3)"); });
  EXPECT_EQ(e.vendor_code(), 50000);
  EXPECT_NE(e.message().find("custom failure (SQL Server error 50000, severity 16, state 3)"),
            std::string::npos)
      << e.message();

  Execute(*conn, "DROP TABLE IF EXISTS uniq");
  Execute(*conn, "CREATE TABLE uniq (id int PRIMARY KEY)");
  Execute(*conn, "INSERT INTO uniq VALUES (1)");
  e = Catch([&] { Execute(*conn, "INSERT INTO uniq VALUES (1)"); });
  EXPECT_EQ(e.vendor_code(), 2627);
  EXPECT_EQ(e.sqlstate(), "23000");
  EXPECT_FALSE(conn->IsBroken());
  QueryResult r = Query(*conn, "SELECT COUNT(*) AS n FROM uniq");
  EXPECT_EQ(At<int32_t>(Column(r, 0), 0), 1);
  Execute(*conn, "DROP TABLE uniq");
}

TEST_F(MssqlConnectionTest, BatchesCountRowsAndReturnTheLastResultSet) {
  auto conn = Connect();
  Execute(*conn, "DROP TABLE IF EXISTS counted");
  Execute(*conn, "CREATE TABLE counted (id int)");
  EXPECT_EQ(Execute(*conn, "INSERT INTO counted VALUES (1), (2); INSERT INTO counted VALUES (3)"),
            3);
  QueryResult r = Query(*conn, "UPDATE counted SET id = id + 10 WHERE id > 1");
  EXPECT_FALSE(r.has_rows());
  EXPECT_EQ(r.rows_affected, 2);
  r = Query(*conn, "INSERT INTO counted VALUES (4); SELECT id FROM counted ORDER BY id");
  ASSERT_TRUE(r.has_rows());
  EXPECT_EQ(r.num_rows(), 4);
  r = Query(*conn, "SELECT id FROM counted WHERE id < 0");
  EXPECT_TRUE(r.has_rows());
  EXPECT_EQ(r.num_rows(), 0);
  EXPECT_EQ(r.schema.size(), 1u);
  Execute(*conn, "DROP TABLE counted");
}

TEST_F(MssqlConnectionTest, Transactions) {
  auto conn = Connect();
  Execute(*conn, "DROP TABLE IF EXISTS tx_items");
  Execute(*conn, "CREATE TABLE tx_items (id int)");
  Run(conn->Begin());
  EXPECT_TRUE(conn->InTransaction());
  Execute(*conn, "INSERT INTO tx_items VALUES (1)");
  Run(conn->Rollback());
  EXPECT_FALSE(conn->InTransaction());
  EXPECT_EQ(At<int32_t>(Column(Query(*conn, "SELECT COUNT(*) AS n FROM tx_items"), 0), 0), 0);

  Run(conn->Begin());
  Execute(*conn, "INSERT INTO tx_items VALUES (2)");
  Run(conn->Commit());
  EXPECT_FALSE(conn->InTransaction());
  auto other = Connect();
  EXPECT_EQ(At<int32_t>(Column(Query(*other, "SELECT COUNT(*) AS n FROM tx_items"), 0), 0), 1);
  Run(conn->Rollback());  // no transaction: a no-op
  Execute(*conn, "DROP TABLE tx_items");
}

TEST_F(MssqlConnectionTest, CancelWaitforWithinASecondAndReuseTheConnection) {
  auto conn = Connect();
  auto cancel = std::make_shared<CancelToken>();
  auto start = steady_clock::now();
  std::thread canceller([cancel] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel->Cancel();
  });
  DbError e = Catch([&] { Query(*conn, "WAITFOR DELAY '00:00:05'; SELECT 1 AS x", {}, cancel); });
  canceller.join();
  EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.what();
  EXPECT_LT(SecondsSince(start), 1.0);
  EXPECT_FALSE(conn->IsBroken());
  QueryResult r = Query(*conn, "SELECT 7 AS x");
  EXPECT_EQ(At<int32_t>(Column(r, 0), 0), 7);

  // Cancelled with parameters (an RPC) too, and before the statement starts.
  cancel = std::make_shared<CancelToken>();
  std::thread again([cancel] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel->Cancel();
  });
  e = Catch([&] {
    Query(*conn, "WAITFOR DELAY '00:00:05'; SELECT ? AS x", Positional({Value{int64_t{1}}}),
          cancel);
  });
  again.join();
  EXPECT_EQ(e.kind(), ErrorKind::kCancelled);
  e = Catch([&] { Query(*conn, "SELECT 1", {}, cancel); });
  EXPECT_EQ(e.kind(), ErrorKind::kCancelled);
  Run(conn->Ping());
}

TEST_F(MssqlConnectionTest, CancelWhileTheServerPausesMidResultKeepsTheSession) {
  if (!UsingTestServer()) GTEST_SKIP() << "needs the TDS test server's scripted pause";
  auto conn = Connect();
  const int64_t spid = conn->ServerSessionId();
  Execute(*conn, "DROP TABLE IF EXISTS pause_rows");
  Execute(*conn, "CREATE TABLE pause_rows (i int)");
  Execute(*conn, "INSERT INTO pause_rows VALUES (1), (2), (3), (4), (5), (6)");
  auto cancel = std::make_shared<CancelToken>();
  auto start = steady_clock::now();
  std::thread canceller([cancel] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel->Cancel();
  });
  // Three rows, then the server says nothing for 30 s: db-lib is blocked in its read.
  DbError e = Catch([&] {
    Query(*conn, "SELECT i, dbpool_delay_after(3, 30) AS d FROM pause_rows ORDER BY i", {},
          cancel);
  });
  canceller.join();
  EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.what();
  EXPECT_LT(SecondsSince(start), 5.0);
  EXPECT_FALSE(conn->IsBroken());
  // The attention was acknowledged (DONE_ATTN): the same session runs the next statement.
  QueryResult r = Query(*conn, "SELECT @@SPID AS spid, COUNT(*) AS n FROM pause_rows");
  EXPECT_EQ(At<int16_t>(Column(r, 0), 0), spid);
  EXPECT_EQ(At<int32_t>(Column(r, 1), 0), 6);
  Execute(*conn, "DROP TABLE pause_rows");
}

TEST_F(MssqlConnectionTest, QueryTimeoutCancelsTheStatement) {
  ConnectionConfig config = config_;
  config.options["statement_timeout"] = "0.3";
  auto conn = Connect(config);
  auto start = steady_clock::now();
  DbError e = Catch([&] { Execute(*conn, "WAITFOR DELAY '00:00:03'"); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_EQ(e.sqlstate(), "HYT00");
  EXPECT_NE(e.message().find("statement_timeout"), std::string::npos);
  EXPECT_LT(SecondsSince(start), 1.5);
  EXPECT_FALSE(conn->IsBroken());
  EXPECT_EQ(At<int32_t>(Column(Query(*conn, "SELECT 3 AS x"), 0), 0), 3);
}

TEST_F(MssqlConnectionTest, DisconnectMidResultBreaksTheConnection) {
  if (!UsingTestServer()) GTEST_SKIP() << "needs the TDS test server's scripted disconnect";
  auto conn = Connect();
  DbError e = Catch([&] { Query(*conn, "SELECT dbpool_disconnect() AS x"); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection) << e.what();
  EXPECT_TRUE(conn->IsBroken());
  e = Catch([&] { Query(*conn, "SELECT 1"); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
  auto fresh = Connect();
  Run(fresh->Ping());
}

}  // namespace
}  // namespace dbpool::mssql::testing
