// Exact value conversions used by the SQLite reader; pure functions, tested without a DB.
#include "drivers/sqlite/sqlite_convert.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

#include "arrow/civil.hpp"

namespace dbpool::sqlite {
namespace {

// std::isspace's set in the C locale, inline: Trim runs on every parsed cell.
bool IsSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

// Reads exactly `n` digits at text[*pos] into *value.
bool Digits(std::string_view text, size_t* pos, int n, int* value) {
  if (*pos + n > text.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = text[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *value = v;
  return true;
}

bool IsLeap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeap(year) ? 29 : kDays[month - 1];
}

bool ParseDateAt(std::string_view text, size_t* pos, int64_t* days) {
  int year, month, day;
  if (!Digits(text, pos, 4, &year) || *pos >= text.size() || text[(*pos)++] != '-' ||
      !Digits(text, pos, 2, &month) || *pos >= text.size() || text[(*pos)++] != '-' ||
      !Digits(text, pos, 2, &day)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return false;
  *days = arrow::DaysFromCivil(year, month, day);
  return true;
}

// HH:MM[:SS[.fraction]] -> microseconds; stops before anything else.
bool ParseTimeAt(std::string_view text, size_t* pos, int64_t* micros) {
  int hour, minute, second = 0;
  if (!Digits(text, pos, 2, &hour) || *pos >= text.size() || text[(*pos)++] != ':' ||
      !Digits(text, pos, 2, &minute)) {
    return false;
  }
  int64_t fraction = 0;
  if (*pos < text.size() && text[*pos] == ':') {
    ++*pos;
    if (!Digits(text, pos, 2, &second)) return false;
    if (*pos < text.size() && text[*pos] == '.') {
      ++*pos;
      int digits = 0;
      while (*pos < text.size() && std::isdigit(static_cast<unsigned char>(text[*pos]))) {
        // Microsecond resolution: later digits are read and dropped (truncation).
        if (digits < 6) fraction = fraction * 10 + (text[*pos] - '0');
        ++digits;
        ++*pos;
      }
      if (digits == 0) return false;
      for (int i = digits; i < 6; ++i) fraction *= 10;
    }
  }
  if (hour > 23 || minute > 59 || second > 59) return false;
  *micros = ((hour * 60 + minute) * 60 + second) * int64_t{1000000} + fraction;
  return true;
}

}  // namespace

bool ParseDouble(std::string_view text, double* out) {
  text = Trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(*out);
}

bool DoubleToInt64(double value, int64_t* out) {
  // 2^63 is exactly representable; every double below it in magnitude casts exactly.
  if (!(value >= -9223372036854775808.0 && value < 9223372036854775808.0)) return false;
  if (std::trunc(value) != value) return false;
  *out = static_cast<int64_t>(value);
  return true;
}

bool ParseInt64(std::string_view text, int64_t* out) {
  text = Trim(text);
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *out);
  if (ec == std::errc() && ptr == digits.data() + digits.size() && !digits.empty()) return true;
  double value;
  return ParseDouble(text, &value) && DoubleToInt64(value, out);
}

namespace {

constexpr int32_t kMaxPowerOfTen = 38;

struct PowersOfTen {
  __int128 values[kMaxPowerOfTen + 1];
  constexpr PowersOfTen() : values() {
    values[0] = 1;
    for (int i = 1; i <= kMaxPowerOfTen; ++i) values[i] = values[i - 1] * 10;
  }
};
constexpr PowersOfTen kPowers;

// Doubles hold every integer below 2^53 exactly, and 15 significant digits is what SQLite
// prints (and what a double round-trips): the fast path stays inside both.
constexpr int32_t kFastDigits = 15;
constexpr double kPowersDouble[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
                                    1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

}  // namespace

__int128 PowerOfTen(int32_t n) { return kPowers.values[n]; }

bool IntToDecimal(int64_t value, int32_t precision, int32_t scale, __int128* out) {
  // |value| < 2^63 < 10^19, so value * 10^scale fits __int128 whenever scale <= 19; past
  // that precision (<= 38) is exceeded unless value is 0... which the check below handles
  // without overflow by comparing before multiplying.
  if (precision < 0 || precision > kMaxPowerOfTen || scale < 0 || scale > kMaxPowerOfTen) {
    return false;
  }
  const __int128 factor = kPowers.values[scale];
  const __int128 v = value;
  if (scale > precision) {
    if (v != 0) return false;
    *out = 0;
    return true;
  }
  // |v| * factor < 10^precision  <=>  |v| < 10^(precision - scale) (powers of ten: exact).
  const __int128 bound = kPowers.values[precision - scale];
  if (v >= bound || v <= -bound) return false;
  *out = v * factor;
  return true;
}

bool DoubleToDecimalFast(double value, int32_t precision, int32_t scale, __int128* out) {
  if (scale < 0 || scale > kFastDigits || precision <= 0) return false;
  const int32_t digits = precision < kFastDigits ? precision : kFastDigits;
  const double scaled = value * kPowersDouble[scale];
  const double limit = kPowersDouble[digits];
  // Also false for NaN (every comparison is).
  if (!(scaled > -limit && scaled < limit)) return false;
  const double rounded = std::nearbyint(scaled);
  const int64_t unscaled = static_cast<int64_t>(rounded);
  // |unscaled| < 10^15 < 2^53: exact as a double, and the division is correctly rounded,
  // so equality means `value` is the double nearest to unscaled / 10^scale.
  if (static_cast<double>(unscaled) / kPowersDouble[scale] != value) return false;
  if (unscaled >= 1000000000000000 || unscaled <= -1000000000000000) return false;
  *out = unscaled;
  return true;
}

bool ParseDecimal(std::string_view text, int32_t precision, int32_t scale, __int128* out) {
  text = Trim(text);
  size_t pos = 0;
  bool negative = false;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) negative = text[pos++] == '-';
  // Significant digits without leading zeros, and the power of ten of the last one.
  std::string digits;
  int64_t exponent = 0;
  bool any_digit = false;
  bool after_point = false;
  for (; pos < text.size(); ++pos) {
    char c = text[pos];
    if (c == '.' && !after_point) {
      after_point = true;
    } else if (c >= '0' && c <= '9') {
      any_digit = true;
      if (!digits.empty() || c != '0') digits.push_back(c);
      if (after_point) --exponent;
    } else {
      break;
    }
  }
  if (!any_digit) return false;
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    if (pos < text.size() && text[pos] == '+') ++pos;
    int e = 0;
    auto [ptr, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), e);
    if (ec != std::errc() || ptr != text.data() + text.size()) return false;
    exponent += e;
    pos = text.size();
  }
  if (pos != text.size()) return false;
  if (digits.empty()) {
    *out = 0;
    return true;
  }

  // Keep the digits down to 10^-scale, rounding on the first dropped one.
  int64_t keep = static_cast<int64_t>(digits.size()) + exponent + scale;
  bool round_up = false;
  if (keep < static_cast<int64_t>(digits.size())) {
    round_up = keep >= 0 && digits[keep] >= '5';
    digits.resize(keep < 0 ? 0 : keep);
  }
  int64_t trailing_zeros = keep - static_cast<int64_t>(digits.size());
  // Without leading zeros, more digits than `precision` means out of range (and this bound
  // keeps the arithmetic below inside __int128).
  if (static_cast<int64_t>(digits.size()) + trailing_zeros > precision) return false;
  __int128 limit = 1;
  for (int i = 0; i < precision; ++i) limit *= 10;
  __int128 value = 0;
  for (char c : digits) value = value * 10 + (c - '0');
  for (int64_t i = 0; i < trailing_zeros; ++i) value *= 10;
  if (round_up) ++value;
  if (value >= limit) return false;
  *out = negative ? -value : value;
  return true;
}

bool ParseDate(std::string_view text, int32_t* days) {
  // Fast path for exactly 'YYYY-MM-DD' (how SQLite's date() writes dates): no trimming and
  // one digit check for all eight digits; anything else takes the general parser.
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    // Unsigned wrap-around makes any byte below '0' large too: one compare per digit.
    const unsigned y0 = p[0] - 48u, y1 = p[1] - 48u, y2 = p[2] - 48u, y3 = p[3] - 48u;
    const unsigned m0 = p[5] - 48u, m1 = p[6] - 48u, d0 = p[8] - 48u, d1 = p[9] - 48u;
    const bool bad = (y0 > 9) | (y1 > 9) | (y2 > 9) | (y3 > 9) | (m0 > 9) | (m1 > 9) |
                     (d0 > 9) | (d1 > 9);  // bitwise: no branch per digit
    if (!bad) {
      const int year = static_cast<int>(y0 * 1000 + y1 * 100 + y2 * 10 + y3);
      const int month = static_cast<int>(m0 * 10 + m1);
      const int day = static_cast<int>(d0 * 10 + d1);
      if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return false;
      *days = static_cast<int32_t>(arrow::DaysFromCivil(year, month, day));
      return true;
    }
  }
  text = Trim(text);
  size_t pos = 0;
  int64_t d;
  if (!ParseDateAt(text, &pos, &d) || pos != text.size()) return false;
  *days = static_cast<int32_t>(d);
  return true;
}

bool ParseTimestamp(std::string_view text, int64_t* micros) {
  text = Trim(text);
  size_t pos = 0;
  int64_t days;
  if (!ParseDateAt(text, &pos, &days)) return false;
  int64_t time = 0;
  if (pos < text.size() && (text[pos] == ' ' || text[pos] == 'T' || text[pos] == 't')) {
    ++pos;
    if (!ParseTimeAt(text, &pos, &time)) return false;
  }
  while (pos < text.size() && text[pos] == ' ') ++pos;
  int64_t offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos++] == '-' ? -1 : 1;
    int hours, minutes = 0;
    if (!Digits(text, &pos, 2, &hours)) return false;
    if (pos < text.size() && text[pos] == ':') ++pos;
    if (pos < text.size() && !Digits(text, &pos, 2, &minutes)) return false;
    if (hours > 23 || minutes > 59) return false;
    offset_minutes = sign * (hours * 60 + minutes);
  }
  if (pos != text.size()) return false;
  *micros = days * 86400 * int64_t{1000000} + time - offset_minutes * 60 * int64_t{1000000};
  return true;
}

bool ParseTime(std::string_view text, int64_t* micros) {
  text = Trim(text);
  size_t pos = 0;
  return ParseTimeAt(text, &pos, micros) && pos == text.size();
}

bool JulianDayToUnixMillis(double julian_day, int64_t* millis) {
  // Same bounds and rounding as SQLite's date.c (validJulianDay, setRawDateNumber).
  if (!(julian_day >= 0.0 && julian_day <= 5373484.4999999)) return false;
  int64_t julian_millis = static_cast<int64_t>(julian_day * 86400000.0 + 0.5);
  *millis = julian_millis - int64_t{210866760000000};  // 1970-01-01 00:00 as Julian ms
  return true;
}

}  // namespace dbpool::sqlite
