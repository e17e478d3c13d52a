// MysqlConnection / MysqlDriver against a real server: connect, ping, parameters, errors,
// transactions, timeouts, cancellation and broken connections.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "mysql_test_util.hpp"

namespace dbpool::mysql::testing {
namespace {

using std::chrono::duration;
using std::chrono::steady_clock;

class MysqlConnectionTest : public MysqlTest {
 protected:
  double SecondsSince(steady_clock::time_point start) {
    return duration<double>(steady_clock::now() - start).count();
  }
};

TEST_F(MysqlConnectionTest, ConnectPingAndSession) {
  auto conn = Connect();
  Run(conn->Ping());
  EXPECT_FALSE(conn->IsBroken());
  EXPECT_FALSE(conn->InTransaction());
  EXPECT_GT(conn->ServerSessionId(), 0);
  QueryResult r = Query(*conn, "SELECT CONNECTION_ID() AS id, @@session.time_zone AS tz, "
                               "@@character_set_client AS cs, @@character_set_results AS rs");
  EXPECT_EQ(IntValue(r, 0), conn->ServerSessionId());
  EXPECT_EQ(StringValue(Column(r, 1), 0), "+00:00");
  EXPECT_EQ(StringValue(Column(r, 2), 0), "utf8mb4");
  EXPECT_EQ(StringValue(Column(r, 3), 0), "utf8mb4");
}

TEST_F(MysqlConnectionTest, InitCommandOptionRuns) {
  ConnectionConfig config = config_;
  config.options["init_command"] = "SET @dbpool_marker = 42";
  auto conn = Connect(config);
  QueryResult r = Query(*conn, "SELECT @dbpool_marker + 0 AS m");
  ASSERT_EQ(r.num_rows(), 1);
  EXPECT_EQ(IntValue(r, 0), 42);
}

TEST_F(MysqlConnectionTest, ParametersOfEachKind) {
  auto conn = Connect();
  Params params;
  params.values = {Value{std::monostate{}}, Value{true}, Value{int64_t{-9007199254740993}},
                   Value{2.5}, Value{std::string("2024-01-01")},
                   Value{Bytes{std::string("\0\x01", 2)}}, Value{std::string("héllo ✓")},
                   Value{Bytes{}}};
  QueryResult r = Query(*conn,
                        "SELECT ? IS NULL AS a, ? AS b, ? AS c, ? AS d, CAST(? AS DATE) AS e, "
                        "? AS f, ? AS g, ? AS h",
                        params);
  ASSERT_EQ(r.num_rows(), 1);
  EXPECT_EQ(IntValue(r, 0), 1);  // a comparison is an integer in MySQL
  EXPECT_EQ(IntValue(r, 1), 1);  // booleans travel as TINYINT
  EXPECT_EQ(r.schema[2].type.id, arrow::TypeId::kInt64);
  EXPECT_EQ(At<int64_t>(Column(r, 2), 0), -9007199254740993LL);
  EXPECT_DOUBLE_EQ(At<double>(Column(r, 3), 0), 2.5);
  EXPECT_EQ(At<int32_t>(Column(r, 4), 0), 19723);
  EXPECT_EQ(r.schema[5].type.id, arrow::TypeId::kBinary);
  EXPECT_EQ(StringValue(Column(r, 5), 0), std::string("\0\x01", 2));
  EXPECT_EQ(r.schema[6].type.id, arrow::TypeId::kString);
  EXPECT_EQ(StringValue(Column(r, 6), 0), "héllo ✓");
  EXPECT_EQ(StringValue(Column(r, 7), 0), "");
  EXPECT_FALSE(IsNull(Column(r, 7), 0));

  // Text parameters take the column's type: a date, a decimal, JSON.
  Execute(*conn, "CREATE TEMPORARY TABLE typed (d DATE, n DECIMAL(10,2), j JSON, i INT)");
  Params row;
  row.values = {Value{std::string("2024-02-29")}, Value{std::string("12.50")},
                Value{std::string("{\"a\": [1, 2]}")}, Value{int64_t{7}}};
  EXPECT_EQ(Execute(*conn, "INSERT INTO typed VALUES (?, ?, ?, ?)", row), 1);
  r = Query(*conn, "SELECT d, n, j, i FROM typed");
  EXPECT_EQ(At<int32_t>(Column(r, 0), 0), 19782);
  EXPECT_EQ(Int128ToString(At<__int128>(Column(r, 1), 0)), "1250");
  EXPECT_EQ(StringValue(Column(r, 2), 0), "{\"a\": [1, 2]}");
  EXPECT_EQ(At<int32_t>(Column(r, 3), 0), 7);  // INT
}

TEST_F(MysqlConnectionTest, ParameterMistakes) {
  auto conn = Connect();
  Params named;
  named.values = {Value{int64_t{1}}};
  named.names = {"id"};
  DbError e = Catch([&] { Query(*conn, "SELECT ?", named); });
  EXPECT_EQ(e.kind(), ErrorKind::kConfig);
  EXPECT_NE(e.message().find("?"), std::string::npos) << e.message();

  Params two;
  two.values = {Value{int64_t{1}}, Value{int64_t{2}}};
  e = Catch([&] { Query(*conn, "SELECT ?", two); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_EQ(e.sqlstate(), "07001");
  Run(conn->Ping());
  EXPECT_EQ(IntValue(Query(*conn, "SELECT 1"), 0), 1);
}

TEST_F(MysqlConnectionTest, ServerErrorsCarrySqlStateAndErrno) {
  auto conn = Connect();
  DbError e = Catch([&] { Query(*conn, "SELEC 1"); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_EQ(e.sqlstate(), "42000");
  EXPECT_EQ(e.vendor_code(), 1064);
  EXPECT_NE(e.message().find("SQL syntax"), std::string::npos) << e.message();

  e = Catch([&] { Query(*conn, "SELECT * FROM no_such_table_here"); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_EQ(e.sqlstate(), "42S02");
  EXPECT_EQ(e.vendor_code(), 1146);

  Execute(*conn, "CREATE TEMPORARY TABLE uniq (id INT PRIMARY KEY)");
  Execute(*conn, "INSERT INTO uniq VALUES (1)");
  e = Catch([&] { Execute(*conn, "INSERT INTO uniq VALUES (1)"); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_EQ(e.sqlstate(), "23000");
  EXPECT_EQ(e.vendor_code(), 1062);
  EXPECT_NE(e.message().find("Duplicate entry"), std::string::npos) << e.message();
  Params dup;
  dup.values = {Value{int64_t{1}}};
  e = Catch([&] { Execute(*conn, "INSERT INTO uniq VALUES (?)", dup); });  // prepared path
  EXPECT_EQ(e.vendor_code(), 1062);
  EXPECT_EQ(e.sqlstate(), "23000");
  EXPECT_FALSE(conn->IsBroken());
  Run(conn->Ping());
}

TEST_F(MysqlConnectionTest, ExecuteCountsRowsAndAcceptsScripts) {
  auto conn = Connect();
  EXPECT_EQ(Execute(*conn, "CREATE TEMPORARY TABLE t (a INT); INSERT INTO t VALUES (1), (2), (3)"),
            3);
  // Rows matched, not rows changed (CLIENT_FOUND_ROWS): a = a counts too.
  EXPECT_EQ(Execute(*conn, "UPDATE t SET a = a WHERE a > 1"), 2);
  EXPECT_EQ(Execute(*conn, "CREATE TEMPORARY TABLE u (b INT)"), 0);
  EXPECT_EQ(Execute(*conn, "SELECT * FROM t"), 3);  // a SELECT counts its rows
  Params p;
  p.values = {Value{int64_t{1}}};
  EXPECT_EQ(Execute(*conn, "SELECT * FROM t WHERE a > ?", p), 2);
  QueryResult r = Query(*conn, "DELETE FROM t WHERE a = 1");
  EXPECT_FALSE(r.has_rows());
  EXPECT_EQ(r.rows_affected, 1);
  // A failing statement in the middle of a script stops it; the session stays in sync.
  DbError e = Catch([&] { Execute(*conn, "INSERT INTO t VALUES (9); SELEC 1; INSERT INTO t VALUES (10)"); });
  EXPECT_EQ(e.vendor_code(), 1064);
  EXPECT_EQ(IntValue(Query(*conn, "SELECT COUNT(*) FROM t"), 0), 3);
  // A result set in the middle of a script is read past.
  EXPECT_EQ(Execute(*conn, "SELECT * FROM t; INSERT INTO t VALUES (11)"), 1);
  Run(conn->Ping());
}

TEST_F(MysqlConnectionTest, StatementsThatCannotBePreparedRunAsText) {
  auto conn = Connect();
  // EXECUTE IMMEDIATE cannot itself be prepared (ER_UNSUPPORTED_PS): it runs as text, and
  // its result is decoded from the text protocol with the same type mapping.
  QueryResult r = Query(*conn,
                        "EXECUTE IMMEDIATE 'SELECT CAST(-5 AS SIGNED) AS i, 12.50 AS d, "
                        "DATE ''2024-02-29'' AS day, NULL AS n, _binary ''ab'' AS b'");
  ASSERT_EQ(r.num_rows(), 1);
  EXPECT_EQ(IntValue(r, 0), -5);
  EXPECT_EQ(r.schema[1].type, arrow::DataType::Decimal(4, 2));
  EXPECT_EQ(Int128ToString(At<__int128>(Column(r, 1), 0)), "1250");
  EXPECT_EQ(At<int32_t>(Column(r, 2), 0), 19782);
  EXPECT_TRUE(IsNull(Column(r, 3), 0));
  EXPECT_EQ(r.schema[4].type.id, arrow::TypeId::kBinary);
  EXPECT_EQ(StringValue(Column(r, 4), 0), "ab");
}

TEST_F(MysqlConnectionTest, StoredProcedureResults) {
  auto conn = Connect();
  Execute(*conn, "DROP PROCEDURE IF EXISTS dbpool_two_results");
  Execute(*conn,
          "CREATE PROCEDURE dbpool_two_results() BEGIN SELECT 1 AS a; SELECT 2 AS b, 3 AS c; END");
  QueryResult r = Query(*conn, "CALL dbpool_two_results()");
  ASSERT_EQ(r.schema.size(), 1u);  // the first result set
  EXPECT_EQ(r.schema[0].name, "a");
  EXPECT_EQ(IntValue(r, 0), 1);
  EXPECT_EQ(IntValue(Query(*conn, "SELECT 7"), 0), 7);  // in sync
  Execute(*conn, "DROP PROCEDURE dbpool_two_results");
}

TEST_F(MysqlConnectionTest, Transactions) {
  auto conn = Connect();
  Execute(*conn, "CREATE TEMPORARY TABLE tx (a INT) ENGINE=InnoDB");
  Run(conn->Begin());
  EXPECT_TRUE(conn->InTransaction());
  EXPECT_EQ(Catch([&] { Run(conn->Begin()); }).sqlstate(), "25001");
  Execute(*conn, "INSERT INTO tx VALUES (1)");
  EXPECT_TRUE(conn->InTransaction());
  Run(conn->Rollback());
  EXPECT_FALSE(conn->InTransaction());
  EXPECT_EQ(Query(*conn, "SELECT a FROM tx").num_rows(), 0);

  Run(conn->Begin());
  Params p;
  p.values = {Value{int64_t{2}}};
  Execute(*conn, "INSERT INTO tx VALUES (?)", p);  // prepared statements keep the status
  EXPECT_TRUE(conn->InTransaction());
  Catch([&] { Query(*conn, "SELECT * FROM no_such_table_here"); });
  EXPECT_TRUE(conn->InTransaction());  // MySQL keeps the transaction after an error
  Run(conn->Commit());
  EXPECT_FALSE(conn->InTransaction());
  EXPECT_EQ(Query(*conn, "SELECT a FROM tx").num_rows(), 1);

  // A transaction opened by SQL is seen too.
  Execute(*conn, "START TRANSACTION");
  EXPECT_TRUE(conn->InTransaction());
  Run(conn->Rollback());
  EXPECT_FALSE(conn->InTransaction());
}

TEST_F(MysqlConnectionTest, WrongPasswordIsAConnectionErrorWithoutThePassword) {
  const char* user_url = std::getenv("DB_POOL_TEST_MYSQL_USER_URL");
  ConnectionConfig config = user_url != nullptr ? PoolConfig::FromUrl(user_url).connection : config_;
  config.password = "definitely-wrong-pw-31337";
  DbError e = Catch([&] { Connect(config); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
  EXPECT_EQ(e.sqlstate(), "28000") << e.message();
  EXPECT_EQ(e.vendor_code(), 1045) << e.message();
  EXPECT_EQ(std::string(e.what()).find("definitely-wrong-pw"), std::string::npos);
  EXPECT_NE(e.message().find(Settings::From(config).Endpoint()), std::string::npos)
      << e.message();
}

TEST_F(MysqlConnectionTest, UserUrlConnects) {
  const char* user_url = std::getenv("DB_POOL_TEST_MYSQL_USER_URL");
  if (user_url == nullptr) GTEST_SKIP() << "DB_POOL_TEST_MYSQL_USER_URL is not set";
  auto conn = Connect(PoolConfig::FromUrl(user_url).connection);
  QueryResult r = Query(*conn, "SELECT CURRENT_USER() AS u");
  EXPECT_EQ(StringValue(Column(r, 0), 0).rfind("dbpool@", 0), 0u);
}

TEST_F(MysqlConnectionTest, UnknownDatabaseIsAConnectionError) {
  ConnectionConfig config = config_;
  config.database = "no_such_database_xyz";
  DbError e = Catch([&] { Connect(config); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
  EXPECT_EQ(e.vendor_code(), 1049) << e.message();
}

TEST_F(MysqlConnectionTest, SilentServerTimesOutOnTime) {
  // A listening socket that never accepts nor answers: the TCP handshake completes in the
  // kernel, then the client waits for a greeting that never comes.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);

  ConnectionConfig config = config_;
  config.host = "127.0.0.1";
  config.port = ntohs(address.sin_port);
  config.password = "secret-never-shown";
  config.connect_timeout = 1.0;
  auto start = steady_clock::now();
  DbError e = Catch([&] { Connect(config); });
  double elapsed = SecondsSince(start);
  ::close(listener);
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
  EXPECT_NE(e.message().find("127.0.0.1:" + std::to_string(config.port)), std::string::npos)
      << e.message();
  EXPECT_EQ(std::string(e.what()).find("secret-never-shown"), std::string::npos);
  EXPECT_GE(elapsed, 0.9);
  EXPECT_LT(elapsed, 2.0);
}

TEST_F(MysqlConnectionTest, RefusedPortIsAConnectionError) {
  ConnectionConfig config = config_;
  config.host = "127.0.0.1";
  config.port = 1;  // nothing listens there
  DbError e = Catch([&] { Connect(config); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
  EXPECT_NE(e.message().find("127.0.0.1:1"), std::string::npos) << e.message();
  EXPECT_EQ(e.vendor_code(), 2002) << e.message();
}

TEST_F(MysqlConnectionTest, CancelStopsTheStatementOnTheServer) {
  auto conn = Connect();
  auto token = std::make_shared<CancelToken>();
  auto start = steady_clock::now();
  std::thread canceller([token] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    token->Cancel();
  });
  DbError e = Catch([&] { Query(*conn, "SELECT SLEEP(10), 'cancel-me' AS tag", {}, token); });
  canceller.join();
  EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.what();
  EXPECT_EQ(e.vendor_code(), 1317) << e.what();
  EXPECT_EQ(e.sqlstate(), "70100");
  EXPECT_LT(SecondsSince(start), 1.0);
  EXPECT_FALSE(conn->IsBroken());
  EXPECT_FALSE(conn->InTransaction());

  AdminSession admin;
  ASSERT_TRUE(admin.ok()) << admin.error();
  // The processlist is clean: our session is idle, and no KILL side session lingers.
  EXPECT_EQ(admin.Scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE "
                         "COMMAND = 'Query' AND INFO LIKE '%cancel-me%' AND ID <> CONNECTION_ID()"),
            "0");
  EXPECT_EQ(admin.Scalar("SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = " +
                         std::to_string(conn->ServerSessionId())),
            "Sleep");
  QueryResult r = Query(*conn, "SELECT 42");  // still usable
  EXPECT_EQ(IntValue(r, 0), 42);
}

TEST_F(MysqlConnectionTest, CancelOfExecuteAndInsideATransaction) {
  auto conn = Connect();
  Execute(*conn, "CREATE TEMPORARY TABLE kept (a INT) ENGINE=InnoDB");
  Run(conn->Begin());
  Execute(*conn, "INSERT INTO kept VALUES (1)");
  auto token = std::make_shared<CancelToken>();
  std::thread canceller([token] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    token->Cancel();
  });
  DbError e = Catch([&] { Run(conn->Execute("DO SLEEP(10)", {}, token)); });
  canceller.join();
  EXPECT_EQ(e.kind(), ErrorKind::kCancelled);
  // KILL QUERY stops the statement, not the transaction.
  EXPECT_TRUE(conn->InTransaction());
  EXPECT_EQ(Query(*conn, "SELECT a FROM kept").num_rows(), 1);
  Run(conn->Rollback());
  EXPECT_FALSE(conn->InTransaction());
}

TEST_F(MysqlConnectionTest, AlreadyCancelledTokenSendsNothing) {
  auto conn = Connect();
  auto token = std::make_shared<CancelToken>();
  token->Cancel();
  Execute(*conn, "CREATE TEMPORARY TABLE never (a INT)");
  DbError e = Catch([&] { Run(conn->Execute("INSERT INTO never VALUES (1)", {}, token)); });
  EXPECT_EQ(e.kind(), ErrorKind::kCancelled);
  EXPECT_EQ(Query(*conn, "SELECT a FROM never").num_rows(), 0);
}

TEST_F(MysqlConnectionTest, CancelAfterCompletionDoesNotHitTheNextStatement) {
  auto conn = Connect();
  for (int i = 0; i < 20; ++i) {
    auto token = std::make_shared<CancelToken>();
    std::thread canceller([token, i] {
      std::this_thread::sleep_for(std::chrono::microseconds(150 * i));
      token->Cancel();
    });
    try {
      Query(*conn, "SELECT 1", {}, token);
    } catch (const DbError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.what();
    }
    canceller.join();
    // Whatever happened above, the next statement runs to its end.
    QueryResult r = Query(*conn, "SELECT SLEEP(0.02), 7");
    EXPECT_EQ(IntValue(r, 1), 7);
  }
  EXPECT_FALSE(conn->IsBroken());
}

TEST_F(MysqlConnectionTest, KilledConnectionIsBroken) {
  auto conn = Connect();
  AdminSession admin;
  ASSERT_TRUE(admin.ok()) << admin.error();
  const std::string id = std::to_string(conn->ServerSessionId());
  ASSERT_TRUE(admin.Exec("KILL CONNECTION " + id)) << admin.error();
  for (int i = 0; i < 100; ++i) {  // wait for the session to end
    if (admin.Scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = " + id) == "0") {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  DbError e = Catch([&] { Query(*conn, "SELECT 1"); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection) << e.what();
  EXPECT_TRUE(e.vendor_code() == 2006 || e.vendor_code() == 2013 || e.vendor_code() == 1927)
      << e.vendor_code() << " " << e.what();
  EXPECT_TRUE(conn->IsBroken());
  EXPECT_EQ(Catch([&] { Run(conn->Ping()); }).kind(), ErrorKind::kConnection);
}

TEST_F(MysqlConnectionTest, KilledWhileRunningIsBroken) {
  auto conn = Connect();
  const std::string id = std::to_string(conn->ServerSessionId());
  std::thread killer([id] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    AdminSession admin;
    admin.Exec("KILL CONNECTION " + id);
  });
  DbError e = Catch([&] { Query(*conn, "SELECT SLEEP(5)"); });
  killer.join();
  EXPECT_EQ(e.kind(), ErrorKind::kConnection) << e.what();
  EXPECT_TRUE(conn->IsBroken());
}

TEST_F(MysqlConnectionTest, ManyConnectionsConcurrently) {
  // Several coroutines on the two event-loop threads, each with its own connection.
  std::vector<std::unique_ptr<Connection>> conns;
  for (int i = 0; i < 4; ++i) conns.push_back(Connect());
  std::vector<std::future<QueryResult>> futures;
  for (auto& conn : conns) {
    futures.push_back(asio::co_spawn(runtime_.executor(),
                                     conn->Query("SELECT SLEEP(0.3), 1", {}, nullptr),
                                     asio::use_future));
  }
  auto start = steady_clock::now();
  for (auto& f : futures) EXPECT_EQ(f.get().num_rows(), 1);
  EXPECT_LT(SecondsSince(start), 1.0);  // in parallel, not one after another
}

}  // namespace
}  // namespace dbpool::mysql::testing
