// Unit tests of the SQLite driver's pure parts: value parsers, declared-type mapping and
// error classification (no database needed).
#include <gtest/gtest.h>

#include <cmath>

#include <sqlite3.h>

#include "arrow/civil.hpp"
#include "drivers/sqlite/sqlite_convert.hpp"
#include "drivers/sqlite/sqlite_error.hpp"
#include "drivers/sqlite/sqlite_statement.hpp"
#include "drivers/sqlite/sqlite_types.hpp"

namespace dbpool::sqlite {
namespace {

using arrow::TypeId;

__int128 Dec(std::string_view text, int p, int s) {
  __int128 v = 0;
  EXPECT_TRUE(ParseDecimal(text, p, s, &v)) << text;
  return v;
}

TEST(SqliteConvert, Decimal) {
  EXPECT_EQ(Dec("123.45", 10, 2), 12345);
  EXPECT_EQ(Dec("-0.5", 10, 2), -50);
  EXPECT_EQ(Dec("12", 4, 2), 1200);
  EXPECT_EQ(Dec("1.005", 10, 2), 101);   // half away from zero
  EXPECT_EQ(Dec("-1.005", 10, 2), -101);
  EXPECT_EQ(Dec("0.001", 10, 1), 0);
  EXPECT_EQ(Dec("0.05", 10, 1), 1);
  EXPECT_EQ(Dec("1.0e+20", 38, 0), __int128{100000000000000000} * 1000);
  EXPECT_EQ(Dec("1.5e-3", 10, 4), 15);
  EXPECT_EQ(Dec("0e100", 5, 2), 0);
  EXPECT_EQ(Dec("  7 ", 5, 0), 7);
  __int128 max38 = 0;
  for (int i = 0; i < 38; ++i) max38 = max38 * 10 + 9;
  EXPECT_EQ(Dec("99999999999999999999999999999999999999", 38, 0), max38);
  __int128 v;
  EXPECT_FALSE(ParseDecimal("999.995", 5, 2, &v));  // rounds to 1000.00: 6 digits
  EXPECT_FALSE(ParseDecimal("100000000000000000000000000000000000000", 38, 0, &v));
  EXPECT_FALSE(ParseDecimal("abc", 5, 2, &v));
  EXPECT_FALSE(ParseDecimal("1.2.3", 5, 2, &v));
  EXPECT_FALSE(ParseDecimal("1e", 5, 2, &v));
  EXPECT_FALSE(ParseDecimal("", 5, 2, &v));
  EXPECT_TRUE(IntToDecimal(-99999, 5, 0, &v));
  EXPECT_FALSE(IntToDecimal(100000, 5, 0, &v));
  EXPECT_FALSE(IntToDecimal(INT64_MAX, 38, 20, &v));
  EXPECT_TRUE(IntToDecimal(INT64_MAX, 38, 19, &v));
}

// The fast REAL -> decimal path must give exactly what formatting the double the way SQLite
// does and parsing that text gives, and refuse (fall back to the text) whenever it cannot.
TEST(SqliteConvert, DoubleToDecimalFastMatchesTextPath) {
  __int128 v = 0;
  EXPECT_TRUE(DoubleToDecimalFast(12.34, 15, 2, &v));
  EXPECT_EQ(v, 1234);
  EXPECT_TRUE(DoubleToDecimalFast(-0.07, 15, 2, &v));
  EXPECT_EQ(v, -7);
  EXPECT_TRUE(DoubleToDecimalFast(-0.0, 15, 2, &v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(DoubleToDecimalFast(9999999999999.99, 15, 2, &v));
  EXPECT_EQ(v, 999999999999999);
  EXPECT_FALSE(DoubleToDecimalFast(1.005, 15, 2, &v));    // 3 decimals: the text path rounds
  EXPECT_FALSE(DoubleToDecimalFast(0.1 + 0.2, 15, 2, &v));  // 0.30000000000000004
  EXPECT_FALSE(DoubleToDecimalFast(1000.0, 5, 2, &v));    // 7 digits > precision 5
  EXPECT_FALSE(DoubleToDecimalFast(1e300, 38, 2, &v));
  EXPECT_FALSE(DoubleToDecimalFast(std::nan(""), 15, 2, &v));
  EXPECT_FALSE(DoubleToDecimalFast(1e16, 38, 0, &v));     // past 15 digits: text path

  uint64_t state = 88172645463325252ull;  // xorshift: deterministic
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int fast = 0;
  for (int i = 0; i < 200000; ++i) {
    const int scale = static_cast<int>(next() % 5);
    const int precision = scale + 1 + static_cast<int>(next() % (16 - scale));
    double value;
    const bool decimal_shaped = i % 3 != 0;
    if (!decimal_shaped) {
      value = std::ldexp(static_cast<double>(next() >> 11), -static_cast<int>(next() % 60));
    } else {
      // Decimals of `scale` digits, as a DECIMAL column stores them.
      const int64_t unscaled = static_cast<int64_t>(next() % 2000000000000000ull) - 1000000000000000;
      value = static_cast<double>(unscaled) / std::pow(10.0, scale);
    }
    if (next() % 2) value = -value;
    char* text = sqlite3_mprintf("%!.15g", value);
    __int128 slow = 0;
    const bool slow_ok = ParseDecimal(text, precision, scale, &slow);
    __int128 quick = 0;
    const bool quick_ok = DoubleToDecimalFast(value, precision, scale, &quick);
    if (quick_ok) {
      ++fast;
      EXPECT_TRUE(slow_ok) << text << " p=" << precision << " s=" << scale;
      EXPECT_TRUE(quick == slow) << text << " p=" << precision << " s=" << scale;
    }
    // Every stored decimal that fits the column takes the fast path.
    if (decimal_shaped && slow_ok) EXPECT_TRUE(quick_ok) << text << " p=" << precision;
    sqlite3_free(text);
  }
  EXPECT_GT(fast, 10000);
}

TEST(SqliteConvert, Numbers) {
  int64_t i;
  double d;
  EXPECT_TRUE(ParseInt64("-9223372036854775808", &i));
  EXPECT_EQ(i, INT64_MIN);
  EXPECT_TRUE(ParseInt64(" +12 ", &i));
  EXPECT_EQ(i, 12);
  EXPECT_TRUE(ParseInt64("3.0", &i));
  EXPECT_EQ(i, 3);
  EXPECT_TRUE(ParseInt64("1e3", &i));
  EXPECT_EQ(i, 1000);
  EXPECT_FALSE(ParseInt64("1.5", &i));
  EXPECT_FALSE(ParseInt64("9223372036854775808", &i));
  EXPECT_FALSE(ParseInt64("12abc", &i));
  EXPECT_TRUE(ParseDouble(" -2.5e3", &d));
  EXPECT_EQ(d, -2500.0);
  EXPECT_FALSE(ParseDouble("nan", &d));
  EXPECT_FALSE(ParseDouble("x", &d));
  EXPECT_FALSE(DoubleToInt64(9223372036854775808.0, &i));
  EXPECT_TRUE(DoubleToInt64(-9223372036854775808.0, &i));
}

TEST(SqliteConvert, Temporal) {
  int32_t days;
  int64_t us;
  EXPECT_TRUE(ParseDate("1970-01-01", &days));
  EXPECT_EQ(days, 0);
  EXPECT_TRUE(ParseDate("2024-02-29", &days));
  EXPECT_EQ(days, 19782);
  EXPECT_FALSE(ParseDate("2023-02-29", &days));
  EXPECT_FALSE(ParseDate("2024-13-01", &days));
  EXPECT_FALSE(ParseDate("2024-1-01", &days));
  // The exact 'YYYY-MM-DD' fast path and the general (trimming) parser agree.
  EXPECT_TRUE(ParseDate("1999-12-31", &days));
  EXPECT_EQ(days, 10956);
  EXPECT_TRUE(ParseDate(" 1999-12-31 ", &days));
  EXPECT_EQ(days, 10956);
  EXPECT_TRUE(ParseDate("0001-01-01", &days));
  EXPECT_EQ(days, -719162);
  EXPECT_TRUE(ParseDate("9999-12-31", &days));
  EXPECT_EQ(days, 2932896);
  EXPECT_FALSE(ParseDate("2024-00-10", &days));
  EXPECT_FALSE(ParseDate("2024-04-31", &days));
  EXPECT_FALSE(ParseDate("2024-02-3a", &days));
  EXPECT_FALSE(ParseDate("2024/02/03", &days));
  EXPECT_FALSE(ParseDate("+024-02-03", &days));
  EXPECT_TRUE(ParseTimestamp("1970-01-01 00:00:01.5", &us));
  EXPECT_EQ(us, 1500000);
  EXPECT_TRUE(ParseTimestamp("1970-01-01T02:00:00+02:00", &us));
  EXPECT_EQ(us, 0);
  EXPECT_TRUE(ParseTimestamp("1970-01-01 00:00:00-0130", &us));
  EXPECT_EQ(us, 5400LL * 1000000);
  EXPECT_TRUE(ParseTimestamp("1970-01-02Z", &us));
  EXPECT_EQ(us, 86400LL * 1000000);
  EXPECT_TRUE(ParseTimestamp("1970-01-01 00:00:00.123456789", &us));  // ns truncated
  EXPECT_EQ(us, 123456);
  EXPECT_TRUE(ParseTimestamp("1970-01-01 10:20", &us));
  EXPECT_EQ(us, (10 * 3600 + 20 * 60) * 1000000LL);
  EXPECT_FALSE(ParseTimestamp("1970-01-01 24:00:00", &us));
  EXPECT_FALSE(ParseTimestamp("1970-01-01 00:00:00 junk", &us));
  EXPECT_FALSE(ParseTimestamp("1970-01-01 00:00:00.", &us));
  EXPECT_TRUE(ParseTime("23:59:59.999999", &us));
  EXPECT_EQ(us, 86399999999LL);
  EXPECT_FALSE(ParseTime("12:60", &us));
  EXPECT_TRUE(JulianDayToUnixMillis(2440587.5, &us));
  EXPECT_EQ(us, 0);
  EXPECT_FALSE(JulianDayToUnixMillis(-1.0, &us));
  EXPECT_EQ(arrow::DaysFromCivil(1, 1, 1), -719162);
  EXPECT_EQ(arrow::DaysFromCivil(9999, 12, 31), 2932896);
}

TEST(SqliteTypes, DeclaredTypes) {
  auto id = [](const char* decl) { return SpecFromDeclType(decl).type.id; };
  EXPECT_EQ(id("INTEGER"), TypeId::kInt64);
  EXPECT_EQ(id("tinyint"), TypeId::kInt64);
  EXPECT_EQ(id("UNSIGNED BIG INT"), TypeId::kInt64);
  EXPECT_EQ(id("BOOLEAN"), TypeId::kBoolean);
  EXPECT_EQ(id("bool"), TypeId::kBoolean);
  EXPECT_EQ(id("DOUBLE PRECISION"), TypeId::kFloat64);
  EXPECT_EQ(id("FLOAT"), TypeId::kFloat64);
  EXPECT_EQ(id("VARCHAR(255)"), TypeId::kString);
  EXPECT_EQ(id("CLOB"), TypeId::kString);
  EXPECT_EQ(id("JSON"), TypeId::kString);
  EXPECT_EQ(id("BLOB"), TypeId::kBinary);
  EXPECT_EQ(id("VARBINARY(16)"), TypeId::kBinary);
  EXPECT_EQ(id("DATE"), TypeId::kDate32);
  EXPECT_EQ(id("DATETIME"), TypeId::kTimestamp);
  EXPECT_EQ(id("TIMESTAMP(6)"), TypeId::kTimestamp);
  EXPECT_EQ(id("TIME"), TypeId::kTime64);
  EXPECT_EQ(SpecFromDeclType("TIMESTAMPTZ").type.timezone, "UTC");
  EXPECT_EQ(SpecFromDeclType("TIMESTAMP").type.timezone, "");
  auto dec = SpecFromDeclType("decimal( 10 , 2 )");
  EXPECT_EQ(dec.kind, ColumnKind::kDecimal);
  EXPECT_EQ(dec.type.precision, 10);
  EXPECT_EQ(dec.type.scale, 2);
  EXPECT_EQ(SpecFromDeclType("NUMERIC(7)").type.scale, 0);
  EXPECT_EQ(SpecFromDeclType("NUMERIC(60,4)").type.precision, 38);
  EXPECT_EQ(SpecFromDeclType("NUMERIC").kind, ColumnKind::kNumeric);
  EXPECT_EQ(SpecFromDeclType("DECIMAL(2,5)").kind, ColumnKind::kNumeric);  // invalid (p,s)
  EXPECT_EQ(SpecFromStorageClass(SQLITE_FLOAT).type.id, TypeId::kFloat64);
  EXPECT_EQ(SpecFromStorageClass(SQLITE_BLOB).type.id, TypeId::kBinary);
}

TEST(SqliteError, Classification) {
  EXPECT_EQ(SqlStateFor(SQLITE_ERROR, "near \"SELEC\": syntax error"), "42601");
  EXPECT_EQ(SqlStateFor(SQLITE_ERROR, "no such table: t"), "42P01");
  EXPECT_EQ(SqlStateFor(SQLITE_CONSTRAINT_UNIQUE, ""), "23505");
  EXPECT_EQ(SqlStateFor(SQLITE_CONSTRAINT_PRIMARYKEY, ""), "23505");
  EXPECT_EQ(SqlStateFor(SQLITE_BUSY_SNAPSHOT, ""), "55P03");
  EXPECT_EQ(SqlStateFor(SQLITE_ERROR, "something else"), "");
  EXPECT_TRUE(IsFatalCode(SQLITE_IOERR_READ));
  EXPECT_TRUE(IsFatalCode(SQLITE_CORRUPT));
  EXPECT_TRUE(IsFatalCode(SQLITE_NOTADB));
  EXPECT_FALSE(IsFatalCode(SQLITE_CONSTRAINT));
  EXPECT_EQ(MakeError(nullptr, SQLITE_INTERRUPT).kind(), ErrorKind::kCancelled);
  EXPECT_EQ(MakeError(nullptr, SQLITE_IOERR).kind(), ErrorKind::kConnection);
  EXPECT_EQ(MakeError(nullptr, SQLITE_ERROR).kind(), ErrorKind::kQuery);
}

TEST(SqliteStatement, BlankSql) {
  auto blank = [](std::string_view s) { return IsBlankSql(s.data(), s.data() + s.size()); };
  EXPECT_TRUE(blank(""));
  EXPECT_TRUE(blank(" ;\n -- note\n /* c */ ;"));
  EXPECT_TRUE(blank("/* unterminated"));
  EXPECT_FALSE(blank(" SELECT 1"));
  EXPECT_FALSE(blank("-- x\nSELECT 1"));
  EXPECT_FALSE(blank("- 1"));
}

}  // namespace
}  // namespace dbpool::sqlite
