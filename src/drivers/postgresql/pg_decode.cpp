// Decoders for the binary forms of numeric, temporal, network and other PostgreSQL types.
#include "drivers/postgresql/pg_decode.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <string>
#include <limits>

namespace dbpool::pg {
namespace {

// numeric_send sign words (src/backend/utils/adt/numeric.c).
constexpr uint16_t kNumericPos = 0x0000;
constexpr uint16_t kNumericNeg = 0x4000;
constexpr uint16_t kNumericNaN = 0xC000;
constexpr uint16_t kNumericPInf = 0xD000;
constexpr uint16_t kNumericNInf = 0xF000;
constexpr int kDecDigits = 4;  // numeric digits are base 10000

// PGSQL_AF_INET / PGSQL_AF_INET6 of inet_send (utils/inet.h): AF_INET + 0 / + 1.
constexpr uint8_t kPgAfInet = 2;
constexpr uint8_t kPgAfInet6 = 3;

constexpr int kMaxDecimalDigits = 38;

struct Pow10Table {
  __int128 values[kMaxDecimalDigits + 1];
  constexpr Pow10Table() : values() {
    values[0] = 1;
    for (int i = 1; i <= kMaxDecimalDigits; ++i) values[i] = values[i - 1] * 10;
  }
};
constexpr Pow10Table kPow10Table;

// 10^n for 0 <= n <= 38 (callers bound n).
__int128 Pow10(int n) { return kPow10Table.values[n]; }


// (10^38 - 1) / 10^n: the largest value that can be multiplied by 10^n and stay within 38
// digits. A table, because a 128-bit division per digit group (__divti3) cost more than
// the rest of the conversion.
struct HeadroomTable {
  __int128 values[kMaxDecimalDigits + 1];
  constexpr HeadroomTable() : values() {
    for (int i = 0; i <= kMaxDecimalDigits; ++i) {
      values[i] = (kPow10Table.values[kMaxDecimalDigits] - 1) / kPow10Table.values[i];
    }
  }
};
constexpr HeadroomTable kHeadroom;

constexpr int kPow10Int[] = {1, 10, 100, 1000, 10000};
constexpr int64_t kPow10Long[] = {1LL,
                                  10LL,
                                  100LL,
                                  1000LL,
                                  10000LL,
                                  100000LL,
                                  1000000LL,
                                  10000000LL,
                                  100000000LL,
                                  1000000000LL,
                                  10000000000LL,
                                  100000000000LL,
                                  1000000000000LL,
                                  10000000000000LL,
                                  100000000000000LL,
                                  1000000000000000LL,
                                  10000000000000000LL,
                                  100000000000000000LL,
                                  1000000000000000000LL};

struct NumericHeader {
  int ndigits;
  int weight;
  uint16_t sign;
  int dscale;
};

// Checks the header and the total size so that every digit read stays inside the value.
NumericHeader ReadNumericHeader(const char* data, int32_t size) {
  if (size < 8) throw DecodeError("numeric value has " + std::to_string(size) + " bytes");
  NumericHeader h{LoadI16(data), LoadI16(data + 2), LoadU16(data + 4), LoadI16(data + 6)};
  if (h.ndigits < 0 || size != 8 + 2 * h.ndigits) {
    throw DecodeError("numeric value has " + std::to_string(size) + " bytes for " +
                      std::to_string(h.ndigits) + " digits");
  }
  if (h.sign != kNumericPos && h.sign != kNumericNeg && h.sign != kNumericNaN &&
      h.sign != kNumericPInf && h.sign != kNumericNInf) {
    throw DecodeError("numeric value has an invalid sign word");
  }
  return h;
}

int NumericDigit(const char* data, int i) {
  int digit = LoadI16(data + 8 + 2 * i);
  if (digit < 0 || digit > 9999) throw DecodeError("numeric value has an invalid digit");
  return digit;
}

void AppendDigits(int digit, bool pad, std::string* out) {
  char buf[8];
  int n = std::snprintf(buf, sizeof(buf), pad ? "%04d" : "%d", digit);
  out->append(buf, static_cast<size_t>(n));
}

}  // namespace

__int128 NumericToDecimal(const char* data, int32_t size, int32_t precision, int32_t scale) {
  NumericHeader h = ReadNumericHeader(data, size);
  if (h.sign == kNumericNaN) throw DecodeError("NaN cannot be a Decimal128");
  if (h.sign == kNumericPInf || h.sign == kNumericNInf) {
    throw DecodeError("Infinity cannot be a Decimal128");
  }
  // Digit i is worth digit * 10^(4 * (weight - i)); at the target scale that is
  // digit * 10^p with p = 4 * (weight - i) + scale. Horner over the digits with p >= 0,
  // then a partial last digit when the scale ends inside it; acc * 10^last_p is the value.
  if (kDecDigits * (h.weight + 1) + scale <= 18 && scale >= 0) {
    // At most 18 digits at this scale (prices, quantities): every step fits in an int64,
    // and the total is below 10^18, so no overflow checks are needed.
    int64_t acc = 0;
    int last_p = 0;
    for (int i = 0; i < h.ndigits; ++i) {
      int digit = NumericDigit(data, i);
      int p = kDecDigits * (h.weight - i) + scale;
      if (p >= 0) {
        acc = acc * 10000 + digit;
        last_p = p;
      } else if (p > -kDecDigits) {
        int divisor = kPow10Int[-p];
        if (digit % divisor != 0) {
          throw DecodeError("numeric value has more fractional digits than scale " +
                            std::to_string(scale));
        }
        acc = acc * kPow10Int[kDecDigits + p] + digit / divisor;
        last_p = 0;
      } else if (digit != 0) {
        throw DecodeError("numeric value has more fractional digits than scale " +
                          std::to_string(scale));
      }
    }
    if (acc != 0 && last_p > 0) acc *= kPow10Long[last_p];
    if (acc >= Pow10(precision)) {
      throw DecodeError("numeric value exceeds precision " + std::to_string(precision));
    }
    return h.sign == kNumericNeg ? -__int128{acc} : __int128{acc};
  }
  __int128 acc = 0;
  int last_p = 0;
  for (int i = 0; i < h.ndigits; ++i) {
    int digit = NumericDigit(data, i);
    int p = kDecDigits * (h.weight - i) + scale;
    if (p >= 0) {
      if (acc > kHeadroom.values[kDecDigits]) throw DecodeError("numeric value exceeds 38 digits");
      acc = acc * 10000 + digit;
      last_p = p;
    } else if (p > -kDecDigits) {
      int divisor = static_cast<int>(Pow10(-p));
      if (digit % divisor != 0) {
        throw DecodeError("numeric value has more fractional digits than scale " +
                          std::to_string(scale));
      }
      int shift = kDecDigits + p;  // decimal digits of this group inside the scale
      if (acc > kHeadroom.values[shift]) {
        throw DecodeError("numeric value exceeds 38 digits");
      }
      acc = acc * Pow10(shift) + digit / divisor;
      last_p = 0;
    } else if (digit != 0) {
      throw DecodeError("numeric value has more fractional digits than scale " +
                        std::to_string(scale));
    }
  }
  if (acc != 0 && last_p > 0) {
    if (last_p > kMaxDecimalDigits || acc > kHeadroom.values[last_p]) {
      throw DecodeError("numeric value exceeds 38 digits");
    }
    acc *= Pow10(last_p);
  }
  if (acc >= Pow10(precision)) {
    throw DecodeError("numeric value exceeds precision " + std::to_string(precision));
  }
  return h.sign == kNumericNeg ? -acc : acc;
}

std::string NumericToText(const char* data, int32_t size) {
  NumericHeader h = ReadNumericHeader(data, size);
  if (h.sign == kNumericNaN) return "NaN";
  if (h.sign == kNumericPInf) return "Infinity";
  if (h.sign == kNumericNInf) return "-Infinity";
  std::string out;
  if (h.sign == kNumericNeg) out.push_back('-');
  // Same layout as get_str_from_var(): integer groups weight..0, then dscale digits.
  if (h.weight < 0) {
    out.push_back('0');
  } else {
    for (int i = 0; i <= h.weight; ++i) {
      int digit = i < h.ndigits ? NumericDigit(data, i) : 0;
      AppendDigits(digit, i > 0, &out);
    }
  }
  if (h.dscale > 0) {
    out.push_back('.');
    size_t end = out.size() + static_cast<size_t>(h.dscale);
    for (int i = h.weight + 1; out.size() < end; ++i) {
      int digit = (i >= 0 && i < h.ndigits) ? NumericDigit(data, i) : 0;
      AppendDigits(digit, true, &out);
    }
    out.resize(end);
  }
  return out;
}

int32_t DateToArrow(const char* data, int32_t size) {
  ExpectSize(size, 4, "date");
  int32_t days = LoadI32(data);
  // DATEVAL_NOBEGIN / DATEVAL_NOEND are the int32 extremes.
  if (days == std::numeric_limits<int32_t>::min() || days == std::numeric_limits<int32_t>::max()) {
    throw DecodeError(std::string("date ") + (days < 0 ? "-infinity" : "infinity") +
                      " has no Date32 value; filter it out or cast the column with ::text");
  }
  int32_t out;
  if (__builtin_add_overflow(days, kPgEpochDays, &out)) throw DecodeError("date out of range");
  return out;
}

int64_t TimestampToArrow(const char* data, int32_t size) {
  ExpectSize(size, 8, "timestamp");
  int64_t micros = LoadI64(data);
  // DT_NOBEGIN / DT_NOEND are the int64 extremes.
  if (micros == std::numeric_limits<int64_t>::min() ||
      micros == std::numeric_limits<int64_t>::max()) {
    throw DecodeError(std::string("timestamp ") + (micros < 0 ? "-infinity" : "infinity") +
                      " has no Timestamp value; filter it out or cast the column with ::text");
  }
  int64_t out;
  if (__builtin_add_overflow(micros, kPgEpochMicros, &out)) {
    throw DecodeError("timestamp out of the range of Timestamp(us)");
  }
  return out;
}

int64_t TimeTzToUtc(const char* data, int32_t size) {
  ExpectSize(size, 12, "timetz");
  int64_t micros = LoadI64(data);
  // The zone is in seconds *west* of UTC (12:00+02 is sent as 12:00 with zone -7200), so
  // UTC = local + zone.
  int64_t zone = LoadI32(data + 8);
  int64_t utc = (micros + zone * 1000000) % kMicrosPerDay;
  return utc < 0 ? utc + kMicrosPerDay : utc;
}

void FormatUuid(const char* data, int32_t size, char* out) {
  ExpectSize(size, 16, "uuid");
  static constexpr char kHex[] = "0123456789abcdef";
  int o = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    auto byte = static_cast<uint8_t>(data[i]);
    out[o++] = kHex[byte >> 4];
    out[o++] = kHex[byte & 15];
  }
}

std::string InetToText(const char* data, int32_t size) {
  if (size < 4) throw DecodeError("inet value has " + std::to_string(size) + " bytes");
  auto family = static_cast<uint8_t>(data[0]);
  int bits = static_cast<uint8_t>(data[1]);
  bool is_cidr = data[2] != 0;
  int nb = static_cast<uint8_t>(data[3]);
  int max_bits = family == kPgAfInet ? 32 : 128;
  if ((family != kPgAfInet && family != kPgAfInet6) || nb != max_bits / 8 || size != 4 + nb ||
      bits > max_bits) {
    throw DecodeError("inet value has an invalid header");
  }
  char text[INET6_ADDRSTRLEN + 8];
  if (inet_ntop(family == kPgAfInet ? AF_INET : AF_INET6, data + 4, text, sizeof(text)) ==
      nullptr) {
    throw DecodeError("inet value could not be formatted");
  }
  std::string out(text);
  // inet_out omits a full-length mask; cidr_out always shows it.
  if (is_cidr || bits != max_bits) out += "/" + std::to_string(bits);
  return out;
}

std::string MacToText(const char* data, int32_t size, int32_t bytes) {
  ExpectSize(size, bytes, bytes == 6 ? "macaddr" : "macaddr8");
  std::string out;
  char buf[4];
  for (int i = 0; i < bytes; ++i) {
    std::snprintf(buf, sizeof(buf), i == 0 ? "%02x" : ":%02x", static_cast<uint8_t>(data[i]));
    out += buf;
  }
  return out;
}

std::string BitsToText(const char* data, int32_t size) {
  if (size < 4) throw DecodeError("bit value has " + std::to_string(size) + " bytes");
  int32_t bits = LoadI32(data);
  if (bits < 0 || size != 4 + (bits + 7) / 8) throw DecodeError("bit value has an invalid length");
  std::string out(static_cast<size_t>(bits), '0');
  for (int32_t i = 0; i < bits; ++i) {
    if ((static_cast<uint8_t>(data[4 + i / 8]) >> (7 - i % 8)) & 1) out[i] = '1';
  }
  return out;
}

std::string PgLsnToText(const char* data, int32_t size) {
  ExpectSize(size, 8, "pg_lsn");
  uint64_t lsn = LoadU64(data);
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%X/%X", static_cast<uint32_t>(lsn >> 32),
                static_cast<uint32_t>(lsn));
  return buf;
}

}  // namespace dbpool::pg
