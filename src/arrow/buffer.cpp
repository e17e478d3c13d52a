// Buffer: the out-of-line (slow path) part of the growable 64-byte aligned byte buffer.
#include "arrow/buffer.hpp"

#include <cstdlib>
#include <new>
#include <utility>

namespace dbpool::arrow {
namespace {

// Arrow recommends 64-byte alignment (one cache line, AVX-512 loads); capacities are kept a
// multiple of it so SIMD consumers may read the padding past size() safely.
constexpr int64_t kAlignment = 64;

int64_t RoundUpToAlignment(int64_t n) { return (n + kAlignment - 1) & ~(kAlignment - 1); }

uint8_t* AllocateAligned(int64_t capacity) {
  void* memory = nullptr;
  if (posix_memalign(&memory, kAlignment, static_cast<size_t>(capacity)) != 0) {
    throw std::bad_alloc();
  }
  return static_cast<uint8_t*>(memory);
}

}  // namespace

Buffer::Buffer(Buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    Free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

Buffer::~Buffer() { Free(data_); }

void Buffer::AppendZeros(int64_t n) {
  if (n <= 0) return;  // memset on a never-allocated (null) buffer is UB even for 0 bytes
  Reserve(n);
  std::memset(data_ + size_, 0, static_cast<size_t>(n));
  size_ += n;
}

void Buffer::Resize(int64_t n) {
  if (n > size_) {
    AppendZeros(n - size_);
  } else {
    size_ = n;
  }
}

uint8_t* Buffer::Release() {
  uint8_t* memory = data_;
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
  return memory;
}

void Buffer::Free(void* memory) { std::free(memory); }

void Buffer::GrowCapacity(int64_t min_capacity) {
  // Doubling keeps appends amortised O(1); realloc is not used because it does not keep
  // the 64-byte alignment.
  int64_t new_capacity = capacity_ == 0 ? kAlignment : capacity_ * 2;
  if (new_capacity < min_capacity) new_capacity = min_capacity;
  new_capacity = RoundUpToAlignment(new_capacity);
  uint8_t* memory = AllocateAligned(new_capacity);
  if (size_ > 0) std::memcpy(memory, data_, static_cast<size_t>(size_));
  Free(data_);
  data_ = memory;
  capacity_ = new_capacity;
}

}  // namespace dbpool::arrow
