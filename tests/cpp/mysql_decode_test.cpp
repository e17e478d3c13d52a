// MySQL value decoders without a server: DECIMAL text, calendar dates, TIME, BIT bytes and
// the text-protocol parsers.
#include <gtest/gtest.h>

#include <string>

#include "drivers/mysql/mysql_decode.hpp"
#include "mysql_test_util.hpp"

namespace dbpool::mysql::testing {
namespace {

TimeParts Date(uint32_t y, uint32_t m, uint32_t d) {
  TimeParts t;
  t.year = y;
  t.month = m;
  t.day = d;
  return t;
}

TEST(MysqlDecode, DecimalTextIsExact) {
  EXPECT_EQ(Int128ToString(ParseDecimal("-123.45", 5, 2)), "-12345");
  EXPECT_EQ(Int128ToString(ParseDecimal("0.00", 5, 2)), "0");
  EXPECT_EQ(Int128ToString(ParseDecimal("42", 10, 0)), "42");
  EXPECT_EQ(Int128ToString(ParseDecimal("12.5", 4, 2)), "1250");     // padded to the scale
  EXPECT_EQ(Int128ToString(ParseDecimal("1.500", 4, 2)), "150");     // trailing zeros dropped
  EXPECT_EQ(Int128ToString(ParseDecimal("0.001", 3, 3)), "1");
  EXPECT_EQ(Int128ToString(ParseDecimal("-0.5", 2, 1)), "-5");
  EXPECT_EQ(Int128ToString(ParseDecimal("99999999999999999999999999999999999999", 38, 0)),
            "99999999999999999999999999999999999999");
  EXPECT_EQ(Int128ToString(ParseDecimal("-9999999999999999999999999999.9999999999", 38, 10)),
            "-99999999999999999999999999999999999999");
  EXPECT_THROW(ParseDecimal("1.234", 5, 2), DecodeError);   // a digit would be lost
  EXPECT_THROW(ParseDecimal("12345", 4, 0), DecodeError);   // too many digits
  EXPECT_THROW(ParseDecimal("", 4, 0), DecodeError);
  EXPECT_THROW(ParseDecimal("1e5", 10, 0), DecodeError);
  EXPECT_THROW(ParseDecimal("1.2.3", 10, 2), DecodeError);
}

TEST(MysqlDecode, DatesAndTimestamps) {
  EXPECT_EQ(ToDate32(Date(1970, 1, 1)), 0);
  EXPECT_EQ(ToDate32(Date(2024, 2, 29)), 19782);
  EXPECT_EQ(ToDate32(Date(1969, 12, 31)), -1);
  EXPECT_EQ(ToDate32(Date(1000, 1, 1)), -354285);
  EXPECT_EQ(ToDate32(Date(9999, 12, 31)), 2932896);
  EXPECT_EQ(ToDate32(Date(0, 1, 1)), -719528);  // year 0 exists in MySQL (proleptic)
  EXPECT_THROW(ToDate32(Date(2023, 2, 29)), DecodeError);
  TimeParts t = Date(2024, 5, 6);
  t.hour = 7;
  t.minute = 8;
  t.second = 9;
  t.micros = 123456;
  EXPECT_EQ(ToTimestampMicros(t), 1714979289123456LL);
}

TEST(MysqlDecode, ZeroDatesAreErrorsThatSayWhatToDo) {
  EXPECT_TRUE(IsZeroDate(Date(0, 0, 0)));
  EXPECT_TRUE(IsZeroDate(Date(2024, 0, 15)));
  EXPECT_TRUE(IsZeroDate(Date(2024, 3, 0)));
  EXPECT_FALSE(IsZeroDate(Date(0, 1, 1)));
  try {
    ToDate32(Date(0, 0, 0));
    FAIL() << "expected a DecodeError";
  } catch (const DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("0000-00-00"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("zero_date=null"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ToTimestampMicros(Date(2024, 0, 0)), DecodeError);
}

TEST(MysqlDecode, TimeIsASignedDuration) {
  TimeParts t;
  t.hour = 838;
  t.minute = 59;
  t.second = 59;
  t.micros = 999999;
  EXPECT_EQ(ToDurationMicros(t), 3020399999999LL);
  t.negative = true;
  EXPECT_EQ(ToDurationMicros(t), -3020399999999LL);
  EXPECT_EQ(ToDurationMicros(TimeParts{}), 0);
}

TEST(MysqlDecode, BitsAreBigEndian) {
  EXPECT_EQ(BitsToUInt64("\x01", 1), 1u);
  EXPECT_EQ(BitsToUInt64("\x01\x00", 2), 256u);
  EXPECT_EQ(BitsToUInt64("\xff\xff\xff\xff\xff\xff\xff\xff", 8), UINT64_MAX);
  EXPECT_EQ(BitsToUInt64("", 0), 0u);
  EXPECT_THROW(BitsToUInt64("123456789", 9), DecodeError);
}

TEST(MysqlDecode, TextProtocolValues) {
  EXPECT_EQ(ParseTextInt("-128", INT8_MIN, INT8_MAX), -128);
  EXPECT_THROW(ParseTextInt("128", INT8_MIN, INT8_MAX), DecodeError);
  EXPECT_THROW(ParseTextInt("12x", INT64_MIN, INT64_MAX), DecodeError);
  EXPECT_EQ(ParseTextUInt("18446744073709551615", UINT64_MAX), UINT64_MAX);
  EXPECT_THROW(ParseTextUInt("-1", UINT64_MAX), DecodeError);
  EXPECT_DOUBLE_EQ(ParseTextDouble("2.5e-3"), 0.0025);

  TimeParts d = ParseTextDate("2024-02-29");
  EXPECT_EQ(ToDate32(d), 19782);
  EXPECT_TRUE(IsZeroDate(ParseTextDate("0000-00-00")));
  EXPECT_THROW(ParseTextDate("2024-2-29"), DecodeError);

  TimeParts ts = ParseTextDateTime("2024-05-06 07:08:09.123456");
  EXPECT_EQ(ToTimestampMicros(ts), 1714979289123456LL);
  EXPECT_EQ(ToTimestampMicros(ParseTextDateTime("2024-05-06 07:08:09.5")), 1714979289500000LL);
  EXPECT_EQ(ToTimestampMicros(ParseTextDateTime("2024-05-06T07:08:09")), 1714979289000000LL);
  EXPECT_THROW(ParseTextDateTime("2024-05-06 7:08:09"), DecodeError);

  EXPECT_EQ(ToDurationMicros(ParseTextTime("-838:59:59.000001")), -3020399000001LL);
  EXPECT_EQ(ToDurationMicros(ParseTextTime("12:00:00")), 43200000000LL);
  EXPECT_THROW(ParseTextTime("12:00"), DecodeError);
}

}  // namespace
}  // namespace dbpool::mysql::testing
