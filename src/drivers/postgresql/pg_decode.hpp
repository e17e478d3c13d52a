// PostgreSQL binary wire values (the types' send functions) -> Arrow-ready values and text.
// Pure functions over bytes, every read bounds-checked, so they can be tested without a server.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace dbpool::pg {

/// Thrown by the decoders; the reader prefixes the column name and rethrows it as a
/// DbError(kDataConversion).
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Days and microseconds from the Unix epoch to PostgreSQL's epoch, 2000-01-01.
inline constexpr int32_t kPgEpochDays = 10957;
inline constexpr int64_t kPgEpochMicros = int64_t{kPgEpochDays} * 86400 * 1000000;
inline constexpr int64_t kMicrosPerDay = int64_t{86400} * 1000000;

// The wire is big-endian (network order).
inline uint16_t LoadU16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return __builtin_bswap16(v);
}
inline uint32_t LoadU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return __builtin_bswap32(v);
}
inline uint64_t LoadU64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return __builtin_bswap64(v);
}
inline int16_t LoadI16(const char* p) { return static_cast<int16_t>(LoadU16(p)); }
inline int32_t LoadI32(const char* p) { return static_cast<int32_t>(LoadU32(p)); }
inline int64_t LoadI64(const char* p) { return static_cast<int64_t>(LoadU64(p)); }

/// Throws DecodeError unless a `type` value occupies exactly `expected` bytes.
inline void ExpectSize(int32_t size, int32_t expected, const char* type) {
  if (size != expected) {
    throw DecodeError(std::string(type) + " value has " + std::to_string(size) +
                      " bytes, expected " + std::to_string(expected));
  }
}

/// numeric -> unscaled Decimal128 value at `scale` (value * 10^scale), exactly. Throws for
/// NaN / Infinity, for digits beyond `scale` and for more than `precision` digits.
__int128 NumericToDecimal(const char* data, int32_t size, int32_t precision, int32_t scale);

/// numeric -> its exact decimal text as PostgreSQL prints it ("-12.50", "0.001", "NaN").
std::string NumericToText(const char* data, int32_t size);

/// date -> days since 1970-01-01; throws for -infinity / infinity.
int32_t DateToArrow(const char* data, int32_t size);

/// timestamp / timestamptz -> microseconds since 1970-01-01 (UTC for timestamptz: the wire
/// value is UTC whatever the session TimeZone); throws for infinities and overflow.
int64_t TimestampToArrow(const char* data, int32_t size);

/// timetz -> microseconds since midnight UTC (the zone offset applied, wrapped to a day).
int64_t TimeTzToUtc(const char* data, int32_t size);

/// uuid -> the canonical 36-character lowercase form, written to out[0..36).
void FormatUuid(const char* data, int32_t size, char* out);

/// inet / cidr -> "192.168.0.1", "10.0.0.0/8", "2001:db8::/32" (as inet_out / cidr_out).
std::string InetToText(const char* data, int32_t size);

/// macaddr (6 bytes) / macaddr8 (8 bytes) -> "08:00:2b:01:02:03".
std::string MacToText(const char* data, int32_t size, int32_t bytes);

/// bit / varbit -> "0101...".
std::string BitsToText(const char* data, int32_t size);

/// pg_lsn -> "16/B374D848".
std::string PgLsnToText(const char* data, int32_t size);

}  // namespace dbpool::pg
