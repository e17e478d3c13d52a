// Tests for the column builders: layouts of the finished C Data arrays (bitmaps, offsets,
// decimal bytes, nesting), lazy validity, zero-length arrays and reuse after Finish.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "arrow/builder.hpp"
#include "arrow_test_util.hpp"
#include "dbpool/error.hpp"

namespace dbpool::arrow {
namespace {

using dbpool::testing::OwnedArray;

bool Bit(const void* bits, int64_t i) {
  return (static_cast<const uint8_t*>(bits)[i >> 3] >> (i & 7)) & 1;
}

template <typename T>
T At(const ArrowArray& a, int buffer, int64_t i) {
  T value;
  std::memcpy(&value, static_cast<const uint8_t*>(a.buffers[buffer]) + i * sizeof(T),
              sizeof(T));
  return value;
}

std::string StringAt(const ArrowArray& a, int64_t i) {
  int64_t begin = At<int64_t>(a, 1, i);
  int64_t end = At<int64_t>(a, 1, i + 1);
  return std::string(static_cast<const char*>(a.buffers[2]) + begin, end - begin);
}

TEST(ArrowBuilder, FixedWidthWithoutNullsHasNoBitmap) {
  Int64Builder b(DataType::Of(TypeId::kInt64));
  for (int64_t i = 0; i < 100; ++i) b.Append(i * 3);
  EXPECT_EQ(b.length(), 100);
  EXPECT_EQ(b.null_count(), 0);
  OwnedArray out;
  b.Finish(&out.a);
  EXPECT_EQ(out.a.length, 100);
  EXPECT_EQ(out.a.null_count, 0);
  EXPECT_EQ(out.a.offset, 0);
  EXPECT_EQ(out.a.n_buffers, 2);
  EXPECT_EQ(out.a.n_children, 0);
  EXPECT_EQ(out.a.buffers[0], nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(out.a.buffers[1]) % 64, 0u);
  for (int64_t i = 0; i < 100; ++i) ASSERT_EQ(At<int64_t>(out.a, 1, i), i * 3);
  EXPECT_EQ(b.length(), 0);  // reset for the next batch
}

TEST(ArrowBuilder, FirstNullBackfillsValidBits) {
  Int32Builder b(DataType::Of(TypeId::kInt32));
  for (int i = 0; i < 11; ++i) b.Append(i);  // 11 valid rows: spans a byte boundary
  EXPECT_EQ(b.memory_bytes(), 11 * 4 + 0) << "no bitmap before the first null";
  b.AppendNull();
  b.Append(42);
  b.AppendNull();
  OwnedArray out;
  b.Finish(&out.a);
  ASSERT_EQ(out.a.length, 14);
  EXPECT_EQ(out.a.null_count, 2);
  ASSERT_NE(out.a.buffers[0], nullptr);
  for (int i = 0; i < 11; ++i) EXPECT_TRUE(Bit(out.a.buffers[0], i)) << i;
  EXPECT_FALSE(Bit(out.a.buffers[0], 11));
  EXPECT_TRUE(Bit(out.a.buffers[0], 12));
  EXPECT_FALSE(Bit(out.a.buffers[0], 13));
  EXPECT_EQ(At<int32_t>(out.a, 1, 10), 10);
  EXPECT_EQ(At<int32_t>(out.a, 1, 11), 0);  // null slots are zeroed, not garbage
  EXPECT_EQ(At<int32_t>(out.a, 1, 12), 42);
}

TEST(ArrowBuilder, NullAtEveryBitPosition) {
  for (int first_valid = 0; first_valid < 17; ++first_valid) {
    Float64Builder b(DataType::Of(TypeId::kFloat64));
    for (int i = 0; i < first_valid; ++i) b.Append(i + 0.5);
    b.AppendNull();
    OwnedArray out;
    b.Finish(&out.a);
    ASSERT_EQ(out.a.length, first_valid + 1);
    for (int i = 0; i < first_valid; ++i) ASSERT_TRUE(Bit(out.a.buffers[0], i));
    ASSERT_FALSE(Bit(out.a.buffers[0], first_valid));
    // Padding bits up to the byte end are zero (no stray 1s from the backfill).
    for (int i = first_valid + 1; i % 8 != 0; ++i) ASSERT_FALSE(Bit(out.a.buffers[0], i));
  }
}

TEST(ArrowBuilder, BooleanIsBitPacked) {
  BooleanBuilder b(DataType::Of(TypeId::kBoolean));
  const bool pattern[] = {true, false, true, true, false, false, true, false, true, true};
  for (bool v : pattern) b.Append(v);
  b.AppendNull();
  b.Append(true);
  OwnedArray out;
  b.Finish(&out.a);
  ASSERT_EQ(out.a.length, 12);
  EXPECT_EQ(out.a.null_count, 1);
  EXPECT_EQ(out.a.n_buffers, 2);
  // Bits 0..7 of the first byte, LSB first: 1,0,1,1,0,0,1,0 = 0b01001101.
  EXPECT_EQ(static_cast<const uint8_t*>(out.a.buffers[1])[0], 0x4D);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Bit(out.a.buffers[1], i), pattern[i]) << i;
  EXPECT_FALSE(Bit(out.a.buffers[1], 10));
  EXPECT_TRUE(Bit(out.a.buffers[1], 11));
  EXPECT_FALSE(Bit(out.a.buffers[0], 10));
  EXPECT_TRUE(Bit(out.a.buffers[0], 11));
}

TEST(ArrowBuilder, StringOffsetsAndData) {
  VarBinaryBuilder b(DataType::Of(TypeId::kString));
  b.Append("hello");
  b.Append("");
  b.AppendNull();
  char* tail = b.ReserveValue(16);
  std::memcpy(tail, "wörld", 6);  // only 6 of the 16 reserved bytes used
  b.CommitValue(6);
  OwnedArray out;
  b.Finish(&out.a);
  ASSERT_EQ(out.a.length, 4);
  EXPECT_EQ(out.a.null_count, 1);
  ASSERT_EQ(out.a.n_buffers, 3);
  const int64_t expected_offsets[] = {0, 5, 5, 5, 11};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(At<int64_t>(out.a, 1, i), expected_offsets[i]);
  EXPECT_EQ(StringAt(out.a, 0), "hello");
  EXPECT_EQ(StringAt(out.a, 1), "");
  EXPECT_EQ(StringAt(out.a, 3), "wörld");
  EXPECT_TRUE(Bit(out.a.buffers[0], 1));
  EXPECT_FALSE(Bit(out.a.buffers[0], 2));
}

TEST(ArrowBuilder, ZeroLengthArraysHaveRealBuffers) {
  for (TypeId id : {TypeId::kString, TypeId::kBinary}) {
    VarBinaryBuilder b(DataType::Of(id));
    OwnedArray out;
    b.Finish(&out.a);
    EXPECT_EQ(out.a.length, 0);
    ASSERT_NE(out.a.buffers[1], nullptr);
    EXPECT_EQ(At<int64_t>(out.a, 1, 0), 0);
    EXPECT_NE(out.a.buffers[2], nullptr);
  }
  Int16Builder ints(DataType::Of(TypeId::kInt16));
  OwnedArray ints_out;
  ints.Finish(&ints_out.a);
  EXPECT_NE(ints_out.a.buffers[1], nullptr);
  BooleanBuilder bools(DataType::Of(TypeId::kBoolean));
  OwnedArray bools_out;
  bools.Finish(&bools_out.a);
  EXPECT_NE(bools_out.a.buffers[1], nullptr);
  ListBuilder list(DataType::List(Field{"", DataType::Of(TypeId::kInt8)}));
  OwnedArray list_out;
  list.Finish(&list_out.a);
  ASSERT_NE(list_out.a.buffers[1], nullptr);
  EXPECT_EQ(At<int64_t>(list_out.a, 1, 0), 0);
  EXPECT_EQ(list_out.a.children[0]->length, 0);
}

TEST(ArrowBuilder, DecimalIsLittleEndianTwosComplement) {
  Decimal128Builder b(DataType::Decimal(38, 2));
  b.Append(12345);  // 123.45
  b.Append(-1);
  __int128 big = 1;
  for (int i = 0; i < 30; ++i) big *= 10;  // 10^30 needs more than 64 bits
  b.Append(-big);
  b.AppendNull();
  OwnedArray out;
  b.Finish(&out.a);
  ASSERT_EQ(out.a.length, 4);
  const auto* bytes = static_cast<const uint8_t*>(out.a.buffers[1]);
  EXPECT_EQ(bytes[0], 0x39);  // 12345 = 0x3039
  EXPECT_EQ(bytes[1], 0x30);
  for (int i = 2; i < 16; ++i) EXPECT_EQ(bytes[i], 0) << i;
  for (int i = 16; i < 32; ++i) EXPECT_EQ(bytes[i], 0xFF) << i;
  uint64_t lo = 0;
  int64_t hi = 0;
  std::memcpy(&lo, bytes + 32, 8);
  std::memcpy(&hi, bytes + 40, 8);
  __int128 back = (static_cast<__int128>(hi) << 64) | lo;
  EXPECT_TRUE(back == -big);
  EXPECT_LT(hi, 0);
  for (int i = 48; i < 64; ++i) EXPECT_EQ(bytes[i], 0);
}

TEST(ArrowBuilder, ListOfIntegersWithNullsAndEmptyLists) {
  ListBuilder b(DataType::List(Field{"", DataType::Of(TypeId::kInt64)}));
  auto& values = b.values_as<Int64Builder>();
  values.Append(1);
  values.Append(2);
  b.CloseList();  // [1, 2]
  b.CloseList();  // []
  b.AppendNull();  // null
  values.Append(3);
  values.AppendNull();
  b.CloseList();  // [3, null]
  OwnedArray out;
  b.Finish(&out.a);
  ASSERT_EQ(out.a.length, 4);
  EXPECT_EQ(out.a.null_count, 1);
  ASSERT_EQ(out.a.n_buffers, 2);
  ASSERT_EQ(out.a.n_children, 1);
  const int64_t offsets[] = {0, 2, 2, 2, 4};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(At<int64_t>(out.a, 1, i), offsets[i]);
  EXPECT_FALSE(Bit(out.a.buffers[0], 2));
  const ArrowArray& child = *out.a.children[0];
  ASSERT_EQ(child.length, 4);
  EXPECT_EQ(child.null_count, 1);
  EXPECT_EQ(At<int64_t>(child, 1, 2), 3);
  EXPECT_FALSE(Bit(child.buffers[0], 3));
}

TEST(ArrowBuilder, ListRejectsUnclosedElements) {
  ListBuilder b(DataType::List(Field{"", DataType::Of(TypeId::kInt32)}));
  b.values_as<Int32Builder>().Append(1);
  OwnedArray out;
  EXPECT_THROW(b.Finish(&out.a), DbError);
}

TEST(ArrowBuilder, StructChildrenAndNullStruct) {
  StructBuilder b(DataType::Struct({Field{"id", DataType::Of(TypeId::kInt32)},
                                    Field{"name", DataType::Of(TypeId::kString)}}));
  ASSERT_EQ(b.num_children(), 2u);
  b.child_as<Int32Builder>(0).Append(7);
  b.child_as<VarBinaryBuilder>(1).Append("seven");
  b.Append();
  b.AppendNull();
  b.child_as<Int32Builder>(0).AppendNull();
  b.child_as<VarBinaryBuilder>(1).Append("x");
  b.Append();
  OwnedArray out;
  b.Finish(&out.a);
  ASSERT_EQ(out.a.length, 3);
  EXPECT_EQ(out.a.null_count, 1);
  EXPECT_EQ(out.a.n_buffers, 1);
  ASSERT_EQ(out.a.n_children, 2);
  EXPECT_FALSE(Bit(out.a.buffers[0], 1));
  EXPECT_TRUE(Bit(out.a.buffers[0], 2));
  const ArrowArray& ids = *out.a.children[0];
  const ArrowArray& names = *out.a.children[1];
  EXPECT_EQ(ids.length, 3);
  EXPECT_EQ(ids.null_count, 2);  // under the null struct, and the explicit null
  EXPECT_EQ(At<int32_t>(ids, 1, 0), 7);
  EXPECT_EQ(names.length, 3);
  EXPECT_EQ(StringAt(names, 0), "seven");
  EXPECT_EQ(StringAt(names, 2), "x");
}

TEST(ArrowBuilder, StructRejectsChildLengthMismatch) {
  StructBuilder b(DataType::Struct({Field{"a", DataType::Of(TypeId::kInt32)}}));
  b.Append();  // no child value
  OwnedArray out;
  EXPECT_THROW(b.Finish(&out.a), DbError);
}

TEST(ArrowBuilder, NullTypeHasNoBuffers) {
  auto b = MakeBuilder(DataType::Of(TypeId::kNull));
  b->AppendNull();
  b->AppendNull();
  OwnedArray out;
  b->Finish(&out.a);
  EXPECT_EQ(out.a.length, 2);
  EXPECT_EQ(out.a.null_count, 2);
  EXPECT_EQ(out.a.n_buffers, 0);
}

TEST(ArrowBuilder, MakeBuilderCoversEveryType) {
  const DataType types[] = {
      DataType::Of(TypeId::kNull),    DataType::Of(TypeId::kBoolean),
      DataType::Of(TypeId::kInt8),    DataType::Of(TypeId::kInt16),
      DataType::Of(TypeId::kInt32),   DataType::Of(TypeId::kInt64),
      DataType::Of(TypeId::kUInt8),   DataType::Of(TypeId::kUInt16),
      DataType::Of(TypeId::kUInt32),  DataType::Of(TypeId::kUInt64),
      DataType::Of(TypeId::kFloat32), DataType::Of(TypeId::kFloat64),
      DataType::Decimal(9, 2),        DataType::Of(TypeId::kString),
      DataType::Of(TypeId::kBinary),  DataType::Of(TypeId::kDate32),
      DataType::Time(TimeUnit::kNano), DataType::Timestamp(TimeUnit::kMicro, "UTC"),
      DataType::Duration(TimeUnit::kMicro),
      DataType::List(Field{"", DataType::Struct({Field{"s", DataType::Of(TypeId::kString)}})}),
      DataType::Struct({Field{"l", DataType::List(Field{"", DataType::Of(TypeId::kInt8)})}}),
  };
  const int64_t buffers[] = {0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 2, 2, 2, 2, 2, 1};
  for (size_t i = 0; i < std::size(types); ++i) {
    auto b = MakeBuilder(types[i]);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->type(), types[i]);
    b->AppendNull();
    OwnedArray out;
    b->Finish(&out.a);
    EXPECT_EQ(out.a.length, 1) << types[i].ToString();
    EXPECT_EQ(out.a.null_count, 1) << types[i].ToString();
    EXPECT_EQ(out.a.n_buffers, buffers[i]) << types[i].ToString();
    EXPECT_EQ(out.a.n_children, static_cast<int64_t>(types[i].children.size()));
  }
  EXPECT_NE(dynamic_cast<Decimal128Builder*>(MakeBuilder(DataType::Decimal(9, 2)).get()),
            nullptr);
  EXPECT_NE(dynamic_cast<TemporalBuilder*>(
                MakeBuilder(DataType::Timestamp(TimeUnit::kNano, "")).get()),
            nullptr);
  EXPECT_NE(dynamic_cast<Date32Builder*>(MakeBuilder(DataType::Of(TypeId::kDate32)).get()),
            nullptr);
}

TEST(ArrowBuilder, FinishResetsForAnIndependentNextArray) {
  VarBinaryBuilder b(DataType::Of(TypeId::kString));
  b.Append("first");
  b.AppendNull();
  OwnedArray first;
  b.Finish(&first.a);
  EXPECT_EQ(b.length(), 0);
  EXPECT_EQ(b.null_count(), 0);
  EXPECT_EQ(b.memory_bytes(), 8);  // just the leading 0 offset
  b.Append("second");
  OwnedArray second;
  b.Finish(&second.a);
  // The second array starts at offset 0 and has no bitmap; the first is untouched.
  ASSERT_EQ(second.a.length, 1);
  EXPECT_EQ(second.a.null_count, 0);
  EXPECT_EQ(second.a.buffers[0], nullptr);
  EXPECT_EQ(At<int64_t>(second.a, 1, 0), 0);
  EXPECT_EQ(StringAt(second.a, 0), "second");
  EXPECT_EQ(StringAt(first.a, 0), "first");
  EXPECT_NE(first.a.buffers[2], second.a.buffers[2]);
}

}  // namespace
}  // namespace dbpool::arrow
