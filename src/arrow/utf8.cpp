// IsValidUtf8: an ASCII fast path (8 bytes per step) plus a byte-range check of multibyte
// sequences following Unicode table 3-7; IsAscii: a whole-buffer pre-check.
#include "arrow/utf8.hpp"

#include <cstdint>
#include <cstring>

namespace dbpool::arrow {
namespace {

constexpr uint64_t kHighBits = 0x8080808080808080ULL;

bool InRange(uint8_t byte, uint8_t lo, uint8_t hi) { return byte >= lo && byte <= hi; }

bool IsContinuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

// Checks the sequence starting at s[0] (a non-ASCII lead byte) and returns its length, or 0
// when it is malformed. The second byte's range depends on the lead byte: that is what
// rules out overlongs (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and > U+10FFFF
// (F4 90..BF, F5..FF).
size_t SequenceLength(const uint8_t* s, size_t available) {
  uint8_t lead = s[0];
  size_t length;
  uint8_t lo = 0x80;
  uint8_t hi = 0xBF;
  if (InRange(lead, 0xC2, 0xDF)) {
    length = 2;
  } else if (InRange(lead, 0xE0, 0xEF)) {
    length = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (InRange(lead, 0xF0, 0xF4)) {
    length = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return 0;  // 80..BF (stray continuation), C0/C1 (overlong ASCII), F5..FF
  }
  if (available < length) return 0;
  if (!InRange(s[1], lo, hi)) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (!IsContinuation(s[i])) return 0;
  }
  return length;
}

}  // namespace

bool IsAscii(const char* data, size_t size) {
  const auto* s = reinterpret_cast<const uint8_t*>(data);
  size_t i = 0;
  // OR 32 bytes into 4 independent words per step: the compiler turns this into SIMD.
  uint64_t acc[4] = {0, 0, 0, 0};
  for (; i + 32 <= size; i += 32) {
    for (int k = 0; k < 4; ++k) {
      uint64_t word;
      std::memcpy(&word, s + i + 8 * k, sizeof(word));
      acc[k] |= word;
    }
  }
  uint64_t all = acc[0] | acc[1] | acc[2] | acc[3];
  for (; i < size; ++i) all |= s[i];
  return (all & kHighBits) == 0;
}

bool IsValidUtf8(const char* data, size_t size) {
  const auto* s = reinterpret_cast<const uint8_t*>(data);
  size_t i = 0;
  while (i < size) {
    // Database text is mostly ASCII: skip it a word at a time (memcpy = unaligned load).
    while (i + 8 <= size) {
      uint64_t word;
      std::memcpy(&word, s + i, sizeof(word));
      if ((word & kHighBits) != 0) break;
      i += 8;
    }
    if (i >= size) break;
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    size_t length = SequenceLength(s + i, size - i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

}  // namespace dbpool::arrow
