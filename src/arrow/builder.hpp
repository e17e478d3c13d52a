// Column builders: append values row by row into Arrow buffers, then hand the buffers over
// as Arrow C Data arrays without copying. One builder class per physical layout.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "arrow/buffer.hpp"
#include "dbpool/arrow_c.hpp"
#include "dbpool/arrow_types.hpp"
#include "dbpool/result.hpp"

namespace dbpool::arrow {

/// Base of all builders. Validity bitmaps are allocated only once a null is appended.
class ArrayBuilder {
 public:
  explicit ArrayBuilder(DataType type) : type_(std::move(type)) {}
  virtual ~ArrayBuilder() = default;
  ArrayBuilder(const ArrayBuilder&) = delete;
  ArrayBuilder& operator=(const ArrayBuilder&) = delete;

  const DataType& type() const { return type_; }
  int64_t length() const { return length_; }
  int64_t null_count() const { return null_count_; }

  virtual void AppendNull() = 0;
  /// Makes room for `additional` more values (a hint; appends grow buffers anyway).
  virtual void Reserve(int64_t additional) = 0;
  /// Moves the built values into `out`, an array that owns its buffers, and resets the
  /// builder to empty (same type) so it can build the next batch.
  virtual void Finish(ArrowArray* out) = 0;
  /// Bytes held by the builder's buffers (used to bound batch sizes).
  virtual int64_t memory_bytes() const = 0;

 protected:
  /// Marks the next slot valid / null in the bitmap and advances length_.
  void MarkValid();
  void MarkNull();
  /// Gives up the bitmap (nullptr when no null was appended) and resets length/null count.
  Buffer TakeValidity();
  /// Appends bit `index` (== bits written so far) to an LSB-first Arrow bitmap.
  static void AppendBit(Buffer& bits, int64_t index, bool value) {
    if ((index & 7) == 0) {
      uint8_t zero = 0;
      bits.Append(&zero, 1);
    }
    if (value) bits.data()[index >> 3] |= static_cast<uint8_t>(1u << (index & 7));
  }
  /// Creates the bitmap on the first null, with 1 bits for the length_ rows before it.
  void AllocateValidity();

  DataType type_;
  int64_t length_ = 0;
  int64_t null_count_ = 0;
  Buffer validity_;
};

// Inline because every appended value goes through one of these: with no null so far the
// bitmap does not exist and marking a value valid is a single compare.
inline void ArrayBuilder::MarkValid() {
  if (null_count_ != 0) AppendBit(validity_, length_, true);
  ++length_;
}

inline void ArrayBuilder::MarkNull() {
  if (null_count_ == 0) AllocateValidity();
  AppendBit(validity_, length_, false);
  ++null_count_;
  ++length_;
}

/// Fixed-width values: integers, floats, Date32 (int32 days), Time64/Timestamp/Duration
/// (int64 ticks).
template <typename T>
class FixedWidthBuilder final : public ArrayBuilder {
 public:
  using ArrayBuilder::ArrayBuilder;
  void Append(T value) {
    values_.Append(&value, sizeof(T));
    MarkValid();
  }
  void AppendNull() override {
    T zero{};
    values_.Append(&zero, sizeof(T));
    MarkNull();
  }
  void Reserve(int64_t additional) override { values_.Reserve(additional * sizeof(T)); }
  void Finish(ArrowArray* out) override;
  int64_t memory_bytes() const override { return values_.size() + validity_.size(); }

 private:
  Buffer values_;
};

using Int8Builder = FixedWidthBuilder<int8_t>;
using Int16Builder = FixedWidthBuilder<int16_t>;
using Int32Builder = FixedWidthBuilder<int32_t>;
using Int64Builder = FixedWidthBuilder<int64_t>;
using UInt8Builder = FixedWidthBuilder<uint8_t>;
using UInt16Builder = FixedWidthBuilder<uint16_t>;
using UInt32Builder = FixedWidthBuilder<uint32_t>;
using UInt64Builder = FixedWidthBuilder<uint64_t>;
using Float32Builder = FixedWidthBuilder<float>;
using Float64Builder = FixedWidthBuilder<double>;
using Date32Builder = FixedWidthBuilder<int32_t>;     ///< days since epoch
using TemporalBuilder = FixedWidthBuilder<int64_t>;   ///< Time64, Timestamp, Duration ticks
using Decimal128Builder = FixedWidthBuilder<__int128>;  ///< unscaled value, little endian

/// Booleans packed as bits.
class BooleanBuilder final : public ArrayBuilder {
 public:
  using ArrayBuilder::ArrayBuilder;
  void Append(bool value);
  void AppendNull() override;
  void Reserve(int64_t additional) override;
  void Finish(ArrowArray* out) override;
  int64_t memory_bytes() const override { return bits_.size() + validity_.size(); }

 private:
  Buffer bits_;
};

inline void BooleanBuilder::Append(bool value) {
  AppendBit(bits_, length_, value);
  MarkValid();
}

/// String (UTF-8) and Binary with 64-bit offsets and one growing data buffer.
class VarBinaryBuilder final : public ArrayBuilder {
 public:
  explicit VarBinaryBuilder(DataType type);
  void Append(const void* data, size_t size) {
    data_.Append(data, size);
    AppendOffset();
  }
  void Append(std::string_view value) { Append(value.data(), value.size()); }
  /// Reserves `size` bytes at the end of the data buffer for the caller to fill, then
  /// call CommitValue(size_actually_written) to end the value.
  char* ReserveValue(size_t size) { return static_cast<char*>(data_.ReserveTail(size)); }
  void CommitValue(size_t size) {
    data_.Grow(size);
    AppendOffset();
  }
  void AppendNull() override;
  void Reserve(int64_t additional) override;
  void ReserveData(int64_t bytes) { data_.Reserve(bytes); }
  /// Index (within this batch) of the first value that is not well-formed UTF-8, or -1.
  /// One pass over the whole data buffer when it is all ASCII (the common case), so a
  /// driver can append text unchecked and validate once per batch.
  int64_t FindInvalidUtf8() const;
  void Finish(ArrowArray* out) override;
  int64_t memory_bytes() const override {
    return offsets_.size() + data_.size() + validity_.size();
  }

 private:
  void AppendOffset() {
    int64_t end = data_.size();
    offsets_.Append(&end, sizeof(end));
    MarkValid();
  }
  Buffer offsets_;
  Buffer data_;
};

/// List<T> (large_list): append the element values to values(), then call CloseList().
class ListBuilder final : public ArrayBuilder {
 public:
  explicit ListBuilder(DataType type);
  ArrayBuilder& values() { return *values_; }
  template <typename B>
  B& values_as() { return static_cast<B&>(*values_); }
  /// Ends one list value made of the elements appended to values() since the last one.
  void CloseList();
  void AppendNull() override;
  void Reserve(int64_t additional) override;
  void Finish(ArrowArray* out) override;
  int64_t memory_bytes() const override;

 private:
  Buffer offsets_;
  std::unique_ptr<ArrayBuilder> values_;
};

/// Struct: append one value to every child, then call Append() (or AppendNull(), which
/// also appends a null to each child).
class StructBuilder final : public ArrayBuilder {
 public:
  explicit StructBuilder(DataType type);
  ArrayBuilder& child(size_t i) { return *children_[i]; }
  template <typename B>
  B& child_as(size_t i) { return static_cast<B&>(*children_[i]); }
  size_t num_children() const { return children_.size(); }
  void Append() { MarkValid(); }
  void AppendNull() override;
  void Reserve(int64_t additional) override;
  void Finish(ArrowArray* out) override;
  int64_t memory_bytes() const override;

 private:
  std::vector<std::unique_ptr<ArrayBuilder>> children_;
};

/// Null type: only a length.
class NullBuilder final : public ArrayBuilder {
 public:
  using ArrayBuilder::ArrayBuilder;
  void AppendNull() override { ++length_; ++null_count_; }
  void Reserve(int64_t) override {}
  void Finish(ArrowArray* out) override;
  int64_t memory_bytes() const override { return 0; }
};

/// If `array` was made by a builder (its release is the builders' own), moves buffer
/// `index` out of it, so releasing the array no longer frees it, and returns it (free it
/// with Buffer::Free); nullptr for any other array.
void* DetachBuffer(ArrowArray* array, int index);

/// Fills `out` with an owning fixed-width array (as FixedWidthBuilder makes) of `length`
/// values that takes `validity` (nullptr: no nulls) and `values`, both memory of Buffer
/// (freed with Buffer::Free on release), e.g. from DetachBuffer.
void AdoptFixedWidth(int64_t length, int64_t null_count, void* validity, void* values,
                     ArrowArray* out);

/// Makes the builder for `type` (String/Binary -> VarBinaryBuilder, Decimal128 ->
/// Decimal128Builder, Date32 -> Date32Builder, ...).
std::unique_ptr<ArrayBuilder> MakeBuilder(const DataType& type);

/// Moves `rows` rows of `columns` (one builder per field of `schema`, each of that length)
/// into a batch and leaves the builders empty; for decoders that create their builders
/// themselves (InfluxDB learns column types from the values).
RecordBatch FinishBatch(const Schema& schema, std::vector<std::unique_ptr<ArrayBuilder>>& columns,
                        int64_t rows);

/// Builds record batches of a fixed schema, one builder per column.
class RecordBatchBuilder {
 public:
  explicit RecordBatchBuilder(Schema schema);

  const Schema& schema() const { return schema_; }
  size_t num_columns() const { return columns_.size(); }
  ArrayBuilder& column(size_t i) { return *columns_[i]; }
  template <typename B>
  B& column_as(size_t i) { return static_cast<B&>(*columns_[i]); }

  /// Rows appended so far in this batch (callers call EndRow() after each row; this also
  /// makes zero-column results keep their row count).
  int64_t num_rows() const { return rows_; }
  void EndRow() { ++rows_; }
  void Reserve(int64_t rows);
  int64_t memory_bytes() const;

  /// Moves the current rows into a batch (a struct array) and starts an empty one.
  RecordBatch Finish();

 private:
  Schema schema_;
  std::vector<std::unique_ptr<ArrayBuilder>> columns_;
  int64_t rows_ = 0;
};

}  // namespace dbpool::arrow
