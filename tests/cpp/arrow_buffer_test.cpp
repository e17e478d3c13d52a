// Tests for Buffer: 64-byte alignment, doubling growth, content kept across growth, release.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "arrow/buffer.hpp"

namespace dbpool::arrow {
namespace {

bool Aligned64(const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }

TEST(ArrowBuffer, StartsEmptyWithoutAllocation) {
  Buffer buffer;
  EXPECT_EQ(buffer.data(), nullptr);
  EXPECT_EQ(buffer.size(), 0);
  EXPECT_EQ(buffer.capacity(), 0);
  // Appending nothing (an empty string) must not allocate nor touch a null pointer.
  buffer.Append(nullptr, 0);
  EXPECT_EQ(buffer.data(), nullptr);
  EXPECT_EQ(buffer.size(), 0);
}

TEST(ArrowBuffer, GrowsByDoublingAndStaysAligned) {
  Buffer buffer;
  std::vector<int64_t> capacities;
  for (int64_t i = 0; i < 10000; ++i) {
    buffer.Append(&i, sizeof(i));
    ASSERT_TRUE(Aligned64(buffer.data()));
    if (capacities.empty() || capacities.back() != buffer.capacity()) {
      capacities.push_back(buffer.capacity());
    }
  }
  ASSERT_GE(capacities.size(), 2u);
  EXPECT_EQ(capacities.front(), 64);
  for (size_t i = 1; i < capacities.size(); ++i) {
    EXPECT_EQ(capacities[i], capacities[i - 1] * 2) << "step " << i;
  }
  EXPECT_EQ(buffer.size(), 10000 * 8);
  // Contents survive every reallocation.
  const auto* values = reinterpret_cast<const int64_t*>(buffer.data());
  for (int64_t i = 0; i < 10000; ++i) ASSERT_EQ(values[i], i);
}

TEST(ArrowBuffer, LargeReserveJumpsDirectlyAndRoundsTo64) {
  Buffer buffer;
  buffer.Reserve(1000);
  EXPECT_GE(buffer.capacity(), 1000);
  EXPECT_EQ(buffer.capacity() % 64, 0);
  EXPECT_TRUE(Aligned64(buffer.data()));
  EXPECT_EQ(buffer.size(), 0);
  int64_t before = buffer.capacity();
  buffer.Reserve(before);  // fits exactly: no growth
  EXPECT_EQ(buffer.capacity(), before);
}

TEST(ArrowBuffer, AppendZerosResizeAndReserveTail) {
  Buffer buffer;
  uint8_t x = 7;
  buffer.Append(&x, 1);
  buffer.AppendZeros(100);
  ASSERT_EQ(buffer.size(), 101);
  EXPECT_EQ(buffer.data()[0], 7);
  for (int i = 1; i < 101; ++i) ASSERT_EQ(buffer.data()[i], 0);

  buffer.Resize(3);
  EXPECT_EQ(buffer.size(), 3);
  buffer.data()[1] = 0xAB;
  buffer.Resize(10);  // grows with zeros
  EXPECT_EQ(buffer.size(), 10);
  EXPECT_EQ(buffer.data()[1], 0xAB);
  for (int i = 3; i < 10; ++i) EXPECT_EQ(buffer.data()[i], 0);

  auto* tail = static_cast<char*>(buffer.ReserveTail(5));
  EXPECT_EQ(buffer.size(), 10);
  std::memcpy(tail, "hello", 5);
  buffer.Grow(5);
  EXPECT_EQ(buffer.size(), 15);
  EXPECT_EQ(std::memcmp(buffer.data() + 10, "hello", 5), 0);
}

TEST(ArrowBuffer, ReleaseHandsOverMemory) {
  Buffer buffer;
  buffer.Append("abc", 3);
  uint8_t* memory = buffer.Release();
  ASSERT_NE(memory, nullptr);
  EXPECT_EQ(std::memcmp(memory, "abc", 3), 0);
  EXPECT_EQ(buffer.data(), nullptr);
  EXPECT_EQ(buffer.size(), 0);
  EXPECT_EQ(buffer.capacity(), 0);
  Buffer::Free(memory);
  Buffer::Free(nullptr);  // harmless
  // The buffer is reusable after Release.
  buffer.Append("de", 2);
  EXPECT_EQ(buffer.size(), 2);
}

TEST(ArrowBuffer, MoveTransfersOwnership) {
  Buffer a;
  a.Append("xyz", 3);
  const uint8_t* memory = a.data();
  Buffer b(std::move(a));
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(a.size(), 0);
  EXPECT_EQ(b.data(), memory);
  EXPECT_EQ(b.size(), 3);

  Buffer c;
  c.Append("old", 3);  // freed by the assignment (checked by valgrind/ASan)
  c = std::move(b);
  EXPECT_EQ(c.data(), memory);
  EXPECT_EQ(b.data(), nullptr);
  c = std::move(c);  // self-move keeps the data
  EXPECT_EQ(c.data(), memory);
}

}  // namespace
}  // namespace dbpool::arrow

namespace dbpool::arrow {
namespace {

// Big buffers are mappings grown with mremap: the contents survive every growth, the data
// stays 64-byte aligned, and released memory is freed with Buffer::Free either way.
TEST(ArrowBufferMapped, GrowsPastTheMapThresholdKeepingContentsAndAlignment) {
  Buffer buffer;
  int64_t written = 0;
  for (int64_t i = 0; i < (int64_t{6} << 20) / 8; ++i) {  // 6 MB of int64s
    buffer.Append(&i, sizeof(i));
    written += 8;
    if ((i & 0xFFFF) == 0) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.data()) % 64, 0u);
      EXPECT_GE(buffer.capacity(), buffer.size());
      EXPECT_EQ(buffer.capacity() % 64, 0);
    }
  }
  ASSERT_EQ(buffer.size(), written);
  for (int64_t i = 0; i < written / 8; i += 4099) {
    int64_t v;
    std::memcpy(&v, buffer.data() + i * 8, 8);
    ASSERT_EQ(v, i);
  }
  Buffer moved = std::move(buffer);
  uint8_t* memory = moved.Release();
  EXPECT_EQ(memory[8], 1);
  Buffer::Free(memory);
  // Reserving a big size at once, then small buffers: both kinds coexist.
  Buffer big;
  big.Reserve(int64_t{1} << 20);
  Buffer small;
  small.Append("x", 1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.data()) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.data()) % 64, 0u);
  Buffer::Free(nullptr);
}

}  // namespace
}  // namespace dbpool::arrow
