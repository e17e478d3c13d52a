// MySQL values -> Arrow-ready values: DECIMAL text, calendar dates and times, BIT bytes, and
// the text-protocol forms. Pure functions (no client library types), testable without a server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

namespace dbpool::mysql {

/// Thrown by the decoders; the reader prefixes the column name and row and rethrows it as a
/// DbError(kDataConversion).
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A date / datetime / time value as the client library reports it (MYSQL_TIME) or as the
/// text protocol spells it. For TIME, `hour` holds all the hours (up to 838).
struct TimeParts {
  bool negative = false;
  uint32_t year = 0;
  uint32_t month = 0;
  uint32_t day = 0;
  uint64_t hour = 0;
  uint32_t minute = 0;
  uint32_t second = 0;
  uint32_t micros = 0;
};

/// True for MySQL's zero date '0000-00-00' and the partial zero dates ('2024-00-15',
/// '2024-03-00') that sql_mode without NO_ZERO_IN_DATE lets a column hold: none of them is a
/// calendar day.
bool IsZeroDate(const TimeParts& t);

/// Days since 1970-01-01 (proleptic Gregorian). Throws for a zero date or an invalid day.
int32_t ToDate32(const TimeParts& t);

/// Microseconds since 1970-01-01 00:00:00 (of the zone the value is in). Throws for a zero
/// date or an invalid day.
int64_t ToTimestampMicros(const TimeParts& t);

/// A TIME value (-838:59:59.999999 .. 838:59:59.999999) as signed microseconds.
int64_t ToDurationMicros(const TimeParts& t);

/// DECIMAL text as the server sends it ("-123.45", "0.001", "42") -> the unscaled value at
/// `scale` (value * 10^scale). Fewer fraction digits than `scale` are padded; more are an
/// error unless they are zeros; more than `precision` digits in all are an error.
__int128 ParseDecimal(std::string_view text, int32_t precision, int32_t scale);

/// BIT(n) value bytes (big-endian, 1..8 bytes) -> the number.
uint64_t BitsToUInt64(const char* data, size_t size);

// ---- Text protocol (queries that cannot be prepared) ----

/// Whole number in base 10 with an optional sign; throws unless it is in [min, max].
int64_t ParseTextInt(std::string_view text, int64_t min, int64_t max);
/// Unsigned whole number in base 10; throws unless it is <= max.
uint64_t ParseTextUInt(std::string_view text, uint64_t max);
/// Floating point text (also "inf", "-inf", "nan" which MySQL never sends, but harmless).
double ParseTextDouble(std::string_view text);
/// 'YYYY-MM-DD'.
TimeParts ParseTextDate(std::string_view text);
/// 'YYYY-MM-DD HH:MM:SS[.ffffff]' (also with 'T').
TimeParts ParseTextDateTime(std::string_view text);
/// '[-]H...H:MM:SS[.ffffff]'.
TimeParts ParseTextTime(std::string_view text);

}  // namespace dbpool::mysql
