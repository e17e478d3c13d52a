// MySQL value decoders: calendar arithmetic, DECIMAL text, BIT bytes, text-protocol parsing.
#include "drivers/mysql/mysql_decode.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

#include "arrow/civil.hpp"

namespace dbpool::mysql {
namespace {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kSecondsPerDay = 86400;

bool IsLeap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

uint32_t DaysInMonth(int64_t year, uint32_t month) {
  static constexpr uint8_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeap(year) ? 29 : kDays[month - 1];
}

std::string DateText(const TimeParts& t) {
  char text[32];
  std::snprintf(text, sizeof(text), "%04u-%02u-%02u", t.year, t.month, t.day);
  return text;
}

int64_t CheckedDays(const TimeParts& t) {
  if (IsZeroDate(t)) {
    throw DecodeError("zero date '" + DateText(t) +
                      "' is not a calendar day (use the connection option zero_date=null to "
                      "read zero dates as NULL)");
  }
  if (t.month > 12 || t.day > DaysInMonth(t.year, t.month)) {
    throw DecodeError("invalid date '" + DateText(t) + "'");
  }
  return arrow::DaysFromCivil(t.year, t.month, t.day);
}

[[noreturn]] void Invalid(const char* what, std::string_view text) {
  throw DecodeError(std::string("invalid ") + what + " text '" + std::string(text) + "'");
}

// Reads exactly `digits` decimal digits at text[*pos]; false if they are not there.
bool ReadFixed(std::string_view text, size_t* pos, int digits, uint32_t* out) {
  uint32_t value = 0;
  for (int i = 0; i < digits; ++i) {
    if (*pos >= text.size() || text[*pos] < '0' || text[*pos] > '9') return false;
    value = value * 10 + static_cast<uint32_t>(text[(*pos)++] - '0');
  }
  *out = value;
  return true;
}

// Reads ".ffffff" (1 to 6 digits, fewer are scaled up) when present.
bool ReadFraction(std::string_view text, size_t* pos, uint32_t* micros) {
  *micros = 0;
  if (*pos >= text.size()) return true;
  if (text[*pos] != '.') return false;
  ++*pos;
  int digits = 0;
  while (*pos < text.size() && text[*pos] >= '0' && text[*pos] <= '9') {
    if (digits < 6) *micros = *micros * 10 + static_cast<uint32_t>(text[*pos] - '0');
    ++digits;
    ++*pos;
  }
  if (digits == 0) return false;
  for (int i = digits; i < 6; ++i) *micros *= 10;
  return true;
}

bool ReadDate(std::string_view text, size_t* pos, TimeParts* t) {
  return ReadFixed(text, pos, 4, &t->year) && *pos < text.size() && text[(*pos)++] == '-' &&
         ReadFixed(text, pos, 2, &t->month) && *pos < text.size() && text[(*pos)++] == '-' &&
         ReadFixed(text, pos, 2, &t->day);
}

}  // namespace

bool IsZeroDate(const TimeParts& t) { return t.month == 0 || t.day == 0; }

int32_t ToDate32(const TimeParts& t) { return static_cast<int32_t>(CheckedDays(t)); }

int64_t ToTimestampMicros(const TimeParts& t) {
  const int64_t days = CheckedDays(t);
  if (t.hour > 23 || t.minute > 59 || t.second > 59 || t.micros >= kMicrosPerSecond) {
    throw DecodeError("invalid time of day in '" + DateText(t) + "'");
  }
  const int64_t seconds = days * kSecondsPerDay + static_cast<int64_t>(t.hour) * 3600 +
                          t.minute * 60 + t.second;
  return seconds * kMicrosPerSecond + t.micros;
}

int64_t ToDurationMicros(const TimeParts& t) {
  // TIME spans +-838:59:59; the guard only keeps a corrupt value from overflowing.
  if (t.hour > 1000000 || t.minute > 59 || t.second > 59 || t.micros >= kMicrosPerSecond) {
    throw DecodeError("invalid TIME value");
  }
  const int64_t micros =
      ((static_cast<int64_t>(t.hour) * 60 + t.minute) * 60 + t.second) * kMicrosPerSecond +
      t.micros;
  return t.negative ? -micros : micros;
}

__int128 ParseDecimal(std::string_view text, int32_t precision, int32_t scale) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  __int128 value = 0;
  int32_t digits = 0;  // significant digits kept in `value`
  int32_t fraction = 0;
  bool any = false;
  bool point = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.' && !point) {
      point = true;
      continue;
    }
    if (c < '0' || c > '9') Invalid("DECIMAL", text);
    any = true;
    if (point) {
      if (fraction >= scale) {
        // More fraction digits than the column's scale: only zeros may be dropped.
        if (c != '0') {
          throw DecodeError("DECIMAL value " + std::string(text) + " has more than " +
                            std::to_string(scale) + " fraction digits");
        }
        continue;
      }
      ++fraction;
    }
    if (value == 0 && c == '0' && !point) continue;  // leading zeros
    if (++digits > 38) Invalid("DECIMAL (more than 38 digits)", text);
    value = value * 10 + (c - '0');
  }
  if (!any) Invalid("DECIMAL", text);
  for (; fraction < scale; ++fraction) {
    if (value != 0 && ++digits > 38) Invalid("DECIMAL (more than 38 digits)", text);
    value *= 10;
  }
  if (digits > precision) {
    throw DecodeError("DECIMAL value " + std::string(text) + " does not fit DECIMAL(" +
                      std::to_string(precision) + ", " + std::to_string(scale) + ")");
  }
  return negative ? -value : value;
}

uint64_t BitsToUInt64(const char* data, size_t size) {
  if (size > 8) throw DecodeError("BIT value has " + std::to_string(size) + " bytes (at most 8)");
  uint64_t value = 0;
  for (size_t i = 0; i < size; ++i) value = (value << 8) | static_cast<unsigned char>(data[i]);
  return value;
}

int64_t ParseTextInt(std::string_view text, int64_t min, int64_t max) {
  std::string copy(text);
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(copy.c_str(), &end, 10);
  if (copy.empty() || *end != '\0' || errno == ERANGE || v < min || v > max) {
    Invalid("integer", text);
  }
  return v;
}

uint64_t ParseTextUInt(std::string_view text, uint64_t max) {
  std::string copy(text);
  errno = 0;
  char* end = nullptr;
  if (copy.empty() || copy[0] == '-') Invalid("unsigned integer", text);
  unsigned long long v = std::strtoull(copy.c_str(), &end, 10);
  if (*end != '\0' || errno == ERANGE || v > max) Invalid("unsigned integer", text);
  return v;
}

double ParseTextDouble(std::string_view text) {
  std::string copy(text);
  char* end = nullptr;
  double v = std::strtod(copy.c_str(), &end);
  if (copy.empty() || *end != '\0') Invalid("floating point", text);
  return v;
}

TimeParts ParseTextDate(std::string_view text) {
  TimeParts t;
  size_t pos = 0;
  if (!ReadDate(text, &pos, &t) || pos != text.size()) Invalid("DATE", text);
  return t;
}

TimeParts ParseTextDateTime(std::string_view text) {
  TimeParts t;
  size_t pos = 0;
  if (!ReadDate(text, &pos, &t)) Invalid("DATETIME", text);
  if (pos == text.size()) return t;
  uint32_t hour = 0;
  if ((text[pos] != ' ' && text[pos] != 'T') || !ReadFixed(text, &++pos, 2, &hour) ||
      pos >= text.size() || text[pos++] != ':' || !ReadFixed(text, &pos, 2, &t.minute) ||
      pos >= text.size() || text[pos++] != ':' || !ReadFixed(text, &pos, 2, &t.second) ||
      !ReadFraction(text, &pos, &t.micros) || pos != text.size()) {
    Invalid("DATETIME", text);
  }
  t.hour = hour;
  return t;
}

TimeParts ParseTextTime(std::string_view text) {
  TimeParts t;
  size_t pos = 0;
  if (pos < text.size() && text[pos] == '-') {
    t.negative = true;
    ++pos;
  }
  size_t start = pos;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    t.hour = t.hour * 10 + static_cast<uint64_t>(text[pos++] - '0');
    if (pos - start > 7) Invalid("TIME", text);
  }
  if (pos == start || pos >= text.size() || text[pos++] != ':' ||
      !ReadFixed(text, &pos, 2, &t.minute) || pos >= text.size() || text[pos++] != ':' ||
      !ReadFixed(text, &pos, 2, &t.second) || !ReadFraction(text, &pos, &t.micros) ||
      pos != text.size()) {
    Invalid("TIME", text);
  }
  return t;
}

}  // namespace dbpool::mysql
