// Shared by the tests: reading values out of exported Arrow C Data arrays (validity bits,
// fixed-width values, 64-bit offsets), and releasing them at scope exit.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "dbpool/arrow_types.hpp"
#include "dbpool/result.hpp"

namespace dbpool::testing {

/// Releases an exported array at scope exit, so a failing assertion leaks nothing.
struct OwnedArray {
  ArrowArray a{};
  OwnedArray() = default;
  OwnedArray(const OwnedArray&) = delete;
  OwnedArray& operator=(const OwnedArray&) = delete;
  ~OwnedArray() {
    if (a.release != nullptr) a.release(&a);
  }
};

/// Column `column` of batch `batch`.
inline const ArrowArray& Column(const QueryResult& result, size_t column, size_t batch = 0) {
  return *result.batches.at(batch).array().children[column];
}

inline bool Bit(const void* bits, int64_t i) {
  return ((static_cast<const uint8_t*>(bits)[i >> 3] >> (i & 7)) & 1) != 0;
}

inline bool IsNull(const ArrowArray& a, int64_t i) {
  if (a.n_buffers == 0) return true;  // the Null type has no buffers
  if (a.buffers[0] == nullptr) return false;
  return !Bit(a.buffers[0], a.offset + i);
}

/// A fixed-width value (int64, double, int32 days, __int128 decimal...).
template <typename T>
T At(const ArrowArray& a, int64_t i) {
  T v;
  std::memcpy(&v, static_cast<const uint8_t*>(a.buffers[1]) + (a.offset + i) * sizeof(T),
              sizeof(T));
  return v;
}

inline bool BoolValue(const ArrowArray& a, int64_t i) { return Bit(a.buffers[1], a.offset + i); }

/// String / Binary with 64-bit offsets.
inline std::string StringValue(const ArrowArray& a, int64_t i) {
  int64_t begin = At<int64_t>(a, i);
  int64_t end = At<int64_t>(a, i + 1);
  return std::string(static_cast<const char*>(a.buffers[2]) + begin,
                     static_cast<size_t>(end - begin));
}

/// Every value of a String/Binary column ("<null>" for nulls).
inline std::vector<std::string> Strings(const ArrowArray& a) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < a.length; ++i) out.push_back(IsNull(a, i) ? "<null>" : StringValue(a, i));
  return out;
}

/// The [begin, end) element range of list value i (64-bit offsets).
inline std::pair<int64_t, int64_t> ListRange(const ArrowArray& a, int64_t i) {
  return {At<int64_t>(a, i), At<int64_t>(a, i + 1)};
}

inline std::string Metadata(const arrow::Field& field, const std::string& key) {
  for (const auto& [k, v] : field.metadata) {
    if (k == key) return v;
  }
  return "";
}

inline std::string Int128ToString(__int128 v) {
  if (v == 0) return "0";
  bool negative = v < 0;
  std::string digits;
  while (v != 0) {
    int d = static_cast<int>(v % 10);
    digits.insert(digits.begin(), static_cast<char>('0' + (negative ? -d : d)));
    v /= 10;
  }
  return negative ? "-" + digits : digits;
}

}  // namespace dbpool::testing
