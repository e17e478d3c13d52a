// InfluxConnection / InfluxDriver against the throwaway InfluxDB 1.x: ping, DDL through
// Execute, bulk insert (line protocol) read back with types, GROUP BY into one frame,
// bound parameters, streaming, errors and cancellation.
#include <chrono>
#include <future>
#include <thread>

#include "arrow/builder.hpp"
#include "influxdb_test_util.hpp"

namespace dbpool::influxdb::testing {
namespace {

using arrow::DataType;
using arrow::TimeUnit;
using arrow::TypeId;

class InfluxConnectionTest : public InfluxTest {
 protected:
  /// A database unique to the test, created now and dropped at the end.
  std::string Database(Connection& conn) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("cpp_") + info->name();
    Execute(conn, "DROP DATABASE \"" + name + "\"");
    EXPECT_EQ(Execute(conn, "CREATE DATABASE \"" + name + "\""), 0);
    dropped_.push_back(name);
    return name;
  }
  void TearDown() override {
    if (dropped_.empty()) return;
    auto conn = Connect();
    for (const auto& name : dropped_) Execute(*conn, "DROP DATABASE \"" + name + "\"");
  }
  std::unique_ptr<Connection> ConnectTo(const std::string& database) {
    ConnectionConfig config = config_;
    config.database = database;
    return Connect(config);
  }
  /// Writes rows (host tag, n int, x float, s string, b bool, time ns) through BulkInsert,
  /// from an Arrow stream exported by our own builders (so the import reads "U" strings).
  int64_t Write(Connection& conn, const std::string& measurement,
                const std::vector<std::tuple<std::string, int64_t, double, std::string, bool, int64_t>>& rows) {
    arrow::Schema schema = {
        {"host", DataType::Of(TypeId::kString), true, {}},
        {"n", DataType::Of(TypeId::kInt64), true, {}},
        {"x", DataType::Of(TypeId::kFloat64), true, {}},
        {"s", DataType::Of(TypeId::kString), true, {}},
        {"b", DataType::Of(TypeId::kBoolean), true, {}},
        {"time", DataType::Timestamp(TimeUnit::kNano, "UTC"), true, {}},
    };
    arrow::RecordBatchBuilder builder(schema);
    for (const auto& [host, n, x, s, b, t] : rows) {
      builder.column_as<arrow::VarBinaryBuilder>(0).Append(host);
      builder.column_as<arrow::Int64Builder>(1).Append(n);
      builder.column_as<arrow::Float64Builder>(2).Append(x);
      builder.column_as<arrow::VarBinaryBuilder>(3).Append(s);
      builder.column_as<arrow::BooleanBuilder>(4).Append(b);
      builder.column_as<arrow::TemporalBuilder>(5).Append(t);
      builder.EndRow();
    }
    QueryResult result;
    result.schema = schema;
    result.batches.push_back(builder.Finish());
    ArrowArrayStream stream;
    ExportStream(std::move(result), &stream);
    auto table = arrow::ImportedTable::FromStream(&stream);
    BulkInsertOptions options;
    options.tag_columns = {"host"};
    options.batch_rows = 2;
    return Run(conn.BulkInsert(measurement, table, options, nullptr));
  }

  std::vector<std::string> dropped_;
};

class CollectSink : public BatchSink {
 public:
  asio::awaitable<void> OnSchema(arrow::Schema s) override {
    schema = std::move(s);
    ++schemas;
    co_return;
  }
  asio::awaitable<bool> OnBatch(RecordBatch batch) override {
    rows.push_back(batch.num_rows());
    batches.push_back(std::move(batch));
    co_return static_cast<int64_t>(batches.size()) < stop_after;
  }
  arrow::Schema schema;
  int schemas = 0;
  std::vector<int64_t> rows;
  std::vector<RecordBatch> batches;
  int64_t stop_after = 1 << 30;
};

TEST_F(InfluxConnectionTest, PingAndNoTransactions) {
  auto conn = Connect();
  Run(conn->Ping());
  EXPECT_FALSE(conn->IsBroken());
  EXPECT_FALSE(conn->InTransaction());
  EXPECT_EQ(Catch([&] { Run(conn->Begin()); }).kind(), ErrorKind::kQuery);
}

TEST_F(InfluxConnectionTest, WriteAndQueryTypes) {
  auto admin = Connect();
  auto conn = ConnectTo(Database(*admin));
  EXPECT_EQ(Write(*conn, "m", {{"a", 3, 1.5, "x y", true, 1000},
                               {"b", INT64_MIN + 1, -0.0, "", false, 2000},
                               {"a", INT64_MAX, 3.0, "\"q\\", true, 3000}}),
            3);
  QueryResult r = Query(*conn, "SELECT * FROM m");
  ASSERT_EQ(r.schema.size(), 6u);
  EXPECT_EQ(r.schema[0].name, "time");
  EXPECT_EQ(r.schema[0].type, DataType::Timestamp(TimeUnit::kNano, "UTC"));
  // SELECT * lists the columns in name order: b, host, n, s, x.
  EXPECT_EQ(r.schema[1].name, "b");
  EXPECT_EQ(r.schema[1].type.id, TypeId::kBoolean);
  EXPECT_EQ(r.schema[2].name, "host");
  EXPECT_EQ(r.schema[2].type.id, TypeId::kString);
  EXPECT_EQ(r.schema[3].type.id, TypeId::kInt64);
  EXPECT_EQ(r.schema[4].type.id, TypeId::kString);
  EXPECT_EQ(r.schema[5].name, "x");
  EXPECT_EQ(r.schema[5].type.id, TypeId::kFloat64);  // 3.0 stays a float (MessagePack)
  ASSERT_EQ(r.num_rows(), 3);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 2), 3000);
  EXPECT_EQ(At<int64_t>(Column(r, 3), 1), INT64_MIN + 1);
  EXPECT_EQ(At<int64_t>(Column(r, 3), 2), INT64_MAX);
  EXPECT_EQ(At<double>(Column(r, 5), 2), 3.0);
  EXPECT_EQ(StringValue(Column(r, 4), 0), "x y");
  EXPECT_EQ(StringValue(Column(r, 4), 2), "\"q\\");
  EXPECT_TRUE(BoolValue(Column(r, 1), 0));
  EXPECT_FALSE(BoolValue(Column(r, 1), 1));
}

TEST_F(InfluxConnectionTest, GroupByTagsIntoOneFrame) {
  auto admin = Connect();
  auto conn = ConnectTo(Database(*admin));
  Write(*conn, "m", {{"a", 1, 1, "s", true, 1000}, {"b", 2, 2, "s", true, 2000}, {"a", 3, 3, "s", true, 3000}});
  QueryResult r = Query(*conn, "SELECT n FROM m GROUP BY host");
  ASSERT_EQ(r.schema.size(), 3u);
  EXPECT_EQ(r.schema[0].name, "time");
  EXPECT_EQ(r.schema[1].name, "host");
  EXPECT_EQ(r.schema[2].name, "n");
  EXPECT_EQ(Strings(Column(r, 1)), (std::vector<std::string>{"a", "a", "b"}));
  EXPECT_EQ(At<int64_t>(Column(r, 2), 2), 2);
}

TEST_F(InfluxConnectionTest, BoundParameters) {
  auto admin = Connect();
  auto conn = ConnectTo(Database(*admin));
  Write(*conn, "m", {{"a", 1, 1.5, "s", true, 1000}, {"b", 2, 2.5, "s", true, 2000}});
  QueryResult r = Query(*conn, "SELECT n FROM m WHERE host = $h AND x > $x",
                        Named({{"h", std::string("b")}, {"x", 2.0}}));
  ASSERT_EQ(r.num_rows(), 1);
  EXPECT_EQ(At<int64_t>(Column(r, 1), 0), 2);
  Params positional;
  positional.values.emplace_back(std::string("a' OR host = 'b"));  // a value, never SQL
  r = Query(*conn, "SELECT n FROM m WHERE host = $1", positional);
  EXPECT_EQ(r.num_rows(), 0);
  Params null_param;
  null_param.values.emplace_back(std::monostate{});
  EXPECT_EQ(Catch([&] { Query(*conn, "SELECT n FROM m WHERE host = $1", null_param); }).kind(),
            ErrorKind::kDataConversion);
}

TEST_F(InfluxConnectionTest, StreamsChunks) {
  auto admin = Connect();
  auto conn = ConnectTo(Database(*admin));
  Write(*conn, "m", {{"a", 1, 1, "s", true, 1000}, {"a", 2, 2, "s", true, 2000},
                     {"a", 3, 3, "s", true, 3000}, {"a", 4, 4, "s", true, 4000},
                     {"a", 5, 5, "s", true, 5000}});
  CollectSink sink;
  Run(conn->QueryStream("SELECT n FROM m", {}, nullptr, sink, 2));
  EXPECT_EQ(sink.schemas, 1);
  EXPECT_EQ(sink.rows, (std::vector<int64_t>{2, 2, 1}));
  // Stopping early leaves the connection usable.
  CollectSink first;
  first.stop_after = 1;
  Run(conn->QueryStream("SELECT n FROM m", {}, nullptr, first, 1));
  EXPECT_EQ(first.rows.size(), 1u);
  EXPECT_EQ(Query(*conn, "SELECT n FROM m").num_rows(), 5);
}

TEST_F(InfluxConnectionTest, Errors) {
  auto conn = Connect();
  DbError syntax = Catch([&] { Query(*conn, "SELEC * FROM m"); });
  EXPECT_EQ(syntax.kind(), ErrorKind::kQuery);
  EXPECT_NE(std::string(syntax.what()).find("error parsing query"), std::string::npos) << syntax.what();
  auto missing = ConnectTo("no_such_db_cpp");
  DbError unknown = Catch([&] { Query(*missing, "SELECT * FROM m"); });
  EXPECT_EQ(unknown.kind(), ErrorKind::kQuery);
  EXPECT_NE(std::string(unknown.what()).find("database not found"), std::string::npos) << unknown.what();
  EXPECT_NE(std::string(unknown.what()).find("no_such_db_cpp"), std::string::npos);
  Run(conn->Ping());  // still usable

  ConnectionConfig refused = config_;
  refused.port = 1;
  refused.password = "sekret-pw";
  refused.username = "u";
  DbError down = Catch([&] { Connect(refused); });
  EXPECT_EQ(down.kind(), ErrorKind::kConnection);
  EXPECT_EQ(std::string(down.what()).find("sekret-pw"), std::string::npos);
}

TEST_F(InfluxConnectionTest, CancelAbortsTheTransfer) {
  // A listener that accepts and never answers: the request hangs until cancelled.
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  ConnectionConfig silent = config_;
  silent.port = acceptor.local_endpoint().port();
  auto conn = std::make_unique<InfluxConnection>(runtime_, InfluxOptions::From(silent));
  auto token = std::make_shared<CancelToken>();
  auto start = std::chrono::steady_clock::now();
  auto future = asio::co_spawn(runtime_.executor(), conn->Query("SELECT * FROM m", {}, token),
                               asio::use_future);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  token->Cancel();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  try {
    future.get();
    ADD_FAILURE() << "expected kCancelled";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCancelled);
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.5);
  EXPECT_FALSE(conn->IsBroken());
}

}  // namespace
}  // namespace dbpool::influxdb::testing
