// Exact conversions of SQLite values into Arrow representations: numbers from text,
// decimals, ISO-8601 dates/times and Julian day numbers.
#pragma once

#include <cstdint>
#include <string_view>

namespace dbpool::sqlite {

/// Integer literal (optional sign, surrounding spaces), or a real literal with an integral
/// value in range ("2.0", "1e3"). False for anything else.
bool ParseInt64(std::string_view text, int64_t* out);
/// Real literal as SQLite accepts it (surrounding spaces, exponent). False otherwise.
bool ParseDouble(std::string_view text, double* out);
/// True when `value` is integral and inside int64 (so the cast is exact).
bool DoubleToInt64(double value, int64_t* out);

/// A decimal literal ("-12.3400", "1.5e-3") as an unscaled integer with `scale` digits after
/// the point, rounded half away from zero when it has more; false when malformed or when
/// the result has more than `precision` digits.
bool ParseDecimal(std::string_view text, int32_t precision, int32_t scale, __int128* out);
/// value * 10^scale; false when it has more than `precision` digits.
bool IntToDecimal(int64_t value, int32_t precision, int32_t scale, __int128* out);
/// A stored REAL as a decimal, without formatting it: true (and the unscaled value) when
/// `value` is the double nearest to unscaled / 10^scale for an unscaled of at most
/// min(precision, 15) digits. Then SQLite's 15-significant-digit text of `value` is exactly
/// that decimal, so this gives what ParseDecimal(text) would. False otherwise (more digits
/// after the point, out of range, NaN...): the caller takes the text path, which rounds.
bool DoubleToDecimalFast(double value, int32_t precision, int32_t scale, __int128* out);
/// 10^n for 0 <= n <= 38.
__int128 PowerOfTen(int32_t n);

/// 'YYYY-MM-DD' -> days since 1970-01-01.
bool ParseDate(std::string_view text, int32_t* days);
/// 'YYYY-MM-DD[( |T)HH:MM[:SS[.fffffffff]]][Z|(+|-)HH[:MM]]' -> microseconds since the
/// epoch in UTC (an offset is subtracted; digits past microseconds are truncated).
bool ParseTimestamp(std::string_view text, int64_t* micros);
/// 'HH:MM[:SS[.ffffff]]' -> microseconds since midnight.
bool ParseTime(std::string_view text, int64_t* micros);
/// A Julian day number (what SQLite's julianday() returns) -> Unix milliseconds, rounded
/// the way SQLite's own date functions do; false outside SQLite's range (years 0-9999).
bool JulianDayToUnixMillis(double julian_day, int64_t* millis);

}  // namespace dbpool::sqlite
