// Tests for the interval struct: which values fit Duration(us), and the in-place narrowing
// (values, validity, zero-length arrays, a foreign array refused).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "arrow/builder.hpp"
#include "arrow_test_util.hpp"
#include "arrow/interval.hpp"
#include "dbpool/error.hpp"

namespace dbpool::arrow {
namespace {

using dbpool::testing::OwnedArray;

void Append(StructBuilder& b, int32_t months, int32_t days, int64_t micros) {
  b.child_as<Int32Builder>(0).Append(months);
  b.child_as<Int32Builder>(1).Append(days);
  b.child_as<Int64Builder>(2).Append(micros);
  b.Append();
}

int64_t At(const ArrowArray& a, int64_t i) {
  int64_t v;
  std::memcpy(&v, static_cast<const uint8_t*>(a.buffers[1]) + i * 8, 8);
  return v;
}

TEST(IntervalTest, FirstNonDurationFindsMonthsAndOverflow) {
  StructBuilder b(IntervalStructType());
  Append(b, 0, 1, 5);
  b.AppendNull();
  Append(b, 0, -106751991, 0);
  Append(b, 2, 0, 0);
  OwnedArray arr;
  b.Finish(&arr.a);
  EXPECT_EQ(FirstNonDuration(arr.a), 3);

  Append(b, 0, 106751992, 0);  // one day past Duration's range
  Append(b, 0, 106751991, INT64_MAX);
  OwnedArray big;
  b.Finish(&big.a);
  EXPECT_EQ(FirstNonDuration(big.a), 0);

  Append(b, 0, 106751991, 0);
  Append(b, 0, -1, INT64_MIN + kIntervalDayMicros);
  OwnedArray edge;
  b.Finish(&edge.a);
  EXPECT_EQ(FirstNonDuration(edge.a), -1);
}

TEST(IntervalTest, NarrowToDurationFoldsDaysInPlaceAndKeepsNulls) {
  StructBuilder b(IntervalStructType());
  Append(b, 0, 1, 5);
  b.AppendNull();
  Append(b, 0, -3, 7);
  OwnedArray arr;
  b.Finish(&arr.a);
  const void* micros_buffer = arr.a.children[2]->buffers[1];
  NarrowToDuration(&arr.a);
  EXPECT_EQ(arr.a.n_children, 0);
  EXPECT_EQ(arr.a.n_buffers, 2);
  EXPECT_EQ(arr.a.length, 3);
  EXPECT_EQ(arr.a.null_count, 1);
  EXPECT_EQ(arr.a.buffers[1], micros_buffer);  // no copy
  EXPECT_EQ(At(arr.a, 0), kIntervalDayMicros + 5);
  EXPECT_EQ(At(arr.a, 2), -3 * kIntervalDayMicros + 7);
  auto bits = static_cast<const uint8_t*>(arr.a.buffers[0]);
  EXPECT_EQ(bits[0] & 7, 0b101);

  // No nulls: no bitmap; zero rows: still a values buffer.
  Append(b, 0, 0, 42);
  OwnedArray dense;
  b.Finish(&dense.a);
  NarrowToDuration(&dense.a);
  EXPECT_EQ(dense.a.buffers[0], nullptr);
  EXPECT_EQ(At(dense.a, 0), 42);
  OwnedArray empty;
  b.Finish(&empty.a);
  NarrowToDuration(&empty.a);
  EXPECT_EQ(empty.a.length, 0);
  EXPECT_NE(empty.a.buffers[1], nullptr);
}

TEST(IntervalTest, ArraysOfAnotherShapeAreRefused) {
  Int64Builder b(DataType::Of(TypeId::kInt64));
  b.Append(1);
  OwnedArray arr;
  b.Finish(&arr.a);
  EXPECT_THROW(FirstNonDuration(arr.a), DbError);
  EXPECT_THROW(NarrowToDuration(&arr.a), DbError);
}

}  // namespace
}  // namespace dbpool::arrow
