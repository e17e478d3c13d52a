// Unit tests of the SQL Server driver's pure parts: type mapping, value decoding helpers,
// placeholder renaming, sp_executesql calls and option parsing (no server needed).
#include <gtest/gtest.h>

#include <cstring>

#include "dbpool/error.hpp"
#include "drivers/mssql/mssql_driver.hpp"
#include "drivers/mssql/mssql_params.hpp"
#include "drivers/mssql/mssql_reader.hpp"
#include "drivers/mssql/mssql_types.hpp"

namespace dbpool::mssql {
namespace {

using arrow::TimeUnit;
using arrow::TypeId;

TEST(MssqlTypes, SpecsFollowTypesMd) {
  EXPECT_EQ(SpecFor(SYBINT1, 0, 0).type.id, TypeId::kUInt8);
  EXPECT_EQ(SpecFor(SYBINT2, 0, 0).type.id, TypeId::kInt16);
  EXPECT_EQ(SpecFor(SYBINT4, 0, 0).type.id, TypeId::kInt32);
  EXPECT_EQ(SpecFor(SYBINT8, 0, 0).type.id, TypeId::kInt64);
  EXPECT_EQ(SpecFor(SYBBIT, 0, 0).type.id, TypeId::kBoolean);
  EXPECT_EQ(SpecFor(SYBREAL, 0, 0).type.id, TypeId::kFloat32);
  EXPECT_EQ(SpecFor(SYBFLT8, 0, 0).type.id, TypeId::kFloat64);
  EXPECT_EQ(SpecFor(SYBDECIMAL, 15, 2).type, arrow::DataType::Decimal(15, 2));
  EXPECT_EQ(SpecFor(SYBMONEY, 0, 0).type, arrow::DataType::Decimal(19, 4));
  EXPECT_EQ(SpecFor(SYBMONEY4, 0, 0).type, arrow::DataType::Decimal(10, 4));
  EXPECT_EQ(SpecFor(SYBCHAR, 0, 0).type.id, TypeId::kString);
  EXPECT_EQ(SpecFor(SYBIMAGE, 0, 0).type.id, TypeId::kBinary);
  EXPECT_EQ(SpecFor(SYBMSDATE, 0, 0).type.id, TypeId::kDate32);
  EXPECT_EQ(SpecFor(SYBMSTIME, 7, 7).type, arrow::DataType::Time(TimeUnit::kNano));
  EXPECT_EQ(SpecFor(SYBMSTIME, 3, 3).type, arrow::DataType::Time(TimeUnit::kMicro));
  EXPECT_EQ(SpecFor(SYBMSDATETIME2, 7, 7).type, arrow::DataType::Timestamp(TimeUnit::kMicro, ""));
  EXPECT_EQ(SpecFor(SYBMSDATETIMEOFFSET, 7, 7).type,
            arrow::DataType::Timestamp(TimeUnit::kMicro, "UTC"));
  EXPECT_EQ(SpecFor(SYBDATETIME, 0, 0).type, arrow::DataType::Timestamp(TimeUnit::kMicro, ""));
  EXPECT_EQ(SpecFor(kSybUnique, 0, 0).kind, ColumnKind::kGuid);
  EXPECT_EQ(SpecFor(98 /* sql_variant */, 0, 0).kind, ColumnKind::kOther);
}

TEST(MssqlTypes, NumericBytesMatchFreeTds) {
  // FreeTDS's tds_numeric_bytes_per_prec, less the sign byte.
  const int expected[] = {0, 1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 7, 8, 8, 8,
                          9, 9, 10, 10, 10, 11, 11, 12, 12, 13, 13, 13, 14, 14, 15, 15, 15, 16, 16};
  for (int p = 1; p <= 38; ++p) EXPECT_EQ(NumericBytes(p), expected[p]) << p;
}

TEST(MssqlReader, NumericValue) {
  DBNUMERIC n;
  std::memset(&n, 0, sizeof(n));
  n.precision = 10;
  n.scale = 2;
  n.array[5] = 0x96;  // 150, big endian in 5 bytes
  EXPECT_EQ(static_cast<int64_t>(NumericValue(n)), 150);
  n.array[0] = 1;
  EXPECT_EQ(static_cast<int64_t>(NumericValue(n)), -150);
}

TEST(MssqlReader, GuidAndDateTime) {
  const unsigned char guid[16] = {0x99, 0xbc, 0xee, 0xa0, 0x0b, 0x9c, 0xf8, 0x4e,
                                  0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11};
  EXPECT_EQ(GuidText(guid), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  // 2024-01-02 03:04:05.123: day 45291 since 1900, 3313537 ticks of 1/300 s.
  EXPECT_EQ(DateTimeMicros(45291, 3313537), 1704164645123000LL);
  EXPECT_EQ(DateTimeMicros(25567, 2), 7000);  // .007, as SQL Server shows it
  EXPECT_EQ(DateTimeMicros(25567, 1), 3000);
}

TEST(MssqlParams, PlaceholdersOutsideLiteralsAndComments) {
  std::string sql = "SELECT ?, '?', N'it''s ?', [a?], \"b?\", ? /* ? /* ? */ ? */ -- ?\n, ?";
  EXPECT_EQ(RenamePlaceholders(sql), 3);
  EXPECT_EQ(sql, "SELECT @P1, '?', N'it''s ?', [a?], \"b?\", @P2 /* ? /* ? */ ? */ -- ?\n, @P3");
  std::string none = "SELECT @P1";
  EXPECT_EQ(RenamePlaceholders(none), 0);
  EXPECT_EQ(none, "SELECT @P1");
}

TEST(MssqlParams, DeclarationsAndEmptyValues) {
  Params params;
  params.values = {Value{}, Value{true}, Value{int64_t{1}}, Value{1.5}, Value{std::string("x")},
                   Value{std::string()}, Value{Bytes{"ab"}}, Value{Bytes{}},
                   Value{std::string(4001, 'y')}};
  RpcCall call = BuildRpc("SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?", params);
  EXPECT_EQ(call.declarations,
            "@P1 nvarchar(1), @P2 bit, @P3 bigint, @P4 float, @P5 nvarchar(4000), "
            "@P6 nvarchar(4000), @P7 varbinary(8000), @P8 varbinary(8000), @P9 nvarchar(max)");
  EXPECT_EQ(call.statement,
            "SET @P6 = N'';SET @P8 = 0x; SELECT @P1, @P2, @P3, @P4, @P5, @P6, @P7, @P8, @P9");
  EXPECT_TRUE(call.values[0].null);
  EXPECT_TRUE(call.values[5].null);
  EXPECT_FALSE(call.values[4].null);

  // Four UTF-8 bytes, two UTF-16 code units: 2001 of them do not fit nvarchar(4000).
  std::string wide;
  for (int i = 0; i < 2001; ++i) wide += "\xF0\x9F\x98\x80";
  params.values = {Value{wide}};
  EXPECT_EQ(BuildRpc("SELECT ?", params).declarations, "@P1 nvarchar(max)");

  params.names = {"ok"};
  params.values = {Value{int64_t{1}}};
  EXPECT_EQ(BuildRpc("SELECT @ok", params).declarations, "@ok bigint");
  params.names = {"x) DROP TABLE t --"};
  EXPECT_THROW(BuildRpc("SELECT 1", params), DbError);
}

TEST(MssqlDriverOptions, Parsing) {
  ConnectionConfig config;
  config.options = {{"encrypt", "true"}, {"statement_timeout", "2.5"}, {"tds_version", "7.3"}};
  MssqlOptions options = MssqlDriver::ParseOptions(config);
  EXPECT_EQ(options.encrypt, "require");
  EXPECT_DOUBLE_EQ(options.statement_timeout, 2.5);
  EXPECT_EQ(options.tds_version, DBVERSION_73);
  config.options = {{"statement_timeout", "-1"}};
  EXPECT_THROW(MssqlDriver::ParseOptions(config), DbError);
  config.options = {{"sslmode", "require"}};
  EXPECT_THROW(MssqlDriver::ParseOptions(config), DbError);
  config.host = "db.example";
  EXPECT_EQ(MssqlDriver::Endpoint(config), "db.example:1433");
}

}  // namespace
}  // namespace dbpool::mssql
