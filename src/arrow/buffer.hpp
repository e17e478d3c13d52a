// A growable, 64-byte aligned byte buffer whose memory can be handed to an Arrow array.
#pragma once

#include <cstdint>
#include <cstring>

namespace dbpool::arrow {

class Buffer {
 public:
  Buffer() = default;
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  int64_t size() const { return size_; }
  int64_t capacity() const { return capacity_; }

  /// Ensures capacity for `additional` more bytes beyond size().
  void Reserve(int64_t additional) {
    if (size_ + additional > capacity_) GrowCapacity(size_ + additional);
  }
  void Append(const void* bytes, int64_t n) {
    // memcpy with a null pointer is UB even for 0 bytes (empty strings on a new buffer);
    // for fixed-width appends n is a constant and the test folds away.
    if (n == 0) return;
    Reserve(n);
    std::memcpy(data_ + size_, bytes, n);
    size_ += n;
  }
  /// Appends `n` zero bytes.
  void AppendZeros(int64_t n);
  /// Returns a pointer to `n` writable bytes past the end (size unchanged).
  void* ReserveTail(int64_t n) {
    Reserve(n);
    return data_ + size_;
  }
  /// Adds `n` bytes (already written through ReserveTail) to the size.
  void Grow(int64_t n) { size_ += n; }
  void Resize(int64_t n);

  /// Gives up the memory (to be freed with Buffer::Free) and leaves the buffer empty.
  uint8_t* Release();
  static void Free(void* memory);

 private:
  void GrowCapacity(int64_t min_capacity);

  uint8_t* data_ = nullptr;
  int64_t size_ = 0;
  int64_t capacity_ = 0;
};

}  // namespace dbpool::arrow
