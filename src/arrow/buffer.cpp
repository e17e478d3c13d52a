// Buffer: the out-of-line (slow path) part of the growable 64-byte aligned byte buffer.
#include "arrow/buffer.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <new>
#include <utility>

namespace dbpool::arrow {
namespace {

// Arrow recommends 64-byte alignment (one cache line, AVX-512 loads); capacities are kept a
// multiple of it so SIMD consumers may read the padding past size() safely.
constexpr int64_t kAlignment = 64;

int64_t RoundUpToAlignment(int64_t n) { return (n + kAlignment - 1) & ~(kAlignment - 1); }

// Every allocation starts with one 64-byte header (so the data stays 64-byte aligned) that
// says how it was made. Big buffers are their own mappings: they grow with mremap, which
// moves page tables instead of copying (so the old and the new buffer are never both
// resident), and freeing one returns its pages at once (heap memory freed in the middle
// of the heap stays resident, and a result of many batches would fragment it).
constexpr int64_t kHeaderBytes = kAlignment;
constexpr int64_t kMapThreshold = int64_t{256} << 10;
constexpr uint64_t kHeapMagic = 0x6462706f6f6c4850;  // "dbpoolHP"
constexpr uint64_t kMapMagic = 0x6462706f6f6c4d50;   // "dbpoolMP"

struct Header {
  uint64_t magic;
  uint64_t map_bytes;  // the whole mapping, header included (kMapMagic only)
};

int64_t PageSize() {
  static const int64_t size = sysconf(_SC_PAGESIZE);
  return size;
}

int64_t MapBytes(int64_t capacity) {
  const int64_t page = PageSize();
  return (capacity + kHeaderBytes + page - 1) / page * page;
}

Header* HeaderOf(void* data) {
  return reinterpret_cast<Header*>(static_cast<uint8_t*>(data) - kHeaderBytes);
}

uint8_t* DataOf(void* base) { return static_cast<uint8_t*>(base) + kHeaderBytes; }

uint8_t* AllocateAligned(int64_t capacity) {
  if (capacity >= kMapThreshold) {
    const int64_t bytes = MapBytes(capacity);
    void* base = mmap(nullptr, static_cast<size_t>(bytes), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) throw std::bad_alloc();
    auto* header = static_cast<Header*>(base);
    header->magic = kMapMagic;
    header->map_bytes = static_cast<uint64_t>(bytes);
    return DataOf(base);
  }
  void* base = nullptr;
  if (posix_memalign(&base, kAlignment, static_cast<size_t>(capacity + kHeaderBytes)) != 0) {
    throw std::bad_alloc();
  }
  static_cast<Header*>(base)->magic = kHeapMagic;
  return DataOf(base);
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

void Buffer::Free(void* memory) {
  if (memory == nullptr) return;
  Header* header = HeaderOf(memory);
  if (header->magic == kMapMagic) {
    munmap(header, static_cast<size_t>(header->map_bytes));
  } else {
    std::free(header);
  }
}

void Buffer::GrowCapacity(int64_t min_capacity) {
  // Doubling keeps appends amortised O(1).
  int64_t new_capacity = capacity_ == 0 ? kAlignment : capacity_ * 2;
  if (new_capacity < min_capacity) new_capacity = min_capacity;
  new_capacity = RoundUpToAlignment(new_capacity);
  if (data_ != nullptr && HeaderOf(data_)->magic == kMapMagic) {
    // Already a mapping: grown in place or moved by the kernel, never copied.
    Header* header = HeaderOf(data_);
    const int64_t bytes = MapBytes(new_capacity);
    void* base = mremap(header, static_cast<size_t>(header->map_bytes),
                        static_cast<size_t>(bytes), MREMAP_MAYMOVE);
    if (base == MAP_FAILED) throw std::bad_alloc();
    static_cast<Header*>(base)->map_bytes = static_cast<uint64_t>(bytes);
    data_ = DataOf(base);
    capacity_ = bytes - kHeaderBytes;
    return;
  }
  uint8_t* memory = AllocateAligned(new_capacity);
  if (size_ > 0) std::memcpy(memory, data_, static_cast<size_t>(size_));
  Free(data_);
  data_ = memory;
  capacity_ = HeaderOf(memory)->magic == kMapMagic
                  ? static_cast<int64_t>(HeaderOf(memory)->map_bytes) - kHeaderBytes
                  : new_capacity;
}

}  // namespace dbpool::arrow
