// The MySQL -> Arrow type mapping from column metadata alone (no server), and the parsing of
// driver options.
#include <gtest/gtest.h>

#include <string>

#include "drivers/mysql/mysql_session.hpp"
#include "drivers/mysql/mysql_types.hpp"
#include "mysql_test_util.hpp"

namespace dbpool::mysql::testing {
namespace {

using arrow::DataType;
using arrow::TimeUnit;
using arrow::TypeId;

constexpr unsigned int kUtf8mb4 = 45;

FieldInfo Field(enum_field_types type, unsigned int flags = 0, unsigned long length = 0,
                unsigned int decimals = 0, unsigned int charset = kUtf8mb4) {
  FieldInfo f;
  f.name = "c";
  f.type = type;
  f.flags = flags;
  f.length = length;
  f.decimals = decimals;
  f.charsetnr = charset;
  return f;
}

TEST(MysqlTypes, IntegersKeepWidthAndSign) {
  struct Case {
    enum_field_types type;
    TypeId signed_id;
    TypeId unsigned_id;
  };
  const Case cases[] = {
      {MYSQL_TYPE_TINY, TypeId::kInt8, TypeId::kUInt8},
      {MYSQL_TYPE_SHORT, TypeId::kInt16, TypeId::kUInt16},
      {MYSQL_TYPE_INT24, TypeId::kInt32, TypeId::kUInt32},  // MEDIUMINT
      {MYSQL_TYPE_LONG, TypeId::kInt32, TypeId::kUInt32},
      {MYSQL_TYPE_LONGLONG, TypeId::kInt64, TypeId::kUInt64},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PlanColumn(Field(c.type, 0, 11, 0, 63)).field.type.id, c.signed_id) << c.type;
    EXPECT_EQ(PlanColumn(Field(c.type, UNSIGNED_FLAG, 10, 0, 63)).field.type.id, c.unsigned_id)
        << c.type;
  }
  ColumnPlan year = PlanColumn(Field(MYSQL_TYPE_YEAR, UNSIGNED_FLAG | ZEROFILL_FLAG, 4, 0, 63));
  EXPECT_EQ(year.field.type.id, TypeId::kInt16);
  EXPECT_EQ(year.bind_type, MYSQL_TYPE_SHORT);
  EXPECT_EQ(PlanColumn(Field(MYSQL_TYPE_FLOAT, 0, 12, 31, 63)).field.type.id, TypeId::kFloat32);
  EXPECT_EQ(PlanColumn(Field(MYSQL_TYPE_DOUBLE, 0, 22, 31, 63)).field.type.id, TypeId::kFloat64);
}

TEST(MysqlTypes, DecimalPrecisionComesFromTheDisplayLength) {
  // DECIMAL(10,2): 10 digits + sign + point.
  ColumnPlan d = PlanColumn(Field(MYSQL_TYPE_NEWDECIMAL, 0, 12, 2, 63));
  EXPECT_EQ(d.field.type, DataType::Decimal(10, 2));
  // DECIMAL(10,2) UNSIGNED: no sign.
  EXPECT_EQ(PlanColumn(Field(MYSQL_TYPE_NEWDECIMAL, UNSIGNED_FLAG, 11, 2, 63)).field.type,
            DataType::Decimal(10, 2));
  // DECIMAL(5,0): no point.
  EXPECT_EQ(PlanColumn(Field(MYSQL_TYPE_NEWDECIMAL, 0, 6, 0, 63)).field.type,
            DataType::Decimal(5, 0));
  EXPECT_EQ(PlanColumn(Field(MYSQL_TYPE_NEWDECIMAL, 0, 39, 0, 63)).field.type,
            DataType::Decimal(38, 0));
  // DECIMAL(65,30) does not fit Decimal128: exact text, with the type in the metadata.
  ColumnPlan wide = PlanColumn(Field(MYSQL_TYPE_NEWDECIMAL, 0, 67, 30, 63));
  EXPECT_EQ(wide.field.type.id, TypeId::kString);
  EXPECT_EQ(wide.decode, Decode::kDecimalText);
  EXPECT_EQ(Metadata(wide.field, kDbTypeKey), "decimal(65,30)");
}

TEST(MysqlTypes, TemporalTypes) {
  EXPECT_EQ(PlanColumn(Field(MYSQL_TYPE_DATE, 0, 10, 0, 63)).field.type.id, TypeId::kDate32);
  EXPECT_EQ(PlanColumn(Field(MYSQL_TYPE_DATETIME, 0, 26, 6, 63)).field.type,
            DataType::Timestamp(TimeUnit::kMicro, ""));
  EXPECT_EQ(PlanColumn(Field(MYSQL_TYPE_TIMESTAMP, 0, 19, 0, 63)).field.type,
            DataType::Timestamp(TimeUnit::kMicro, "UTC"));
  EXPECT_EQ(PlanColumn(Field(MYSQL_TYPE_TIME, 0, 10, 0, 63)).field.type,
            DataType::Duration(TimeUnit::kMicro));
}

TEST(MysqlTypes, BitOneIsBooleanWiderBitsAreUInt64) {
  EXPECT_EQ(PlanColumn(Field(MYSQL_TYPE_BIT, UNSIGNED_FLAG, 1, 0, 63)).field.type.id,
            TypeId::kBoolean);
  ColumnPlan bits = PlanColumn(Field(MYSQL_TYPE_BIT, UNSIGNED_FLAG, 12, 0, 63));
  EXPECT_EQ(bits.field.type.id, TypeId::kUInt64);
  EXPECT_EQ(Metadata(bits.field, kDbTypeKey), "bit(12)");
}

TEST(MysqlTypes, StringsByCharsetAndFlags) {
  EXPECT_EQ(PlanColumn(Field(MYSQL_TYPE_VAR_STRING, 0, 40)).field.type.id, TypeId::kString);
  EXPECT_EQ(PlanColumn(Field(MYSQL_TYPE_BLOB, BLOB_FLAG, 262140)).field.type.id,
            TypeId::kString);  // TEXT
  EXPECT_EQ(PlanColumn(Field(MYSQL_TYPE_BLOB, BLOB_FLAG | BINARY_FLAG, 65535, 0, 63))
                .field.type.id,
            TypeId::kBinary);  // BLOB
  EXPECT_EQ(PlanColumn(Field(MYSQL_TYPE_STRING, BINARY_FLAG, 4, 0, 63)).field.type.id,
            TypeId::kBinary);  // BINARY(4)
  ColumnPlan e = PlanColumn(Field(MYSQL_TYPE_STRING, ENUM_FLAG, 20));
  EXPECT_EQ(e.field.type.id, TypeId::kString);
  EXPECT_EQ(Metadata(e.field, kDbTypeKey), "enum");
  ColumnPlan s = PlanColumn(Field(MYSQL_TYPE_STRING, SET_FLAG, 20));
  EXPECT_EQ(Metadata(s.field, kDbTypeKey), "set");

  FieldInfo json = Field(MYSQL_TYPE_BLOB, BLOB_FLAG, 4294967295UL);
  json.format_name = "json";  // MariaDB: LONGTEXT with format "json"
  EXPECT_EQ(Metadata(PlanColumn(json).field, kDbTypeKey), "json");
  EXPECT_EQ(PlanColumn(Field(MYSQL_TYPE_JSON, BLOB_FLAG, 4294967295UL, 0, 63)).field.type.id,
            TypeId::kString);  // MySQL's JSON is text even though its charset says binary

  FieldInfo uuid = Field(MYSQL_TYPE_STRING, 0, 36, 0, 8);
  uuid.data_type_name = "uuid";
  EXPECT_EQ(PlanColumn(uuid).field.type.id, TypeId::kString);
  EXPECT_EQ(Metadata(PlanColumn(uuid).field, kDbTypeKey), "uuid");
}

TEST(MysqlTypes, OthersFallBackWithTheTypeInMetadata) {
  EXPECT_EQ(PlanColumn(Field(MYSQL_TYPE_NULL, 0, 0, 0, 63)).field.type.id, TypeId::kNull);
  ColumnPlan g = PlanColumn(Field(MYSQL_TYPE_GEOMETRY, BLOB_FLAG | BINARY_FLAG, 4294967295UL, 0, 63));
  EXPECT_EQ(g.field.type.id, TypeId::kBinary);
  EXPECT_EQ(Metadata(g.field, kDbTypeKey), "geometry");
  ColumnPlan odd = PlanColumn(Field(static_cast<enum_field_types>(200), 0, 1, 0, 63));
  EXPECT_EQ(odd.field.type.id, TypeId::kBinary);
  EXPECT_EQ(Metadata(odd.field, kDbTypeKey), "mysql type 200");
}

TEST(MysqlSettings, OptionsAreValidatedAndNamed) {
  ConnectionConfig config = PoolConfig::FromUrl("mariadb://u:pw@db.example:3307/app?zero_date=NULL").connection;
  EXPECT_EQ(config.db_type, "mysql");
  Settings s = Settings::From(config);
  EXPECT_EQ(s.host, "db.example");
  EXPECT_EQ(s.port, 3307u);
  EXPECT_EQ(s.database, "app");
  EXPECT_EQ(s.zero_date, ZeroDate::kNull);
  EXPECT_EQ(s.Endpoint(), "db.example:3307");
  EXPECT_EQ(Settings::From(PoolConfig::FromUrl("mysql://h/db").connection).Endpoint(), "h:3306");

  config.options["zero_date"] = "maybe";
  try {
    Settings::From(config);
    FAIL() << "expected a config error";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
    EXPECT_NE(e.message().find("options.zero_date"), std::string::npos) << e.message();
  }
  config.options.erase("zero_date");
  config.options["sslmod"] = "required";
  try {
    Settings::From(config);
    FAIL() << "expected a config error";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
    EXPECT_NE(e.message().find("sslmod"), std::string::npos) << e.message();
    EXPECT_EQ(std::string(e.what()).find("pw"), std::string::npos);
  }
}

}  // namespace
}  // namespace dbpool::mysql::testing
