// MySQL -> Arrow type round trips against a real server (TYPES.md): for each type NULL,
// minimum, maximum and an ordinary value, through the binary protocol (prepared
// statements); zero dates; long values; large and streamed results.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "mysql_test_util.hpp"

namespace dbpool::mysql::testing {
namespace {

using arrow::DataType;
using arrow::TimeUnit;
using arrow::TypeId;

class MysqlQueryTest : public MysqlTest {
 protected:
  void SetUp() override {
    MysqlTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    conn_ = Connect();
  }

  /// Stores `literals` and a NULL in a column of `sql_type`, reads them back in order.
  /// The NULL is the last row.
  QueryResult RoundTrip(const std::string& sql_type, const std::vector<std::string>& literals) {
    Execute(*conn_, "DROP TEMPORARY TABLE IF EXISTS rt");
    Execute(*conn_, "CREATE TEMPORARY TABLE rt (id INT PRIMARY KEY, v " + sql_type + ")");
    std::string values;
    for (size_t i = 0; i < literals.size(); ++i) {
      values += "(" + std::to_string(i) + ", " + literals[i] + "), ";
    }
    values += "(" + std::to_string(literals.size()) + ", NULL)";
    Execute(*conn_, "INSERT INTO rt VALUES " + values);
    QueryResult r = Query(*conn_, "SELECT v FROM rt ORDER BY id");
    EXPECT_EQ(r.num_rows(), static_cast<int64_t>(literals.size() + 1)) << sql_type;
    if (r.num_rows() > 0) {
      EXPECT_TRUE(IsNull(Column(r, 0), r.num_rows() - 1)) << sql_type << ": NULL lost";
    }
    return r;
  }

  template <typename T>
  void ExpectValues(const std::string& sql_type, const std::vector<std::string>& literals,
                    TypeId type, const std::vector<T>& expected) {
    QueryResult r = RoundTrip(sql_type, literals);
    ASSERT_EQ(r.schema.size(), 1u);
    EXPECT_EQ(r.schema[0].type.id, type) << sql_type;
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_FALSE(IsNull(Column(r, 0), i)) << sql_type << " row " << i;
      EXPECT_EQ(At<T>(Column(r, 0), i), expected[i]) << sql_type << " row " << i;
    }
  }

  void ExpectStrings(const std::string& sql_type, const std::vector<std::string>& literals,
                     TypeId type, const std::vector<std::string>& expected,
                     const std::string& db_type = "") {
    QueryResult r = RoundTrip(sql_type, literals);
    ASSERT_EQ(r.schema.size(), 1u);
    EXPECT_EQ(r.schema[0].type.id, type) << sql_type;
    EXPECT_EQ(Metadata(r.schema[0], kDbTypeKey), db_type) << sql_type;
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(StringValue(Column(r, 0), i), expected[i]) << sql_type << " row " << i;
    }
  }

  std::unique_ptr<Connection> conn_;
};

TEST_F(MysqlQueryTest, SignedAndUnsignedIntegersAtExactWidths) {
  ExpectValues<int8_t>("TINYINT", {"-128", "127", "5"}, TypeId::kInt8, {-128, 127, 5});
  ExpectValues<uint8_t>("TINYINT UNSIGNED", {"0", "255", "7"}, TypeId::kUInt8, {0, 255, 7});
  ExpectValues<int16_t>("SMALLINT", {"-32768", "32767", "12"}, TypeId::kInt16, {-32768, 32767, 12});
  ExpectValues<uint16_t>("SMALLINT UNSIGNED", {"0", "65535", "9"}, TypeId::kUInt16, {0, 65535, 9});
  ExpectValues<int32_t>("MEDIUMINT", {"-8388608", "8388607", "-3"}, TypeId::kInt32,
                        {-8388608, 8388607, -3});
  ExpectValues<uint32_t>("MEDIUMINT UNSIGNED", {"0", "16777215", "3"}, TypeId::kUInt32,
                         {0, 16777215, 3});
  ExpectValues<int32_t>("INT", {"-2147483648", "2147483647", "42"}, TypeId::kInt32,
                        {std::numeric_limits<int32_t>::min(), 2147483647, 42});
  ExpectValues<uint32_t>("INT UNSIGNED", {"0", "4294967295", "1"}, TypeId::kUInt32,
                         {0, 4294967295u, 1});
  ExpectValues<int64_t>("BIGINT", {"-9223372036854775808", "9223372036854775807", "77"},
                        TypeId::kInt64,
                        {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), 77});
  ExpectValues<uint64_t>("BIGINT UNSIGNED", {"0", "18446744073709551615", "8"}, TypeId::kUInt64,
                         {0, std::numeric_limits<uint64_t>::max(), 8});
  // YEAR is a small integer (BOOLEAN is TINYINT(1): Int8, as stored).
  ExpectValues<int16_t>("YEAR", {"1901", "2155", "2024", "0"}, TypeId::kInt16, {1901, 2155, 2024, 0});
  ExpectValues<int8_t>("BOOLEAN", {"TRUE", "FALSE"}, TypeId::kInt8, {1, 0});
}

TEST_F(MysqlQueryTest, FloatingPoint) {
  ExpectValues<float>("FLOAT", {"-3.40282e38", "3.40282e38", "1.5", "0"}, TypeId::kFloat32,
                      {-3.40282e38f, 3.40282e38f, 1.5f, 0.0f});
  ExpectValues<double>("DOUBLE",
                       {"-1.7976931348623157e308", "1.7976931348623157e308", "2.25", "-0.0001"},
                       TypeId::kFloat64,
                       {-1.7976931348623157e308, 1.7976931348623157e308, 2.25, -0.0001});
}

TEST_F(MysqlQueryTest, DecimalsAreExact) {
  QueryResult r = RoundTrip("DECIMAL(10,2)", {"-99999999.99", "99999999.99", "1234.5", "0"});
  EXPECT_EQ(r.schema[0].type, DataType::Decimal(10, 2));
  EXPECT_EQ(Int128ToString(At<__int128>(Column(r, 0), 0)), "-9999999999");
  EXPECT_EQ(Int128ToString(At<__int128>(Column(r, 0), 1)), "9999999999");
  EXPECT_EQ(Int128ToString(At<__int128>(Column(r, 0), 2)), "123450");
  EXPECT_EQ(Int128ToString(At<__int128>(Column(r, 0), 3)), "0");

  r = RoundTrip("DECIMAL(38,10)", {"-9999999999999999999999999999.9999999999",
                                   "9999999999999999999999999999.9999999999", "0.0000000001"});
  EXPECT_EQ(r.schema[0].type, DataType::Decimal(38, 10));
  EXPECT_EQ(Int128ToString(At<__int128>(Column(r, 0), 0)), "-99999999999999999999999999999999999999");
  EXPECT_EQ(Int128ToString(At<__int128>(Column(r, 0), 1)), "99999999999999999999999999999999999999");
  EXPECT_EQ(Int128ToString(At<__int128>(Column(r, 0), 2)), "1");

  r = RoundTrip("DECIMAL(12,0) UNSIGNED", {"0", "999999999999"});
  EXPECT_EQ(r.schema[0].type, DataType::Decimal(12, 0));
  EXPECT_EQ(Int128ToString(At<__int128>(Column(r, 0), 1)), "999999999999");

  // More than 38 digits: the exact text, never a float.
  ExpectStrings("DECIMAL(65,30)", {"-12345678901234567890123456789012345.123456789012345678901234567890", "1.5"},
                TypeId::kString,
                {"-12345678901234567890123456789012345.123456789012345678901234567890",
                 "1.500000000000000000000000000000"},
                "decimal(65,30)");
}

TEST_F(MysqlQueryTest, DatesTimesAndTimestamps) {
  ExpectValues<int32_t>("DATE", {"'1000-01-01'", "'9999-12-31'", "'2024-02-29'", "'1970-01-01'"},
                        TypeId::kDate32, {-354285, 2932896, 19782, 0});
  QueryResult r = RoundTrip("DATETIME(6)", {"'1000-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'",
                                            "'2024-05-06 07:08:09.123456'"});
  EXPECT_EQ(r.schema[0].type, DataType::Timestamp(TimeUnit::kMicro, ""));
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), -354285LL * 86400 * 1000000);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 1), 253402300799999999LL);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 2), 1714979289123456LL);
  r = RoundTrip("DATETIME", {"'2024-05-06 07:08:09'"});
  EXPECT_EQ(r.schema[0].type, DataType::Timestamp(TimeUnit::kMicro, ""));
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), 1714979289000000LL);

  // TIMESTAMP is an instant: stored in UTC, read in the session time zone, which the
  // driver sets to +00:00; the literals below are read in that zone too.
  r = RoundTrip("TIMESTAMP(6) NULL", {"'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999999'",
                                      "'2024-05-06 07:08:09.5'"});
  EXPECT_EQ(r.schema[0].type, DataType::Timestamp(TimeUnit::kMicro, "UTC"));
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), 1000000LL);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 1), 2147483647999999LL);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 2), 1714979289500000LL);
  // Whatever zone the session is switched to later, the instant is the same... but the
  // driver's reading of it follows the session: document, and check UTC_TIMESTAMP agrees.
  QueryResult now = Query(*conn_, "SELECT CAST(UTC_TIMESTAMP() AS DATETIME) = NOW() AS same");
  EXPECT_EQ(IntValue(now, 0), 1);

  r = RoundTrip("TIME(6)", {"'-838:59:59'", "'838:59:59'", "'12:34:56.5'", "'00:00:00'"});
  EXPECT_EQ(r.schema[0].type, DataType::Duration(TimeUnit::kMicro));
  EXPECT_EQ(At<int64_t>(Column(r, 0), 0), -3020399000000LL);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 1), 3020399000000LL);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 2), 45296500000LL);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 3), 0);
}

TEST_F(MysqlQueryTest, ZeroDatesAreAnErrorNamingTheColumnOrNullOnRequest) {
  Execute(*conn_, "SET SESSION sql_mode = ''");  // let the table hold zero dates
  Execute(*conn_, "CREATE TEMPORARY TABLE zd (id INT, d DATE, dt DATETIME)");
  Execute(*conn_, "INSERT INTO zd VALUES (1, '2024-01-02', '2024-01-02 03:04:05'), "
                  "(2, '0000-00-00', '0000-00-00 00:00:00'), (3, '2024-00-15', NULL)");
  DbError e = Catch([&] { Query(*conn_, "SELECT id, d AS when_col FROM zd ORDER BY id"); });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  EXPECT_NE(e.message().find("'when_col'"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("row 2"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("zero_date=null"), std::string::npos) << e.message();
  // The connection is in sync after the failed read.
  EXPECT_EQ(IntValue(Query(*conn_, "SELECT 5"), 0), 5);

  ConnectionConfig config = config_;
  config.options["zero_date"] = "null";
  auto lenient = Connect(config);
  Run(lenient->Execute("SET SESSION sql_mode = ''", {}, nullptr));
  Run(lenient->Execute("CREATE TEMPORARY TABLE zd (id INT, d DATE, dt DATETIME)", {}, nullptr));
  Run(lenient->Execute("INSERT INTO zd VALUES (1, '2024-01-02', '2024-01-02 03:04:05'), "
                       "(2, '0000-00-00', '0000-00-00 00:00:00'), (3, '2024-00-15', NULL)",
                       {}, nullptr));
  QueryResult r = Query(*lenient, "SELECT d, dt FROM zd ORDER BY id");
  EXPECT_EQ(At<int32_t>(Column(r, 0), 0), 19724);
  EXPECT_TRUE(IsNull(Column(r, 0), 1));
  EXPECT_TRUE(IsNull(Column(r, 0), 2));
  EXPECT_EQ(At<int64_t>(Column(r, 1), 0), 1704164645000000LL);
  EXPECT_TRUE(IsNull(Column(r, 1), 1));
}

TEST_F(MysqlQueryTest, TextAndBinaryStrings) {
  ExpectStrings("VARCHAR(255)", {"''", "'héllo wörld ✓'", "'😀 four bytes'", "'plain'"},
                TypeId::kString, {"", "héllo wörld ✓", "😀 four bytes", "plain"});
  ExpectStrings("CHAR(10)", {"'ab'", "''"}, TypeId::kString, {"ab", ""});  // MySQL strips CHAR padding
  ExpectStrings("TEXT", {"'some text'"}, TypeId::kString, {"some text"});
  ExpectStrings("MEDIUMTEXT", {"'m'"}, TypeId::kString, {"m"});
  ExpectStrings("VARCHAR(20) CHARACTER SET latin1", {"'café'"}, TypeId::kString, {"café"});
  ExpectStrings("BINARY(4)", {"'ab'", "x'00ff1000'"}, TypeId::kBinary,
                {std::string("ab\0\0", 4), std::string("\0\xff\x10\0", 4)});
  ExpectStrings("VARBINARY(16)", {"''", "x'00ff10'"}, TypeId::kBinary,
                {"", std::string("\0\xff\x10", 3)});
  ExpectStrings("BLOB", {"x'DEADBEEF'"}, TypeId::kBinary, {"\xde\xad\xbe\xef"});
  ExpectStrings("JSON", {"'{\"a\": [1, 2]}'", "'[]'"}, TypeId::kString, {"{\"a\": [1, 2]}", "[]"},
                "json");
  ExpectStrings("ENUM('sad','happy')", {"'happy'", "'sad'"}, TypeId::kString, {"happy", "sad"},
                "enum");
  ExpectStrings("SET('a','b','c')", {"'a,c'", "''"}, TypeId::kString, {"a,c", ""}, "set");
  ExpectStrings("UUID", {"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"}, TypeId::kString,
                {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}, "uuid");
  ExpectStrings("INET6", {"'::1'", "'2001:db8::ff00:42:8329'"}, TypeId::kString,
                {"::1", "2001:db8::ff00:42:8329"}, "inet6");
}

TEST_F(MysqlQueryTest, LongValuesAreReadWhole) {
  // Longer than any bound buffer: copied straight into the Arrow buffers.
  QueryResult r = Query(*conn_, "SELECT REPEAT('é', 100000) AS t, REPEAT(_binary x'00ff', 150000) AS b, "
                                "REPEAT('x', 70000) AS x");
  ASSERT_EQ(r.num_rows(), 1);
  std::string t = StringValue(Column(r, 0), 0);
  EXPECT_EQ(t.size(), 200000u);
  EXPECT_EQ(t.substr(0, 4), "éé");
  EXPECT_EQ(StringValue(Column(r, 1), 0).size(), 300000u);
  EXPECT_EQ(StringValue(Column(r, 2), 0), std::string(70000, 'x'));

  // Values that grow row by row (the bound buffer grows with them).
  Execute(*conn_, "CREATE TEMPORARY TABLE grow (id INT, s LONGTEXT)");
  Execute(*conn_, "INSERT INTO grow SELECT seq, REPEAT('ab', seq * 200) FROM seq_1_to_200");
  r = Query(*conn_, "SELECT s FROM grow ORDER BY id");
  ASSERT_EQ(r.num_rows(), 200);
  for (int i = 0; i < 200; ++i) {
    std::string v = StringValue(Column(r, 0), i);
    ASSERT_EQ(v.size(), static_cast<size_t>((i + 1) * 400)) << i;
    ASSERT_EQ(v.substr(v.size() - 2), "ab") << i;
  }
}

TEST_F(MysqlQueryTest, BitsNullAndGeometry) {
  QueryResult r = RoundTrip("BIT(1)", {"b'0'", "b'1'"});
  EXPECT_EQ(r.schema[0].type.id, TypeId::kBoolean);
  EXPECT_FALSE(BoolValue(Column(r, 0), 0));
  EXPECT_TRUE(BoolValue(Column(r, 0), 1));
  ExpectValues<uint64_t>("BIT(12)", {"b'0'", "b'111111111111'", "b'101'"}, TypeId::kUInt64,
                         {0, 4095, 5});
  ExpectValues<uint64_t>("BIT(64)", {"b'0'", "0xFFFFFFFFFFFFFFFF", "258"}, TypeId::kUInt64,
                         {0, std::numeric_limits<uint64_t>::max(), 258});

  r = Query(*conn_, "SELECT NULL AS n, ST_GeomFromText('POINT(1 2)') AS g");
  EXPECT_EQ(r.schema[0].type.id, TypeId::kNull);
  EXPECT_TRUE(IsNull(Column(r, 0), 0));
  EXPECT_EQ(r.schema[1].type.id, TypeId::kBinary);
  EXPECT_FALSE(Metadata(r.schema[1], kDbTypeKey).empty());
  EXPECT_EQ(StringValue(Column(r, 1), 0).size(), 25u);  // SRID (4) + WKB point (21)
}

TEST_F(MysqlQueryTest, EmptyResultKeepsTheSchema) {
  Execute(*conn_, "CREATE TEMPORARY TABLE empty_t (a BIGINT UNSIGNED, b VARCHAR(3))");
  QueryResult r = Query(*conn_, "SELECT a, b FROM empty_t");
  EXPECT_TRUE(r.has_rows());
  EXPECT_EQ(r.num_rows(), 0);
  ASSERT_EQ(r.schema.size(), 2u);
  EXPECT_EQ(r.schema[0].type.id, TypeId::kUInt64);
  EXPECT_EQ(r.schema[1].type.id, TypeId::kString);
}

TEST_F(MysqlQueryTest, LargeResultSpansSeveralBatches) {
  QueryResult r = Query(*conn_, "SELECT seq AS i, CAST(seq AS CHAR) AS s FROM seq_1_to_200000");
  EXPECT_EQ(r.num_rows(), 200000);
  EXPECT_GE(r.batches.size(), 4u);
  int64_t sum = 0;
  for (size_t b = 0; b < r.batches.size(); ++b) {
    const ArrowArray& col = Column(r, 0, static_cast<int>(b));
    for (int64_t i = 0; i < col.length; ++i) sum += At<int64_t>(col, i);
  }
  EXPECT_EQ(sum, 200000LL * 200001 / 2);
  const ArrowArray& last = Column(r, 1, static_cast<int>(r.batches.size() - 1));
  EXPECT_EQ(StringValue(last, last.length - 1), "200000");
}

class CollectingSink final : public BatchSink {
 public:
  explicit CollectingSink(int stop_after) : stop_after_(stop_after) {}
  asio::awaitable<void> OnSchema(arrow::Schema schema) override {
    schema_ = std::move(schema);
    ++schemas_;
    co_return;
  }
  asio::awaitable<bool> OnBatch(RecordBatch batch) override {
    rows_.push_back(batch.num_rows());
    co_return static_cast<int>(rows_.size()) < stop_after_;
  }
  arrow::Schema schema_;
  int schemas_ = 0;
  std::vector<int64_t> rows_;

 private:
  int stop_after_;
};

TEST_F(MysqlQueryTest, StreamedResultsComeInBatchesAndCanStopEarly) {
  CollectingSink all(1000);
  Run(conn_->QueryStream("SELECT seq FROM seq_1_to_2500", {}, nullptr, all, 1000));
  EXPECT_EQ(all.schemas_, 1);
  ASSERT_EQ(all.schema_.size(), 1u);
  EXPECT_EQ(all.rows_, (std::vector<int64_t>{1000, 1000, 500}));

  CollectingSink first(1);
  Run(conn_->QueryStream("SELECT seq FROM seq_1_to_100000", {}, nullptr, first, 1000));
  EXPECT_EQ(first.rows_, (std::vector<int64_t>{1000}));
  EXPECT_EQ(IntValue(Query(*conn_, "SELECT 3"), 0), 3);  // the rest was read past

  CollectingSink none(10);
  Run(conn_->QueryStream("DO 1", {}, nullptr, none, 1000));
  EXPECT_EQ(none.schemas_, 1);
  EXPECT_TRUE(none.schema_.empty());
}

}  // namespace
}  // namespace dbpool::mysql::testing
