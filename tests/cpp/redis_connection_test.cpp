// RedisConnection / RedisDriver against a real server: handshake, commands and reply
// shapes, error replies, pipelines, transactions, cancellation, broken connections, auth,
// timeouts and database selection.
#include <algorithm>
#include <chrono>
#include <future>
#include <thread>

#include "redis_test_util.hpp"

namespace dbpool::redis::testing {
namespace {

using std::chrono::duration;
using std::chrono::steady_clock;

class RedisConnectionTest : public RedisTest {
 protected:
  /// A key unique to the test (the server is shared with other suites).
  std::string Key(const std::string& name) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return std::string("cpptest:") + info->name() + ":" + name;
  }
  static double SecondsSince(steady_clock::time_point start) {
    return duration<double>(steady_clock::now() - start).count();
  }
  RedisConnection& AsRedis(Connection& conn) { return static_cast<RedisConnection&>(conn); }
  void CheckShapes(Connection& conn, const std::string& prefix, int protocol);
};

TEST_F(RedisConnectionTest, ConnectPingAndProtocol) {
  auto conn = Connect();
  Run(conn->Ping());
  EXPECT_FALSE(conn->IsBroken());
  EXPECT_FALSE(conn->InTransaction());
  EXPECT_EQ(AsRedis(*conn).protocol(), 3);
  EXPECT_GT(conn->ServerSessionId(), 0);
  QueryResult r = Query(*conn, "CLIENT GETNAME");
  EXPECT_EQ(StringValue(Column(r, 0), 0), "db-pool");
  r = Query(*conn, "CLIENT ID");
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), conn->ServerSessionId());
}

TEST_F(RedisConnectionTest, CommandTextAndArgumentLists) {
  auto conn = Connect();
  const std::string k = Key("k");
  EXPECT_EQ(Execute(*conn, "SET " + k + " 'hello world'"), 1);  // OK -> 1
  QueryResult r = Query(*conn, "GET " + k);
  EXPECT_EQ(StringValue(Column(r, 0), 0), "hello world");
  // Text plus parameters appended as arguments; then all arguments as parameters.
  EXPECT_EQ(Execute(*conn, "SET " + k, Args({"v2"})), 1);
  EXPECT_EQ(StringValue(Column(Query(*conn, "GET", Args({k})), 0), 0), "v2");
  Params binary = Args({"SET", k});
  binary.values.emplace_back(Bytes{std::string("\0bin\xff", 5)});
  EXPECT_EQ(Execute(*conn, "", binary), 1);
  EXPECT_EQ(Execute(*conn, "STRLEN " + k), 5);
  // Invalid UTF-8 in a String column is an error; the connection stays usable.
  DbError e = Catch([&] { Query(*conn, "GET " + k); });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  EXPECT_FALSE(conn->IsBroken());
  EXPECT_EQ(Execute(*conn, "DEL " + k + " " + Key("absent")), 1);  // integer reply: its value

  ConnectionConfig binary_config = config_;
  binary_config.options["decode_responses"] = "false";
  auto raw = Connect(binary_config);
  Run(raw->Execute("", binary, nullptr));
  r = Query(*raw, "GET " + k);
  EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kBinary);
  EXPECT_EQ(StringValue(Column(r, 0), 0), std::string("\0bin\xff", 5));
}

void RedisConnectionTest::CheckShapes(Connection& conn, const std::string& prefix, int protocol) {
  const std::string counter = prefix + "counter";
  const std::string list = prefix + "list";
  const std::string hash = prefix + "hash";
  const std::string set = prefix + "set";
  const std::string zset = prefix + "zset";
  std::vector<Statement> setup;
  for (const std::string& k : {counter, list, hash, set, zset}) setup.push_back({"DEL " + k, {}});
  setup.push_back({"RPUSH " + list + " a b c", {}});
  setup.push_back({"HSET " + hash + " f1 v1 f2 v2", {}});
  setup.push_back({"SADD " + set + " x y", {}});
  setup.push_back({"ZADD " + zset + " 1.5 m", {}});
  Run(conn.QueryBatch(std::move(setup), nullptr));

  QueryResult r = Query(conn, "INCR " + counter);
  EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kInt64);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), 1);

  r = Query(conn, "LRANGE " + list + " 0 -1");
  ASSERT_EQ(r.schema.size(), 1u);
  EXPECT_EQ(r.schema[0].name, "value");
  EXPECT_EQ(Strings(Column(r, 0)), (std::vector<std::string>{"a", "b", "c"}));

  r = Query(conn, "HGETALL " + hash);
  ASSERT_EQ(r.schema.size(), 2u);
  EXPECT_EQ(r.schema[0].name, "key");
  EXPECT_EQ(r.schema[1].name, "value");
  EXPECT_EQ(r.num_rows(), 2);
  std::vector<std::string> keys = Strings(Column(r, 0));
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"f1", "f2"}));

  r = Query(conn, "SMEMBERS " + set);
  std::vector<std::string> members = Strings(Column(r, 0));
  std::sort(members.begin(), members.end());
  EXPECT_EQ(members, (std::vector<std::string>{"x", "y"}));

  r = Query(conn, "GET " + prefix + "missing");
  EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kString);
  EXPECT_EQ(r.num_rows(), 1);
  EXPECT_TRUE(IsNull(Column(r, 0), 0));

  r = Query(conn, "ZSCORE " + zset + " m");
  if (protocol == 3) {
    EXPECT_EQ(r.schema[0].type.id, arrow::TypeId::kFloat64);
    EXPECT_DOUBLE_EQ(At<double>(Column(r, 0), 0), 1.5);
  } else {
    EXPECT_EQ(StringValue(Column(r, 0), 0), "1.5");  // RESP2 sends doubles as strings
  }
}

TEST_F(RedisConnectionTest, ReplyShapesResp3) {
  auto conn = Connect();
  CheckShapes(*conn, Key(""), 3);
}

TEST_F(RedisConnectionTest, ReplyShapesResp2) {
  ConnectionConfig config = config_;
  config.options["protocol"] = "2";
  auto conn = Connect(config);
  EXPECT_EQ(AsRedis(*conn).protocol(), 2);
  CheckShapes(*conn, Key(""), 2);
}

TEST_F(RedisConnectionTest, ErrorReplyKeepsTheConnection) {
  auto conn = Connect();
  const std::string k = Key("list");
  Execute(*conn, "DEL " + k);
  Execute(*conn, "RPUSH " + k + " a");
  DbError e = Catch([&] { Query(*conn, "GET " + k); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_EQ(e.message().rfind("GET: WRONGTYPE", 0), 0u) << e.message();
  EXPECT_TRUE(e.sqlstate().empty());
  EXPECT_FALSE(conn->IsBroken());
  e = Catch([&] { Query(*conn, "NOSUCHCOMMAND x"); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_NE(e.message().find("ERR unknown command"), std::string::npos) << e.message();
  EXPECT_EQ(StringValue(Column(Query(*conn, "LINDEX " + k + " 0"), 0), 0), "a");
}

TEST_F(RedisConnectionTest, PipelinedBatch) {
  auto conn = Connect();
  const std::string k = Key("n");
  Execute(*conn, "DEL " + k);
  std::vector<Statement> batch;
  for (int i = 0; i < 1000; ++i) batch.push_back({"INCR " + k, {}});
  std::vector<QueryResult> results = Run(conn->QueryBatch(std::move(batch), nullptr));
  ASSERT_EQ(results.size(), 1000u);
  EXPECT_EQ(At<int64_t>(Column(results[999], 0), 0), 1000);

  // An error reply in the middle: the whole call fails naming the index, every reply is
  // read, so the connection stays in sync.
  const std::string list = Key("list");
  Execute(*conn, "DEL " + list);
  Execute(*conn, "RPUSH " + list + " a");
  std::vector<Statement> bad;
  bad.push_back({"SET " + Key("x") + " 1", {}});
  bad.push_back({"INCR " + list, {}});
  bad.push_back({"INCR " + k, {}});
  DbError e = Catch([&] { Run(conn->QueryBatch(std::move(bad), nullptr)); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_NE(e.message().find("index 1 of 3"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("WRONGTYPE"), std::string::npos) << e.message();
  EXPECT_FALSE(conn->IsBroken());
  EXPECT_EQ(StringValue(Column(Query(*conn, "GET " + k), 0), 0), "1001");  // INCR after ran

  // A statement that cannot be sent fails the batch before anything is written.
  std::vector<Statement> unsendable;
  unsendable.push_back({"INCR " + k, {}});
  unsendable.push_back({"SELECT 2", {}});
  e = Catch([&] { Run(conn->QueryBatch(std::move(unsendable), nullptr)); });
  EXPECT_NE(e.message().find("index 1 of 2"), std::string::npos) << e.message();
  EXPECT_EQ(StringValue(Column(Query(*conn, "GET " + k), 0), 0), "1001");
}

TEST_F(RedisConnectionTest, ConnectionCutMidPipelineFailsTheBatch) {
  auto conn = Connect();
  auto admin = Connect();
  std::vector<Statement> batch;
  batch.push_back({"PING", {}});
  batch.push_back({"BLPOP " + Key("never") + " 0", {}});  // blocks: the pipeline waits here
  for (int i = 0; i < 10; ++i) batch.push_back({"PING", {}});
  auto future = asio::co_spawn(runtime_.executor(), conn->QueryBatch(std::move(batch), nullptr),
                               asio::use_future);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Execute(*admin, "CLIENT KILL ID " + std::to_string(conn->ServerSessionId()));
  DbError e = Catch([&] { future.get(); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection) << e.message();
  EXPECT_TRUE(conn->IsBroken());
  e = Catch([&] { Query(*conn, "PING"); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);

  // QUIT in a pipeline: the server answers it and closes; the commands after it fail.
  auto quitter = Connect();
  std::vector<Statement> with_quit;
  with_quit.push_back({"PING", {}});
  with_quit.push_back({"QUIT", {}});
  with_quit.push_back({"PING", {}});
  e = Catch([&] { Run(quitter->QueryBatch(std::move(with_quit), nullptr)); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection) << e.message();
  EXPECT_TRUE(quitter->IsBroken());
}

TEST_F(RedisConnectionTest, KilledConnectionIsBroken) {
  auto conn = Connect();
  auto admin = Connect();
  Execute(*admin, "CLIENT KILL ID " + std::to_string(conn->ServerSessionId()));
  DbError e = Catch([&] { Query(*conn, "PING"); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
  EXPECT_NE(e.message().find("lost the connection"), std::string::npos) << e.message();
  EXPECT_TRUE(conn->IsBroken());
  e = Catch([&] { Run(conn->Ping()); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
}

TEST_F(RedisConnectionTest, Transactions) {
  auto conn = Connect();
  const std::string a = Key("a");
  const std::string b = Key("b");
  Execute(*conn, "DEL " + a + " " + b);
  Run(conn->Begin());
  EXPECT_TRUE(conn->InTransaction());
  EXPECT_EQ(Execute(*conn, "SET " + a + " 1"), 0);  // QUEUED
  EXPECT_EQ(Execute(*conn, "INCR " + a), 0);
  Run(conn->Commit());
  EXPECT_FALSE(conn->InTransaction());
  EXPECT_EQ(StringValue(Column(Query(*conn, "GET " + a), 0), 0), "2");

  Run(conn->Begin());
  DbError e = Catch([&] { Run(conn->Begin()); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  Execute(*conn, "SET " + b + " 1");
  Run(conn->Rollback());
  EXPECT_FALSE(conn->InTransaction());
  EXPECT_TRUE(IsNull(Column(Query(*conn, "GET " + b), 0), 0));

  // A command failing at EXEC time: Redis applies the others; Commit says which failed.
  Run(conn->Begin());
  Execute(*conn, "SET " + b + " text");
  Execute(*conn, "INCR " + b);
  e = Catch([&] { Run(conn->Commit()); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  EXPECT_NE(e.message().find("1 of 2"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("INCR"), std::string::npos) << e.message();
  EXPECT_FALSE(conn->InTransaction());

  // A command rejected while queueing: EXEC aborts the whole transaction.
  Run(conn->Begin());
  e = Catch([&] { Execute(*conn, "NOSUCHCOMMAND"); });
  EXPECT_EQ(e.kind(), ErrorKind::kQuery);
  e = Catch([&] { Run(conn->Commit()); });
  EXPECT_NE(e.message().find("EXECABORT"), std::string::npos) << e.message();
  EXPECT_FALSE(conn->InTransaction());
  EXPECT_FALSE(conn->IsBroken());

  // MULTI / EXEC sent as commands are tracked too.
  Execute(*conn, "MULTI");
  EXPECT_TRUE(conn->InTransaction());
  Execute(*conn, "DISCARD");
  EXPECT_FALSE(conn->InTransaction());
}

TEST_F(RedisConnectionTest, CancelClosesTheConnection) {
  auto conn = Connect();
  auto token = std::make_shared<CancelToken>();
  auto start = steady_clock::now();
  auto future = asio::co_spawn(runtime_.executor(),
                               conn->Query("BLPOP " + Key("never") + " 0", {}, token),
                               asio::use_future);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  token->Cancel();
  DbError e = Catch([&] { future.get(); });
  EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.message();
  EXPECT_LT(SecondsSince(start), 5.0);
  EXPECT_TRUE(conn->IsBroken());

  // Cancelled before it was sent: nothing happens to the connection.
  auto fresh = Connect();
  auto fired = std::make_shared<CancelToken>();
  fired->Cancel();
  e = Catch([&] { Query(*fresh, "PING", {}, fired); });
  EXPECT_EQ(e.kind(), ErrorKind::kCancelled);
  EXPECT_FALSE(fresh->IsBroken());
  Run(fresh->Ping());
}

TEST_F(RedisConnectionTest, AuthenticationFailure) {
  auto admin = Connect();
  const std::string user = "dbpool_cpp_test_user";
  Execute(*admin, "ACL SETUSER " + user + " reset on >right-password ~* +@all");
  ConnectionConfig config = config_;
  config.username = user;
  config.password = "wrong-password";
  DbError e = Catch([&] { Connect(config); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
  EXPECT_NE(e.message().find("authentication failed"), std::string::npos) << e.message();
  EXPECT_EQ(e.message().find("wrong-password"), std::string::npos) << e.message();

  config.password = "right-password";
  auto conn = Connect(config);
  EXPECT_EQ(StringValue(Column(Query(*conn, "ACL WHOAMI"), 0), 0), user);
  // The same over RESP2 (AUTH user pass instead of HELLO ... AUTH).
  config.options["protocol"] = "2";
  auto conn2 = Connect(config);
  EXPECT_EQ(StringValue(Column(Query(*conn2, "ACL WHOAMI"), 0), 0), user);
  config.password = "wrong-password";
  e = Catch([&] { Connect(config); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
  EXPECT_NE(e.message().find("authentication failed"), std::string::npos) << e.message();
  Execute(*admin, "ACL DELUSER " + user);
}

TEST_F(RedisConnectionTest, ConnectFailures) {
  // Refused: a port nobody listens on.
  uint16_t closed_port;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed_port = acceptor.local_endpoint().port();
  }
  ConnectionConfig config = config_;
  config.host = "127.0.0.1";
  config.port = closed_port;
  config.connect_timeout = 5;
  auto start = steady_clock::now();
  DbError e = Catch([&] { Connect(config); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
  EXPECT_NE(e.message().find("127.0.0.1:" + std::to_string(closed_port)), std::string::npos)
      << e.message();
  EXPECT_LT(SecondsSince(start), 2.0);

  // Silent: the kernel accepts the connection, nobody ever answers HELLO.
  asio::io_context io;
  asio::ip::tcp::acceptor silent(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  config.port = silent.local_endpoint().port();
  config.connect_timeout = 0.3;
  start = steady_clock::now();
  e = Catch([&] { Connect(config); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
  EXPECT_NE(e.message().find("timeout expired after 0.3 s"), std::string::npos) << e.message();
  EXPECT_LT(SecondsSince(start), 2.0);

  // A name that does not resolve.
  config.host = "no-such-host.invalid";
  config.connect_timeout = 5;
  e = Catch([&] { Connect(config); });
  EXPECT_EQ(e.kind(), ErrorKind::kConnection);
  EXPECT_NE(e.message().find("no-such-host.invalid"), std::string::npos) << e.message();
}

TEST_F(RedisConnectionTest, DatabaseNumberFromThePath) {
  const std::string k = Key("k");
  ConnectionConfig db5 = config_;
  db5.database = "5";
  auto conn5 = Connect(db5);
  Execute(*conn5, "SET " + k + " five");
  ConnectionConfig db6 = config_;
  db6.database = "6";
  auto conn6 = Connect(db6);
  EXPECT_TRUE(IsNull(Column(Query(*conn6, "GET " + k), 0), 0));
  EXPECT_EQ(StringValue(Column(Query(*conn5, "GET " + k), 0), 0), "five");
  Execute(*conn5, "DEL " + k);

  ConnectionConfig bad = config_;
  bad.database = "9999";
  DbError e = Catch([&] { Connect(bad); });
  EXPECT_EQ(e.kind(), ErrorKind::kConfig) << e.message();
  EXPECT_NE(e.message().find("SELECT 9999"), std::string::npos) << e.message();
}

}  // namespace
}  // namespace dbpool::redis::testing
