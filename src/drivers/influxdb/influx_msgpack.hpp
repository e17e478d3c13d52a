// A MessagePack reader over a byte range, for InfluxDB's /query responses
// (Accept: application/x-msgpack): bounds-checked, throws Incomplete when the bytes end
// before the value does, so a streamed response can be retried when more bytes arrive.
#pragma once

#include <cstdint>
#include <string_view>

namespace dbpool::influxdb {

/// The kinds of MessagePack values (ext types are read and skipped as kExt).
enum class MsgKind { kNil, kBool, kInt, kUInt, kFloat, kString, kBinary, kArray, kMap, kExt };

/// One decoded scalar or container header.
struct MsgValue {
  MsgKind kind = MsgKind::kNil;
  bool b = false;
  int64_t i = 0;    ///< kInt (negative or fitting int64)
  uint64_t u = 0;   ///< kUInt (positive integers); also the element count of kArray / kMap
  double f = 0;     ///< kFloat (float32 widened)
  std::string_view s;  ///< kString / kBinary / kExt payload (points into the input)
};

/// Thrown when the input ends inside a value: wait for more bytes and start again.
struct Incomplete {};

/// Reads values one by one from [data, data + size).
class MsgReader {
 public:
  MsgReader(const char* data, size_t size) : p_(data), end_(data + size), begin_(data) {}

  /// Reads the next value; containers give their header only (count in `u`).
  MsgValue Next();
  /// Skips the next value, containers included.
  void Skip();
  /// Reads a string (throws DbError naming `what` if the next value is not one).
  std::string_view String(const char* what);
  /// Reads an array or map header and returns the element count (or throws naming `what`).
  uint64_t ArrayHeader(const char* what);
  uint64_t MapHeader(const char* what);

  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  /// Moves to `offset` bytes from the start (an offset() seen earlier).
  void Seek(size_t offset) { p_ = begin_ + offset; }
  bool at_end() const { return p_ == end_; }

 private:
  const unsigned char* Take(size_t n);
  template <typename T>
  T Big();

  const char* p_;
  const char* end_;
  const char* begin_;
};

}  // namespace dbpool::influxdb
