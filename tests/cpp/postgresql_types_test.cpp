// Type round trips against a real server (TYPES.md): NULL, minimum, maximum and an ordinary
// value per mapping, checked in the exported Arrow buffers. Every query runs through both
// result paths (whole PGresult and binary COPY) and must give identical results or errors.
#include <array>
#include <optional>
#include <vector>

#include "arrow/interval.hpp"
#include "postgresql_test_util.hpp"

namespace dbpool::pg::testing {
namespace {

using arrow::TimeUnit;
using arrow::TypeId;
using Lit = std::optional<std::string>;

class PgTypesTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped()) return;
    conn_ = Connect();
  }
  void TearDown() override { conn_.reset(); }

  // SELECT each literal cast to `type`, in order; the cast in the select list keeps the
  // type modifier (numeric(38,10), bpchar(5)) in the row description.
  QueryResult Literals(const std::string& type, const std::vector<Lit>& values) {
    std::string sql = "SELECT v::" + type + " AS v FROM (VALUES ";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) sql += ", ";
      sql += "(" + std::to_string(i) + ", ";
      if (values[i]) {
        std::string quoted;
        for (char c : *values[i]) quoted += c == '\'' ? std::string("''") : std::string(1, c);
        sql += "'" + quoted + "'::text)";
      } else {
        sql += "NULL::text)";
      }
    }
    sql += ") t(i, v) ORDER BY i";
    QueryResult result = QueryBoth(*conn_, sql);
    EXPECT_EQ(result.num_rows(), static_cast<int64_t>(values.size()));
    return result;
  }

  std::unique_ptr<Connection> conn_;
};

TEST_F(PgTypesTest, Boolean) {
  QueryResult r = Literals("bool", {std::nullopt, "false", "true"});
  EXPECT_EQ(r.schema[0].type.id, TypeId::kBoolean);
  EXPECT_TRUE(r.schema[0].nullable);
  const ArrowArray& a = Column(r, 0);
  EXPECT_TRUE(IsNull(a, 0));
  EXPECT_FALSE(BoolValue(a, 1));
  EXPECT_TRUE(BoolValue(a, 2));
  EXPECT_EQ(a.null_count, 1);
}

TEST_F(PgTypesTest, Integers) {
  QueryResult r = Literals("int2", {std::nullopt, "-32768", "32767", "42"});
  EXPECT_EQ(r.schema[0].type.id, TypeId::kInt16);
  EXPECT_TRUE(IsNull(Column(r, 0), 0));
  EXPECT_EQ(At<int16_t>(Column(r, 0), 1), -32768);
  EXPECT_EQ(At<int16_t>(Column(r, 0), 2), 32767);
  EXPECT_EQ(At<int16_t>(Column(r, 0), 3), 42);

  r = Literals("int4", {std::nullopt, "-2147483648", "2147483647", "-7"});
  EXPECT_EQ(r.schema[0].type.id, TypeId::kInt32);
  EXPECT_TRUE(IsNull(Column(r, 0), 0));
  EXPECT_EQ(At<int32_t>(Column(r, 0), 1), INT32_MIN);
  EXPECT_EQ(At<int32_t>(Column(r, 0), 2), INT32_MAX);
  EXPECT_EQ(At<int32_t>(Column(r, 0), 3), -7);

  r = Literals("int8", {std::nullopt, "-9223372036854775808", "9223372036854775807", "1"});
  EXPECT_EQ(r.schema[0].type.id, TypeId::kInt64);
  EXPECT_TRUE(IsNull(Column(r, 0), 0));
  EXPECT_EQ(At<int64_t>(Column(r, 0), 1), INT64_MIN);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 2), INT64_MAX);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 3), 1);

  r = Literals("oid", {std::nullopt, "0", "4294967295", "1259"});
  EXPECT_EQ(r.schema[0].type.id, TypeId::kUInt32);
  EXPECT_TRUE(IsNull(Column(r, 0), 0));
  EXPECT_EQ(At<uint32_t>(Column(r, 0), 1), 0u);
  EXPECT_EQ(At<uint32_t>(Column(r, 0), 2), 4294967295u);
  EXPECT_EQ(At<uint32_t>(Column(r, 0), 3), 1259u);
}

TEST_F(PgTypesTest, Floats) {
  QueryResult r = Literals("float4", {std::nullopt, "-3.4028235e38", "3.4028235e38", "1.5"});
  EXPECT_EQ(r.schema[0].type.id, TypeId::kFloat32);
  EXPECT_TRUE(IsNull(Column(r, 0), 0));
  EXPECT_FLOAT_EQ(At<float>(Column(r, 0), 1), -3.4028235e38f);
  EXPECT_FLOAT_EQ(At<float>(Column(r, 0), 2), 3.4028235e38f);
  EXPECT_FLOAT_EQ(At<float>(Column(r, 0), 3), 1.5f);

  r = Literals("float8", {std::nullopt, "-1.7976931348623157e308", "1.7976931348623157e308",
                          "0.1", "-Infinity", "NaN"});
  EXPECT_EQ(r.schema[0].type.id, TypeId::kFloat64);
  EXPECT_TRUE(IsNull(Column(r, 0), 0));
  EXPECT_DOUBLE_EQ(At<double>(Column(r, 0), 1), -1.7976931348623157e308);
  EXPECT_DOUBLE_EQ(At<double>(Column(r, 0), 2), 1.7976931348623157e308);
  EXPECT_DOUBLE_EQ(At<double>(Column(r, 0), 3), 0.1);
  EXPECT_TRUE(std::isinf(At<double>(Column(r, 0), 4)));
  EXPECT_TRUE(std::isnan(At<double>(Column(r, 0), 5)));
}

TEST_F(PgTypesTest, NumericDecimal128Extremes) {
  const std::string nines(38, '9');
  QueryResult r = Literals("numeric(38,0)", {std::nullopt, "-" + nines, nines, "0", "12345"});
  EXPECT_EQ(r.schema[0].type, arrow::DataType::Decimal(38, 0));
  const ArrowArray& a = Column(r, 0);
  EXPECT_TRUE(IsNull(a, 0));
  EXPECT_EQ(Int128ToString(At<__int128>(a, 1)), "-" + nines);
  EXPECT_EQ(Int128ToString(At<__int128>(a, 2)), nines);
  EXPECT_EQ(Int128ToString(At<__int128>(a, 3)), "0");
  EXPECT_EQ(Int128ToString(At<__int128>(a, 4)), "12345");

  // Scale 10: fractional groups that end inside a base-10000 digit, tiny and negative values.
  r = Literals("numeric(38,10)", {"1234567890123456789012345678.0123456789", "-0.0000000001",
                                  "0", "-12.5", "9999999999999999999999999999.9999999999"});
  EXPECT_EQ(r.schema[0].type, arrow::DataType::Decimal(38, 10));
  const ArrowArray& b = Column(r, 0);
  EXPECT_EQ(Int128ToString(At<__int128>(b, 0)), "12345678901234567890123456780123456789");
  EXPECT_EQ(Int128ToString(At<__int128>(b, 1)), "-1");
  EXPECT_EQ(Int128ToString(At<__int128>(b, 2)), "0");
  EXPECT_EQ(Int128ToString(At<__int128>(b, 3)), "-125000000000");
  EXPECT_EQ(Int128ToString(At<__int128>(b, 4)), nines);

  // Scale larger than the value's digits, and the scale > precision form PostgreSQL 15
  // allows (folded to Decimal128(4, 4)).
  r = Literals("numeric(10,5)", {"0.00001", "0.001", "-99999.99999"});
  EXPECT_EQ(r.schema[0].type, arrow::DataType::Decimal(10, 5));
  EXPECT_EQ(Int128ToString(At<__int128>(Column(r, 0), 0)), "1");
  EXPECT_EQ(Int128ToString(At<__int128>(Column(r, 0), 1)), "100");
  EXPECT_EQ(Int128ToString(At<__int128>(Column(r, 0), 2)), "-9999999999");
  r = Literals("numeric(2,4)", {"0.0012"});
  EXPECT_EQ(r.schema[0].type, arrow::DataType::Decimal(4, 4));
  EXPECT_EQ(Int128ToString(At<__int128>(Column(r, 0), 0)), "12");
  r = Literals("numeric(3,-2)", {"12345"});  // rounded to hundreds: 12300
  EXPECT_EQ(r.schema[0].type, arrow::DataType::Decimal(5, 0));
  EXPECT_EQ(Int128ToString(At<__int128>(Column(r, 0), 0)), "12300");
}

TEST_F(PgTypesTest, NumericNaNIsAConversionError) {
  DbError e = Catch([&] { Literals("numeric(10,2)", {"1", "NaN"}); });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  EXPECT_NE(e.message().find("column 'v'"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("NaN"), std::string::npos) << e.message();
  // The server itself refuses infinities in a numeric with a typmod (the decoder's
  // rejection of them is covered by the wire-format tests).
  e = Catch([&] { Literals("numeric(10,2)", {"Infinity"}); });
  EXPECT_EQ(e.sqlstate(), "22003");
}

TEST_F(PgTypesTest, UnconstrainedNumericIsExactText) {
  QueryResult r = Literals("numeric", {std::nullopt, "123.4500", "-0.001", "1e50", "NaN", "0"});
  EXPECT_EQ(r.schema[0].type.id, TypeId::kString);
  EXPECT_EQ(Metadata(r.schema[0], "dbpool.db_type"), "numeric");
  const ArrowArray& a = Column(r, 0);
  EXPECT_TRUE(IsNull(a, 0));
  EXPECT_EQ(StringValue(a, 1), "123.4500");
  EXPECT_EQ(StringValue(a, 2), "-0.001");
  EXPECT_EQ(StringValue(a, 3), "1" + std::string(50, '0'));
  EXPECT_EQ(StringValue(a, 4), "NaN");
  EXPECT_EQ(StringValue(a, 5), "0");
  // More than 38 digits declared: text too.
  r = Literals("numeric(50,2)", {"123.45"});
  EXPECT_EQ(r.schema[0].type.id, TypeId::kString);
  EXPECT_EQ(StringValue(Column(r, 0), 0), "123.45");
}

TEST_F(PgTypesTest, MoneyIsDecimal19x4) {
  QueryResult r = Literals("money", {std::nullopt, "-92233720368547758.08",
                                     "92233720368547758.07", "12.34"});
  EXPECT_EQ(r.schema[0].type, arrow::DataType::Decimal(19, 4));
  EXPECT_EQ(Metadata(r.schema[0], "dbpool.db_type"), "money");
  const ArrowArray& a = Column(r, 0);
  EXPECT_TRUE(IsNull(a, 0));
  EXPECT_EQ(Int128ToString(At<__int128>(a, 1)), "-9223372036854775808" "00");
  EXPECT_EQ(Int128ToString(At<__int128>(a, 2)), "9223372036854775807" "00");
  EXPECT_EQ(Int128ToString(At<__int128>(a, 3)), "123400");
}

TEST_F(PgTypesTest, TextTypes) {
  for (const char* type : {"text", "varchar(20)", "name", "bpchar(6)"}) {
    QueryResult r = Literals(type, {std::nullopt, "", "héllo €", "plain"});
    EXPECT_EQ(r.schema[0].type.id, TypeId::kString) << type;
    const ArrowArray& a = Column(r, 0);
    EXPECT_TRUE(IsNull(a, 0));
    bool padded = std::string(type) == "bpchar(6)";
    EXPECT_EQ(StringValue(a, 1), padded ? "      " : "") << type;
    EXPECT_EQ(StringValue(a, 2), padded ? "héllo " : "héllo €") << type;
    EXPECT_EQ(StringValue(a, 3), padded ? "plain " : "plain") << type;
  }
  QueryResult r = Literals("\"char\"", {std::nullopt, "a"});
  EXPECT_EQ(StringValue(Column(r, 0), 1), "a");
  EXPECT_EQ(Metadata(r.schema[0], "dbpool.db_type"), "char");
}

TEST_F(PgTypesTest, InvalidUtf8IsAConversionErrorNamingTheColumn) {
  // With a LATIN1 client encoding the server sends U+00E9 as the single byte 0xE9.
  ConnectionConfig latin1 = config_;
  latin1.options["client_encoding"] = "LATIN1";
  auto conn = Connect(latin1);
  DbError e = Catch([&] { QueryBoth(*conn, "SELECT 'caf' || chr(233) AS word"); });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  EXPECT_NE(e.message().find("column 'word'"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("UTF-8"), std::string::npos) << e.message();
}

TEST_F(PgTypesTest, EveryPathReportsTheFirstBadValue) {
  // The earliest row with a bad value, and in it the leftmost column, whatever the path: the
  // regular one reads column by column, COPY and single-row mode check text once per batch.
  ConnectionConfig latin1 = config_;
  latin1.options["client_encoding"] = "LATIN1";
  auto conn = Connect(latin1);
  auto sql = [](int text_row, int date_row, const std::string& rows) {
    return "SELECT g, CASE WHEN g = " + std::to_string(text_row) +
           " THEN 'caf' || chr(233) ELSE 'ok' END AS word, CASE WHEN g = " +
           std::to_string(date_row) +
           " THEN 'infinity'::date ELSE date '2020-01-01' END AS day "
           "FROM generate_series(1, " + rows + ") g";
  };
  struct Case {
    int text_row;
    int date_row;
    const char* expected;
  };
  for (const Case& c : {Case{3, 5, "column 'word' (row 3)"}, Case{5, 3, "column 'day' (row 3)"},
                        Case{4, 4, "column 'word' (row 4)"}, Case{90, 1000, "column 'word' (row 90)"}}) {
    DbError plain = Catch([&] { QueryBoth(*conn, sql(c.text_row, c.date_row, "100")); });
    EXPECT_EQ(plain.kind(), ErrorKind::kDataConversion);
    EXPECT_NE(plain.message().find(c.expected), std::string::npos) << plain.message();
    Params rows;
    rows.values.emplace_back(int64_t{100});
    DbError bound = Catch([&] { QueryBoth(*conn, sql(c.text_row, c.date_row, "$1::int"), rows); });
    EXPECT_EQ(bound.message(), plain.message());
  }
}

TEST_F(PgTypesTest, Bytea) {
  QueryResult r = Literals("bytea", {std::nullopt, "\\x", "\\x00ff10"});
  EXPECT_EQ(r.schema[0].type.id, TypeId::kBinary);
  EXPECT_TRUE(IsNull(Column(r, 0), 0));
  EXPECT_EQ(StringValue(Column(r, 0), 1), "");
  EXPECT_EQ(StringValue(Column(r, 0), 2), std::string("\x00\xff\x10", 3));
}

TEST_F(PgTypesTest, Date) {
  QueryResult r = Literals("date", {std::nullopt, "4714-11-24 BC", "5874897-12-31", "2024-01-01",
                                    "1970-01-01"});
  EXPECT_EQ(r.schema[0].type.id, TypeId::kDate32);
  const ArrowArray& a = Column(r, 0);
  EXPECT_TRUE(IsNull(a, 0));
  EXPECT_EQ(At<int32_t>(a, 1), -2440588);
  EXPECT_EQ(At<int32_t>(a, 2), 2145042905);
  EXPECT_EQ(At<int32_t>(a, 3), 19723);
  EXPECT_EQ(At<int32_t>(a, 4), 0);
  for (const char* infinity : {"infinity", "-infinity"}) {
    DbError e = Catch([&] { Literals("date", {"2024-01-01", infinity}); });
    EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
    EXPECT_NE(e.message().find("column 'v'"), std::string::npos) << e.message();
  }
}

TEST_F(PgTypesTest, TimeAndTimeTz) {
  QueryResult r = Literals("time", {std::nullopt, "00:00:00", "24:00:00", "12:34:56.789012"});
  EXPECT_EQ(r.schema[0].type, arrow::DataType::Time(TimeUnit::kMicro));
  EXPECT_TRUE(IsNull(Column(r, 0), 0));
  EXPECT_EQ(At<int64_t>(Column(r, 0), 1), 0);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 2), 86400000000LL);
  EXPECT_EQ(At<int64_t>(Column(r, 0), 3), 45296789012LL);

  r = Literals("timetz", {std::nullopt, "12:00:00+02", "00:30:00+01", "23:30:00-01"});
  EXPECT_EQ(r.schema[0].type, arrow::DataType::Time(TimeUnit::kMicro));
  EXPECT_EQ(Metadata(r.schema[0], "dbpool.db_type"), "timetz");
  EXPECT_TRUE(IsNull(Column(r, 0), 0));
  EXPECT_EQ(At<int64_t>(Column(r, 0), 1), 10LL * 3600 * 1000000);       // 10:00 UTC
  EXPECT_EQ(At<int64_t>(Column(r, 0), 2), (23LL * 60 + 30) * 60 * 1000000);  // 23:30
  EXPECT_EQ(At<int64_t>(Column(r, 0), 3), 30LL * 60 * 1000000);          // 00:30
}

TEST_F(PgTypesTest, Timestamp) {
  QueryResult r = Literals("timestamp", {std::nullopt, "4714-11-24 00:00:00 BC",
                                         "290000-01-01 00:00:00", "2024-01-01 12:00:00"});
  EXPECT_EQ(r.schema[0].type, arrow::DataType::Timestamp(TimeUnit::kMicro, ""));
  const ArrowArray& a = Column(r, 0);
  EXPECT_TRUE(IsNull(a, 0));
  EXPECT_EQ(At<int64_t>(a, 1), -210866803200000000LL);
  EXPECT_EQ(At<int64_t>(a, 2), 9089348860800000000LL);
  EXPECT_EQ(At<int64_t>(a, 3), 1704110400000000LL);
  // PostgreSQL's own maximum (294276 AD) is past Timestamp(us)'s range: an error, not a wrap.
  DbError e = Catch([&] { Literals("timestamp", {"294276-12-31 23:59:59"}); });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  e = Catch([&] { Literals("timestamp", {"infinity"}); });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
}

TEST_F(PgTypesTest, TimestampTzIsUtcWhateverTheSessionTimeZone) {
  Execute(*conn_, "SET TimeZone = 'America/New_York'");
  QueryResult r = Literals("timestamptz", {std::nullopt, "2024-01-01 12:00:00+02",
                                           "2024-07-01 08:00:00"});  // EDT, UTC-4
  EXPECT_EQ(r.schema[0].type, arrow::DataType::Timestamp(TimeUnit::kMicro, "UTC"));
  const ArrowArray& a = Column(r, 0);
  EXPECT_TRUE(IsNull(a, 0));
  EXPECT_EQ(At<int64_t>(a, 1), 1704110400000000LL - 2LL * 3600 * 1000000);  // 10:00 UTC
  EXPECT_EQ(At<int64_t>(a, 2), 1719835200000000LL);                          // 12:00 UTC
}

TEST_F(PgTypesTest, IntervalIsDuration) {
  QueryResult r = Literals("interval", {std::nullopt, "1 day 02:03:04.5", "-3 days",
                                        "106751991 days", "-106751991 days"});
  EXPECT_EQ(r.schema[0].type, arrow::DataType::Duration(TimeUnit::kMicro));
  const ArrowArray& a = Column(r, 0);
  EXPECT_TRUE(IsNull(a, 0));
  EXPECT_EQ(At<int64_t>(a, 1), (86400LL + 7384) * 1000000 + 500000);
  EXPECT_EQ(At<int64_t>(a, 2), -3LL * 86400 * 1000000);
  EXPECT_EQ(At<int64_t>(a, 3), 106751991LL * 86400 * 1000000);
  EXPECT_EQ(At<int64_t>(a, 4), -106751991LL * 86400 * 1000000);
  EXPECT_TRUE(r.schema[0].metadata.empty());
}

// The {months, days, microseconds} of row `row` of an interval struct column.
std::array<int64_t, 3> IntervalAt(const ArrowArray& parts, int64_t row) {
  return {At<int32_t>(*parts.children[0], row), At<int32_t>(*parts.children[1], row),
          At<int64_t>(*parts.children[2], row)};
}

TEST_F(PgTypesTest, IntervalWithMonthsIsTheExactStruct) {
  QueryResult r = Literals("interval", {"1 day 02:03:04.5", std::nullopt,
                                        "1 year 2 months 3 days 04:05:06.789", "-1 mon",
                                        "36 hours", "-178000000 years", "178000000 years"});
  ASSERT_EQ(r.schema[0].type, arrow::IntervalStructType());
  EXPECT_EQ(Metadata(r.schema[0], "dbpool.db_type"), "interval");
  const ArrowArray& a = Column(r, 0);
  using Parts = std::array<int64_t, 3>;
  // Rows without months keep PostgreSQL's own split too: no day/month folding.
  EXPECT_EQ(IntervalAt(a, 0), (Parts{0, 1, 7384500000}));
  EXPECT_TRUE(IsNull(a, 1));
  EXPECT_EQ(a.null_count, 1);
  EXPECT_EQ(IntervalAt(a, 2), (Parts{14, 3, 14706789000}));
  EXPECT_EQ(IntervalAt(a, 3), (Parts{-1, 0, 0}));
  EXPECT_EQ(IntervalAt(a, 4), (Parts{0, 0, 36LL * 3600 * 1000000}));
  EXPECT_EQ(IntervalAt(a, 5), (Parts{-178000000LL * 12, 0, 0}));  // PostgreSQL's limits
  EXPECT_EQ(IntervalAt(a, 6), (Parts{178000000LL * 12, 0, 0}));
  // Days beyond Duration's int64 microseconds: the struct as well, never an error.
  r = Literals("interval", {"2147483647 days", "-2147483648 days"});
  ASSERT_EQ(r.schema[0].type, arrow::IntervalStructType());
  EXPECT_EQ(IntervalAt(Column(r, 0), 0), (Parts{0, INT32_MAX, 0}));
  EXPECT_EQ(IntervalAt(Column(r, 0), 1), (Parts{0, INT32_MIN, 0}));
}

TEST_F(PgTypesTest, AMonthInTheLastRowMakesEveryBatchTheStruct) {
  // Two batches (65536 rows each); the only month value is in the last row of the second.
  const std::string sql =
      "SELECT g::int4 AS g, CASE WHEN g = 70000 THEN interval '1 mon' "
      "WHEN g % 3 = 0 THEN NULL ELSE g * interval '1 day 1 second' END AS iv "
      "FROM generate_series(1, 70000) g";
  QueryResult r = QueryBoth(*conn_, sql);
  ASSERT_EQ(r.batches.size(), 2u);
  ASSERT_EQ(r.schema[1].type, arrow::IntervalStructType());
  using Parts = std::array<int64_t, 3>;
  EXPECT_EQ(IntervalAt(Column(r, 1, 0), 0), (Parts{0, 1, 1000000}));
  EXPECT_TRUE(IsNull(Column(r, 1, 0), 2));
  EXPECT_EQ(IntervalAt(Column(r, 1, 0), 65535), (Parts{0, 65536, 65536000000}));
  EXPECT_EQ(IntervalAt(Column(r, 1, 1), 70000 - 65537), (Parts{1, 0, 0}));
  // The same rows without the month: Duration(us) in both batches.
  r = QueryBoth(*conn_, "SELECT g * interval '1 day 1 second' AS iv FROM generate_series(1, 70000) g");
  ASSERT_EQ(r.schema[0].type, arrow::DataType::Duration(TimeUnit::kMicro));
  EXPECT_EQ(At<int64_t>(Column(r, 0, 1), 0), 65537LL * 86401 * 1000000);
}

TEST_F(PgTypesTest, UuidAndJson) {
  QueryResult r = Literals("uuid", {std::nullopt, "00000000-0000-0000-0000-000000000000",
                                    "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
                                    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"});
  EXPECT_EQ(r.schema[0].type.id, TypeId::kString);
  EXPECT_EQ(Metadata(r.schema[0], "dbpool.db_type"), "uuid");
  EXPECT_TRUE(IsNull(Column(r, 0), 0));
  EXPECT_EQ(StringValue(Column(r, 0), 1), "00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(StringValue(Column(r, 0), 2), "ffffffff-ffff-ffff-ffff-ffffffffffff");
  EXPECT_EQ(StringValue(Column(r, 0), 3), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");

  r = Literals("json", {std::nullopt, "{\"b\": 1,  \"a\": [1, 2]}", "[]"});
  EXPECT_EQ(r.schema[0].type.id, TypeId::kString);
  EXPECT_EQ(StringValue(Column(r, 0), 1), "{\"b\": 1,  \"a\": [1, 2]}");  // as stored
  r = Literals("jsonb", {std::nullopt, "{\"b\": 1,  \"a\": [1, 2]}", "\"é\""});
  EXPECT_EQ(r.schema[0].type.id, TypeId::kString);
  EXPECT_EQ(Metadata(r.schema[0], "dbpool.db_type"), "jsonb");
  EXPECT_TRUE(IsNull(Column(r, 0), 0));
  EXPECT_EQ(StringValue(Column(r, 0), 1), "{\"a\": [1, 2], \"b\": 1}");  // normalised
  EXPECT_EQ(StringValue(Column(r, 0), 2), "\"é\"");
}

TEST_F(PgTypesTest, ArraysBecomeLists) {
  QueryResult r = QueryBoth(*conn_,
                        "SELECT v FROM (VALUES (1, ARRAY[1, NULL, 3]::int4[]), (2, '{}'::int4[]), "
                        "(3, NULL::int4[]), (4, ARRAY[-2147483648, 2147483647]::int4[])) t(i, v) "
                        "ORDER BY i");
  ASSERT_EQ(r.schema[0].type.id, TypeId::kList);
  EXPECT_EQ(r.schema[0].type.children[0].type.id, TypeId::kInt32);
  const ArrowArray& list = Column(r, 0);
  const ArrowArray& items = *list.children[0];
  EXPECT_EQ(ListRange(list, 0), (std::pair<int64_t, int64_t>(0, 3)));
  EXPECT_EQ(At<int32_t>(items, 0), 1);
  EXPECT_TRUE(IsNull(items, 1));
  EXPECT_EQ(At<int32_t>(items, 2), 3);
  EXPECT_EQ(ListRange(list, 1), (std::pair<int64_t, int64_t>(3, 3)));  // empty list
  EXPECT_FALSE(IsNull(list, 1));
  EXPECT_TRUE(IsNull(list, 2));
  EXPECT_EQ(ListRange(list, 3), (std::pair<int64_t, int64_t>(3, 5)));
  EXPECT_EQ(At<int32_t>(items, 3), INT32_MIN);
  EXPECT_EQ(At<int32_t>(items, 4), INT32_MAX);

  r = QueryBoth(*conn_,
            "SELECT ARRAY['a', NULL, 'ü']::text[] AS t, ARRAY[1.5, NULL]::numeric(10,2)[] AS n, "
            "ARRAY['2024-01-01']::date[] AS d, "
            "ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11']::uuid[] AS u, "
            "ARRAY[true, false]::bool[] AS b, ARRAY['1 day']::interval[] AS i");
  EXPECT_EQ(r.schema[0].type.children[0].type.id, TypeId::kString);
  EXPECT_EQ(StringValue(*Column(r, 0).children[0], 2), "ü");
  EXPECT_TRUE(IsNull(*Column(r, 0).children[0], 1));
  EXPECT_EQ(r.schema[1].type.children[0].type, arrow::DataType::Decimal(10, 2));
  EXPECT_EQ(Int128ToString(At<__int128>(*Column(r, 1).children[0], 0)), "150");
  EXPECT_EQ(At<int32_t>(*Column(r, 2).children[0], 0), 19723);
  EXPECT_EQ(Metadata(r.schema[3], "dbpool.db_type"), "uuid[]");
  EXPECT_TRUE(BoolValue(*Column(r, 4).children[0], 0));
  EXPECT_EQ(At<int64_t>(*Column(r, 5).children[0], 0), 86400LL * 1000000);
  EXPECT_EQ(r.schema[5].type.children[0].type, arrow::DataType::Duration(TimeUnit::kMicro));
  EXPECT_TRUE(r.schema[5].metadata.empty());

  // interval[] with a month anywhere: List<the exact struct>, NULL elements kept.
  r = QueryBoth(*conn_,
                "SELECT v FROM (VALUES (1, ARRAY['1 day', NULL]::interval[]), "
                "(2, NULL::interval[]), (3, ARRAY['-1 mon 2 days 00:00:03']::interval[])) "
                "t(i, v) ORDER BY i");
  ASSERT_EQ(r.schema[0].type.id, TypeId::kList);
  ASSERT_EQ(r.schema[0].type.children[0].type, arrow::IntervalStructType());
  EXPECT_EQ(Metadata(r.schema[0], "dbpool.db_type"), "interval[]");
  const ArrowArray& spans = Column(r, 0);
  EXPECT_EQ(ListRange(spans, 0), (std::pair<int64_t, int64_t>(0, 2)));
  EXPECT_TRUE(IsNull(spans, 1));
  EXPECT_EQ(IntervalAt(*spans.children[0], 0), (std::array<int64_t, 3>{0, 1, 0}));
  EXPECT_TRUE(IsNull(*spans.children[0], 1));
  EXPECT_EQ(IntervalAt(*spans.children[0], 2), (std::array<int64_t, 3>{-1, 2, 3000000}));

  DbError e = Catch([&] { QueryBoth(*conn_, "SELECT '{{1,2},{3,4}}'::int4[] AS grid"); });
  EXPECT_EQ(e.kind(), ErrorKind::kDataConversion);
  EXPECT_NE(e.message().find("column 'grid'"), std::string::npos) << e.message();
}

TEST_F(PgTypesTest, NetworkBitsAndOtherBuiltins) {
  QueryResult r = Query(
      *conn_,
      "SELECT '192.168.0.1'::inet AS a, '2001:db8::1/64'::inet AS b, '10.1.0.0/16'::cidr AS c, "
      "'08:00:2b:01:02:03'::macaddr AS d, '08:00:2b:01:02:03:04:05'::macaddr8 AS e, "
      "'<a>1</a>'::xml AS f, B'101'::bit(3) AS g, B'0110011001'::varbit AS h, "
      "'16/B374D848'::pg_lsn AS i, point(1, 2) AS j, 'a fat cat'::tsvector AS k, "
      "'pg_class'::regclass AS l");
  const char* texts[] = {"192.168.0.1", "2001:db8::1/64", "10.1.0.0/16", "08:00:2b:01:02:03",
                         "08:00:2b:01:02:03:04:05", "<a>1</a>", "101", "0110011001",
                         "16/B374D848"};
  const char* names[] = {"inet", "inet", "cidr", "macaddr", "macaddr8", "xml", "bit", "varbit",
                         "pg_lsn"};
  for (int c = 0; c < 9; ++c) {
    EXPECT_EQ(r.schema[c].type.id, TypeId::kString) << c;
    EXPECT_EQ(StringValue(Column(r, c), 0), texts[c]) << c;
    EXPECT_EQ(Metadata(r.schema[c], "dbpool.db_type"), names[c]) << c;
  }
  EXPECT_EQ(r.schema[9].type.id, TypeId::kBinary);
  EXPECT_EQ(Metadata(r.schema[9], "dbpool.db_type"), "point");
  EXPECT_EQ(StringValue(Column(r, 9), 0).size(), 16u);  // two float8
  EXPECT_EQ(r.schema[10].type.id, TypeId::kBinary);
  EXPECT_EQ(Metadata(r.schema[10], "dbpool.db_type"), "tsvector");
  EXPECT_EQ(r.schema[11].type.id, TypeId::kUInt32);
  EXPECT_EQ(At<uint32_t>(Column(r, 11), 0), 1259u);
}

TEST_F(PgTypesTest, EnumsAndDomains) {
  Execute(*conn_,
          "CREATE TYPE pg_temp.mood AS ENUM ('sad', 'happy'); "
          "CREATE DOMAIN pg_temp.posint AS int4 CHECK (VALUE > 0); "
          "CREATE DOMAIN pg_temp.price AS numeric(10,2); "
          "CREATE DOMAIN pg_temp.moody AS pg_temp.mood");
  QueryResult r = QueryBoth(*conn_,
                        "SELECT 'happy'::pg_temp.mood AS m, NULL::pg_temp.mood AS mn, "
                        "ARRAY['sad', NULL, 'happy']::pg_temp.mood[] AS ma, "
                        "5::pg_temp.posint AS p, ARRAY[1, 2]::pg_temp.posint[] AS pa, "
                        "12.5::pg_temp.price AS pr, ARRAY[1.25]::pg_temp.price[] AS pra, "
                        "ARRAY['sad']::pg_temp.moody[] AS mda");
  EXPECT_EQ(r.schema[0].type.id, TypeId::kString);
  EXPECT_EQ(Metadata(r.schema[0], "dbpool.db_type"), "mood");
  EXPECT_EQ(StringValue(Column(r, 0), 0), "happy");
  EXPECT_TRUE(IsNull(Column(r, 1), 0));
  ASSERT_EQ(r.schema[2].type.id, TypeId::kList);
  EXPECT_EQ(Metadata(r.schema[2], "dbpool.db_type"), "mood[]");
  const ArrowArray& moods = *Column(r, 2).children[0];
  EXPECT_EQ(StringValue(moods, 0), "sad");
  EXPECT_TRUE(IsNull(moods, 1));
  EXPECT_EQ(StringValue(moods, 2), "happy");
  EXPECT_EQ(r.schema[3].type.id, TypeId::kInt32);  // a domain is its base type
  EXPECT_EQ(At<int32_t>(Column(r, 3), 0), 5);
  EXPECT_EQ(r.schema[4].type.children[0].type.id, TypeId::kInt32);
  EXPECT_EQ(At<int32_t>(*Column(r, 4).children[0], 1), 2);
  EXPECT_EQ(r.schema[5].type, arrow::DataType::Decimal(10, 2));
  EXPECT_EQ(Int128ToString(At<__int128>(Column(r, 5), 0)), "1250");
  EXPECT_EQ(r.schema[6].type.children[0].type, arrow::DataType::Decimal(10, 2));
  EXPECT_EQ(Int128ToString(At<__int128>(*Column(r, 6).children[0], 0)), "125");
  EXPECT_EQ(r.schema[7].type.children[0].type.id, TypeId::kString);
  EXPECT_EQ(StringValue(*Column(r, 7).children[0], 0), "sad");
  // The pg_type rows are cached: the same query again needs no lookup and agrees.
  QueryResult again = QueryBoth(*conn_, "SELECT ARRAY['happy']::pg_temp.mood[] AS ma");
  EXPECT_EQ(again.schema[0].type, r.schema[2].type);
}

TEST_F(PgTypesTest, VoidZeroRowsAndBatchSplitting) {
  QueryResult r = QueryBoth(*conn_, "SELECT pg_sleep(0) AS nothing");
  EXPECT_EQ(r.schema[0].type.id, TypeId::kNull);
  EXPECT_EQ(r.num_rows(), 1);

  r = QueryBoth(*conn_, "SELECT 1::int4 AS a, 'x'::text AS b WHERE false");
  EXPECT_EQ(r.schema.size(), 2u);
  EXPECT_EQ(r.schema[1].type.id, TypeId::kString);
  EXPECT_EQ(r.num_rows(), 0);
  EXPECT_TRUE(r.has_rows());

  r = QueryBoth(*conn_, "SELECT g::int8 AS g, g::text AS t FROM generate_series(1, 150000) g");
  ASSERT_EQ(r.batches.size(), 3u);  // 65536 + 65536 + 18928
  EXPECT_EQ(r.batches[0].num_rows(), 65536);
  EXPECT_EQ(r.batches[2].num_rows(), 150000 - 2 * 65536);
  EXPECT_EQ(At<int64_t>(Column(r, 0, 1), 0), 65537);
  EXPECT_EQ(StringValue(Column(r, 1, 2), 18927), "150000");
}

}  // namespace
}  // namespace dbpool::pg::testing
